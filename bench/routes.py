"""The routes the benchmark drives; later features append theirs to APP_ROUTES."""
import json
from dataclasses import dataclass
from typing import Callable

import requests

from casting.seeding import DEMO_PASSWORD

DEMO_LOGIN = {"identifier": "talent1@demo.casting.in", "password": DEMO_PASSWORD}
ADMIN_LOGIN = {"identifier": "admin1@demo.casting.in", "password": DEMO_PASSWORD}
DIRECTOR_LOGIN = {"identifier": "casting.director1@demo.casting.in", "password": DEMO_PASSWORD}


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    method: str = "GET"
    body: str = ""
    expect: int = 200
    authorization: Callable[[str], str] | None = None  # base URL -> Authorization header value
    vary: bool = False  # fill `{a}`/`{h}` in the body per request (see report.lua): defeats the cache
    cold: bool = False  # also time the very first request (before anything is cached)


def _bearer(base, login):
    response = requests.post(base + "/api/auth/login", json=login, timeout=30)
    response.raise_for_status()
    return "Bearer " + response.json()["access_token"]


def demo_bearer(base):
    """Sign a seeded demo talent in once; the token outlives a run."""
    return _bearer(base, DEMO_LOGIN)


def admin_bearer(base):
    """Sign the seeded demo admin in (admins may edit any profile)."""
    return _bearer(base, ADMIN_LOGIN)


def director_bearer(base):
    """Sign in the demo casting director who owns the demo productions."""
    return _bearer(base, DIRECTOR_LOGIN)


APP_ROUTES = [
    Route("GET /api/health", "/api/health"),
    Route("GET /api/health/ready", "/api/health/ready"),
    Route("GET /api/openapi.json", "/api/openapi.json"),
    Route("GET /api/nope (404 envelope)", "/api/nope", expect=404),
    Route("POST /api/auth/login (argon2id)", "/api/auth/login", method="POST", body=json.dumps(DEMO_LOGIN)),
    Route("GET /api/auth/me", "/api/auth/me", authorization=demo_bearer),
    Route("GET /api/talents/ (page 1)", "/api/talents/", authorization=demo_bearer),
    Route("GET /api/talents/?city=Mumbai&skills=Acting,Dancing", "/api/talents/?city=Mumbai&skills=Acting,Dancing",
          authorization=demo_bearer),
    Route("POST /api/talents/search (q, typo; cached)", "/api/talents/search", method="POST",
          body=json.dumps({"q": "Priyanca", "city": "Mumbai"}), authorization=demo_bearer),
    Route("POST /api/talents/search (seed filters, new each time: uncached)", "/api/talents/search",
          method="POST", vary=True, authorization=demo_bearer,
          body='{"city": "Mumbai", "skills": ["Acting", "Dancing"], "availability_status": "available", '
               '"age_min": {a}, "height_min": {h}}'),
    Route("POST /api/talents/search (q, new each time: uncached)", "/api/talents/search", method="POST",
          vary=True, authorization=demo_bearer, body='{"q": "Priyanca", "age_min": {a}, "height_min": {h}}'),
    Route("GET /api/talents/featured", "/api/talents/featured", authorization=demo_bearer),
    Route("GET /api/talents/{id}", "/api/talents/1", authorization=demo_bearer),
    Route("PUT /api/talents/{id} (admin)", "/api/talents/2", method="PUT",
          body=json.dumps({"availability_status": "available", "day_rate_inr": 15000}), authorization=admin_bearer),
    Route("GET /api/meta/skills", "/api/meta/skills"),
    Route("GET /api/productions/{id}/roles/{id}/matches", "/api/productions/1/roles/1/matches",
          authorization=director_bearer, cold=True),
]

REFERENCE_HELLO = Route("reference: JSON hello", "/hello")
REFERENCE_SELECT = Route("reference: select 1", "/select1")
