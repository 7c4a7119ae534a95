"""The request id (taken from a sane `X-Request-ID` or made here, kept on `flask.g`) and the client that
sent the request, as plain values a view hands to the services."""
import re
import uuid
from typing import NamedTuple

from flask import g, has_app_context, has_request_context, request

_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def sane_or_new(offered):
    """`offered` (a client's X-Request-ID) when it is sane, else a new id."""
    return offered if _SANE.match(offered or "") else uuid.uuid4().hex


def request_id():
    """The current request's id (one per request), or None outside a request. A Socket.IO event, handled in
    an application context of its own, sets `g.request_id` itself."""
    if not has_request_context():
        return g.get("request_id") if has_app_context() else None
    if "request_id" not in g:
        g.request_id = sane_or_new(request.headers.get("X-Request-ID", ""))
    return g.request_id


class Client(NamedTuple):
    """Where a request came from: the services take it from their callers and never read the request."""

    ip: str | None = None
    user_agent: str | None = None


NO_CLIENT = Client()  # the command line, a worker, a test calling a service directly


def current_client():
    """The current request's client address (as TRUSTED_PROXIES finds it) and user agent: for views to pass."""
    if not has_request_context():
        return NO_CLIENT
    return Client(request.remote_addr, request.user_agent.string or None)
