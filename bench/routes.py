"""The routes the benchmark drives; later features append theirs to APP_ROUTES."""
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    method: str = "GET"
    body: str = ""
    expect: int = 200
    authorization: Callable[[str], str] | None = None  # base URL -> Authorization header value


APP_ROUTES = [
    Route("GET /api/health", "/api/health"),
    Route("GET /api/health/ready", "/api/health/ready"),
    Route("GET /api/openapi.json", "/api/openapi.json"),
    Route("GET /api/nope (404 envelope)", "/api/nope", expect=404),
]

REFERENCE_HELLO = Route("reference: JSON hello", "/hello")
REFERENCE_SELECT = Route("reference: select 1", "/select1")
