"""The request id: taken from a sane `X-Request-ID` or made here, kept on `flask.g`."""
import re
import uuid

from flask import g, has_request_context, request

_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def sane_or_new(offered):
    """`offered` (a client's X-Request-ID) when it is sane, else a new id."""
    return offered if _SANE.match(offered or "") else uuid.uuid4().hex


def request_id():
    """The current request's id (one per request), or None outside a request."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        g.request_id = sane_or_new(request.headers.get("X-Request-ID", ""))
    return g.request_id
