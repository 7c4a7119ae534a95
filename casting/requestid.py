"""The request id: taken from a sane `X-Request-ID` or made here, kept on `flask.g`."""
import re
import uuid

from flask import g, has_request_context, request

_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id():
    """The current request's id (one per request), or None outside a request."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        offered = request.headers.get("X-Request-ID", "")
        g.request_id = offered if _SANE.match(offered) else uuid.uuid4().hex
    return g.request_id
