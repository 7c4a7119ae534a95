"""Responses kept per caller and served from the sign-in check's own Redis round trip.

A read whose answer is a function of who asks, what they asked (path, query, body) and some version
keys can be decorated with `cached_response(versions)`: its 200 body is stored under the caller and
the request, stamped with the caller's role and the versions' values at the time they were read
(before the view ran). The sign-in check reads the versions and the body in its one round trip
(`prefetch`), and the next identical request of the same caller, with the same role and versions, is
answered with those bytes before any argument parsing, query or serialisation. A write that bumps a
version is seen by the next read; the view says how long a body may live (`keep_for`: a photo link's
signing window, a deadline), and a body it does not give a lifetime is not kept.

Permission checks stay in the view: a body is only ever served to the caller it was built for, with
the role it was built for; a caller whose session is gone, who is deactivated or suspended, or who asks
for a fresh token, goes through the view and its checks.
"""
import hashlib
from functools import wraps

from flask import current_app, g, request
from redis.exceptions import RedisError

from casting.auth.principal import prefetched, signed_in_principal
from casting.kernel.extensions import redis

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
            found = signed_in_principal() if request.method in ("GET", "POST") else None
            if found is None or found[1].is_suspended:
                return view(*args, **kwargs)
            principal = found[1]
            asked = keys(principal.id, request.view_args or {})
            try:
                *seen, entry = prefetched(*asked) or redis.mget(*asked)
            except RedisError:
                return view(*args, **kwargs)
            stamp = _stamp(principal.role.value, seen)
            if entry is not None and entry.startswith(stamp):
                return current_app.response_class(entry[len(stamp):], mimetype="application/json")
            g.response_seconds = None
            response = current_app.make_response(view(*args, **kwargs))
            seconds = g.response_seconds
            if response.status_code == 200 and seconds and seconds > 0 and not response.is_streamed:
                try:
                    redis.setex(asked[-1], int(seconds), stamp + response.get_data())
                except RedisError:
                    pass  # served uncached next time
            return response

        wrapper.prefetch_keys = keys
        return wrapper
    return decorate
