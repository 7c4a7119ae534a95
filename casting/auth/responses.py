"""Responses kept per caller and served from the sign-in check's own Redis round trip.

A read whose answer is a function of who asks, what they asked (path, query, body) and some version
keys can be decorated with `cached_response(versions)`: its 200 body is stored under the caller and
the request, stamped with the caller's role and the versions' values at the time they were read
(before the view ran). The sign-in check reads the versions and the body in its one round trip
(`prefetch`), and the next identical request of the same caller, with the same role and versions, is
answered with those bytes before any argument parsing, query or serialisation. A write that bumps a
version is seen by the next read; the view says how long a body may live (`keep_for`: a photo link's
signing window, a deadline), and a body it does not give a lifetime is not kept. Concurrent misses of
one body (its versions moved while a client's connections were all asking) run the view once: the
others wait for it and serve what it kept (`single_flight`).

Permission checks stay in the view: a body is only ever served to the caller it was built for, with
the role it was built for; a caller whose session is gone, who is deactivated or suspended, who asks
for a fresh token, or who sends a service API key, goes through the view and its checks.
"""
import hashlib
from functools import wraps

from flask import current_app, g, request
from redis.exceptions import RedisError

from casting.auth.api_keys import HEADER as API_KEY_HEADER
from casting.auth.principal import prefetched, signed_in_principal
from casting.kernel.extensions import redis
from casting.kernel.flight import single_flight

BODY_PREFIX = "casting:cache:response:"


def keep_for(seconds):
    """Called by a `cached_response` view: keep this answer at most `seconds` (none: not kept)."""
    g.response_seconds = seconds


def _body_key(user_id):
    asked = b"\0".join([str(user_id).encode(), request.method.encode(), request.path.encode(),
                        repr(sorted(request.args.items(multi=True))).encode(), request.get_data()])
    return BODY_PREFIX + hashlib.sha256(asked).hexdigest()


def _stamp(role, versions):
    return b":".join([role.encode(), *(version or b"0" for version in versions)]) + b"\n"


def _kept(entry, stamp):
    """The kept body as a response when it was made under `stamp`, else None."""
    if entry is None or not entry.startswith(stamp):
        return None
    return current_app.response_class(entry[len(stamp):], mimetype="application/json")


class _Miss:
    """A request whose body was not kept. Its view runs once among concurrent misses of the same body
    (`single_flight`: the others wait and serve what it kept) and its 200 is kept under the versions
    read before the view ran, for as long as the view says (`keep_for`)."""

    def __init__(self, asked, role, stamp, view):
        self.asked, self.role, self.stamp, self.view = asked, role, stamp, view

    def answer(self):
        """The view's response, kept; or, when a concurrent miss of the same body ran the view, what it kept."""
        return single_flight(self.asked[-1], self.kept_meanwhile, self.made, self.keep)

    def kept_meanwhile(self):
        """The body a concurrent miss kept while this one waited, if made under the versions now."""
        *seen, entry = redis.mget(*self.asked)
        self.stamp = _stamp(self.role, seen)
        return _kept(entry, self.stamp)

    def made(self):
        g.response_seconds = None
        return current_app.make_response(self.view())

    def keep(self, response):
        """What to keep of `response` for `single_flight`: a 200 the view gave a lifetime, stamped."""
        seconds = g.response_seconds
        if response.status_code == 200 and seconds and seconds > 0 and not response.is_streamed:
            return self.stamp + response.get_data(), int(seconds)
        return None


def cached_response(versions):
    """A read-only view decorator (outermost): `versions(user_id, view_args)` names the Redis keys whose
    values the answer depends on. See the module's docstring."""
    def keys(user_id, path):
        """The versions' keys and the body's, worked out once per request (the sign-in check asks first)."""
        found = g.get("response_keys")
        if found is None:
            found = g.response_keys = [*versions(user_id, path), _body_key(user_id)]
        return found

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            asked_as_user = request.method in ("GET", "POST") and API_KEY_HEADER not in request.headers
            found = signed_in_principal() if asked_as_user else None
            if found is None or found[1].is_suspended:
                return view(*args, **kwargs)
            role, asked = found[1].role.value, keys(found[1].id, request.view_args or {})
            try:
                *seen, entry = prefetched(*asked) or redis.mget(*asked)
            except RedisError:
                return view(*args, **kwargs)
            stamp = _stamp(role, seen)
            kept = _kept(entry, stamp)
            return kept if kept is not None else _Miss(asked, role, stamp, lambda: view(*args, **kwargs)).answer()

        wrapper.prefetch_keys = keys
        return wrapper
    return decorate
