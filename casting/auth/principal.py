"""The caller as the request path needs it, in one Redis round trip per request.

Before any view runs, one Lua script reads the token's session state (`casting:session:<sid>`),
the user's principal record (`casting:principal:<user id>`: role, active, suspended since) and
counts the request against its route's rate limit, per user when the token is valid, else per IP
(the same moving window and key format the rate limiter uses). Nothing of it touches PostgreSQL: a
record missing from Redis (expired, flushed) is rebuilt from the database once and stored for the
next requests.

Every write to a user's role, active flag or suspension rewrites that user's record when its
transaction commits (an ORM event, so no write path can forget it), and revoking a session marks
it revoked in Redis at once: the next request on any process sees the change.

The HTTP routes (`login_required`), the refresh and session routes (flask-jwt-extended's loaders)
and the Socket.IO events all ask `lookup` for a token's principal.
"""
import logging
import time
from datetime import datetime, timezone

from flask import current_app, g, has_app_context, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from casting.auth.models import AuthSession
from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db, limiter, redis, script
from casting.kernel.throttle import parsed_limit, route_limit_setting
from casting.users.models import Role, User

log = logging.getLogger(__name__)
ACTIVE, REVOKED = b"active", b"revoked"
RECORD_SECONDS = 24 * 3600
_FIELDS = ("role", "is_active", "suspended_at")

# KEYS: rate-limit list ('' when the route is exempt), session state, principal record (both
# optional), then the keys the view reads first (`prefetch`). ARGV: now, limit, window seconds. Returns
# {allowed, requests in the window (this one included), when the oldest of them leaves it (or the next
# one frees, refused), session state, record, then the view's keys' values}.
# The list is the limits library's moving window (newest first, at most `limit` entries); entries that
# left the window are dropped from its tail first, so its length is the count (each is popped once).
_LOOKUP = """
local allowed, used, oldest = 1, 0, ARGV[1]
if KEYS[1] ~= '' then
  local now, limit, expiry = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
  local tail = redis.call('LINDEX', KEYS[1], -1)
  while tail and tonumber(tail) < now - expiry do
    redis.call('RPOP', KEYS[1])
    tail = redis.call('LINDEX', KEYS[1], -1)
  end
  used = redis.call('LLEN', KEYS[1])
  if used >= limit then
    allowed, oldest = 0, redis.call('LINDEX', KEYS[1], limit - 1)
  else
    redis.call('LPUSH', KEYS[1], ARGV[1])
    redis.call('EXPIRE', KEYS[1], expiry)
    used = used + 1
    oldest = tail or ARGV[1]
  end
end
local state, record = false, false
if KEYS[2] then state = redis.call('GET', KEYS[2]) end
if KEYS[3] then record = redis.call('GET', KEYS[3]) end
local result = {allowed, used, oldest, state, record}
for i = 4, #KEYS do result[#result + 1] = redis.call('GET', KEYS[i]) end
return result
"""


class Principal:
    """The signed-in user as the request path knows it (id, role, status, session).

    Any other attribute (name, contacts, preferences) loads the user's row once, on first use, so
    services that need the full user keep working; write to `row`, never to the principal.
    """

    __slots__ = ("id", "role", "is_active", "suspended_at", "session_id", "_row")

    def __init__(self, user_id, role, is_active, suspended_at, session_id=None):
        self.id, self.role, self.is_active = user_id, role, is_active
        self.suspended_at, self.session_id, self._row = suspended_at, session_id, None

    @property
    def is_suspended(self):
        return self.suspended_at is not None

    @property
    def row(self):
        """The user's database row (loaded on first use)."""
        if self._row is None:
            self._row = db.session.get(User, self.id)
        return self._row

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.row, name)

    def __repr__(self):
        return f"<Principal {self.id} {self.role.value}>"


def session_key(session_id):
    return f"casting:session:{session_id}"


def record_key(user_id):
    return f"casting:principal:{user_id}"


def _encode(role, is_active, suspended_at):
    return f"{role.value}|{int(bool(is_active))}|{suspended_at.isoformat() if suspended_at else ''}"


def _decode(user_id, raw, session_id):
    role, active, suspended = raw.decode().split("|")
    return Principal(user_id, Role(role), active == "1", datetime.fromisoformat(suspended) if suspended else None,
                     session_id)


def _rebuild_session(session_id):
    from casting.auth.sessions import cache_state

    found = db.session.get(AuthSession, session_id)
    active = found is not None and found.revoked_at is None and found.expires_at > datetime.now(timezone.utc)
    state = ACTIVE if active else REVOKED
    cache_state(session_id, state)
    return state


def _rebuild_record(user_id):
    """The principal record from the database; stored unless a write stored a newer one meanwhile."""
    user = db.session.get(User, user_id)
    if user is None:
        return None
    raw = _encode(user.role, user.is_active, user.suspended_at).encode()
    try:
        redis.set(record_key(user_id), raw, ex=RECORD_SECONDS, nx=True)
    except RedisError:
        pass
    return raw


# -- the rate limit -------------------------------------------------------------------------------

RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")
_route_limits = {}


def _route_limit(endpoint):
    """The limit setting for this request's route and method (`@rate_limit`, else RATELIMIT_DEFAULT), or
    None when the route is exempt (`limiter.exempt`) or rate limiting is off."""
    if not endpoint or not limiter.enabled:
        return None
    found = _route_limits.get((endpoint, request.method), False)
    if found is False:
        from flask_limiter import ExemptionScope

        scope = limiter.limit_manager.exemption_scope(current_app, endpoint, request.blueprint)
        found = None if scope & ExemptionScope.DEFAULT else route_limit_setting(
            current_app.view_functions[endpoint], request.method)
        _route_limits[(endpoint, request.method)] = found
    return found


def _rate_key(endpoint, payload):
    """(the rate limiter's key for this request, its limit), or ('', None) if the route is exempt.

    Counted per route and per caller: the signed-in user when a valid access token came (so people
    behind one carrier IP are not throttled together), else the client IP.
    """
    setting = _route_limit(endpoint)
    if setting is None:
        return "", None
    item = parsed_limit(current_app.config[setting])
    caller = f"user:{payload['sub']}" if payload is not None else request.remote_addr or "127.0.0.1"
    return "LIMITS:" + item.key_for(current_app.config["RATELIMIT_KEY_PREFIX"], caller, endpoint), item


def _bearer():
    header = request.headers.get("Authorization", "")
    return header[7:] if header[:7].lower() == "bearer " else None


_DECODED_MOST = 10_000


def _payload(token):
    """The claims of a valid access token with a session, else None.

    A token's signature is checked once per process: its claims are kept (per app, so per secret)
    until it expires, and only the expiry is checked again.
    """
    decoded = current_app.extensions.setdefault("casting_decoded_tokens", {})
    payload = decoded.get(token)
    if payload is not None and payload["exp"] > time.time():
        return payload
    try:
        payload = decode_token(token)
    except (JWTExtendedException, PyJWTError):
        return None
    if payload.get("type") != "access" or not payload.get("sid"):
        return None
    if len(decoded) >= _DECODED_MOST:
        decoded.clear()
    decoded[token] = payload
    return payload


def check_request():
    """before_request: count the rate limit and read the bearer's principal, in one round trip.

    What it found is kept for the request (see `resolve`), and the caller's standing in the limit for
    the `RateLimit-*` headers (`rate_limit_headers`); a token that does not decode is left to the
    view's own check (its 401), as before, and counts per IP.
    """
    token = _bearer()
    payload = _payload(token) if token else None
    rate_key, item = _rate_key(request.endpoint, payload)
    if not rate_key and payload is None:
        return
    keys, ahead = [rate_key], []
    if payload is not None:
        ahead = _prefetch_keys(request.endpoint, payload)
        keys += [session_key(payload["sid"]), record_key(payload["sub"]), *ahead]
    now = time.time()
    args = [repr(now), item.amount, item.get_expiry()] if item else [0, 0, 0]
    try:
        allowed, used, oldest, state, raw, *values = script(_LOOKUP)(keys=keys, args=args)
        g.prefetched = dict(zip(ahead, values))
    except RedisError:  # the database is the source of truth; no count is kept meanwhile
        allowed, state, raw, item = 1, None, None, None
    if item is not None:
        reset = max(1, int(float(oldest) + item.get_expiry() - now + 0.999))
        g.rate_limit = (item, max(0, item.amount - used), reset)
    if not allowed:
        raise ApiError(Codes.RATE_LIMITED, headers={"Retry-After": str(reset)})
    if payload is not None:
        g.principal_lookup = (payload, *_principal(payload, state, raw))


# -- what a view reads first, read in the same round trip ------------------------------------------

_prefetches = {}


def prefetch(keys):
    """A view decorator: `keys(user_id, view_args)` names the Redis keys the view reads first for a
    signed-in caller. `check_request` reads them in its one round trip (with the rate limit and the
    principal), and the view takes them with `prefetched`, so a cached read costs one round trip."""
    def decorate(view):
        view.prefetch_keys = keys
        return view
    return decorate


def _prefetch_keys(endpoint, payload):
    """The keys this request's view asked for (`prefetch`), or none."""
    if not endpoint:
        return []
    found = _prefetches.get((endpoint, request.method), False)
    if found is False:
        view = current_app.view_functions.get(endpoint)
        handler = getattr(getattr(view, "view_class", None), request.method.lower(), view)
        found = _prefetches[(endpoint, request.method)] = getattr(handler, "prefetch_keys", None)
    return list(found(int(payload["sub"]), request.view_args or {})) if found else []


def prefetched(*keys):
    """The values `check_request` read for `keys` in this request (bytes or None each), or None when it
    did not read them all (the caller reads them itself)."""
    found = g.get("prefetched") if has_app_context() else None
    if not found or any(key not in found for key in keys):
        return None
    return [found[key] for key in keys]


def rate_limit_headers(response):
    """after_request: the caller's standing in this route's limit, on every answer the limit counted.

    `RateLimit-Limit`/`-Remaining`/`-Reset` (seconds until the oldest counted request leaves the
    window: one more is free then) and `RateLimit-Policy` (`100;w=60`), as the IETF draft names them.
    """
    standing = g.get("rate_limit")
    if standing is not None:
        item, remaining, reset = standing
        values = (item.amount, remaining, reset, f"{item.amount};w={item.get_expiry()}")
        response.headers.update(zip(RATE_LIMIT_HEADERS, map(str, values)))
    return response


def _principal(payload, state, raw):
    """(session active?, principal or None) of a decoded token, given what Redis held."""
    session_id, user_id = payload["sid"], int(payload["sub"])
    if state is None:
        state = _rebuild_session(session_id)
    if state != ACTIVE:
        return False, None
    if raw is None:
        raw = _rebuild_record(user_id)
        if raw is None:
            return True, None
    principal = _decode(user_id, raw, session_id)
    return True, principal if principal.is_active else None


def resolve(payload):
    """(session active?, principal or None: no such user, or deactivated) of a decoded token.

    The one token-to-user lookup: HTTP routes, the refresh and session routes and the Socket.IO
    events all come here. Within a request it reuses what `check_request` read for the same token;
    otherwise it costs one round trip (plus the database, once, for a record Redis lacks).
    """
    if not payload.get("sid") or not payload.get("sub"):
        return False, None
    seen = g.get("principal_lookup")
    if seen is not None and payload.get("jti") and seen[0].get("jti") == payload["jti"]:
        return seen[1], seen[2]
    try:
        state, raw = redis.mget(session_key(payload["sid"]), record_key(payload["sub"]))
    except RedisError:
        state = raw = None
    found = _principal(payload, state, raw)
    g.principal_lookup = (payload, *found)
    return found


def ask(pipe, session_id, user_id):
    """Queue on a caller's Redis pipeline what `answer` needs (the caller's round trip carries it)."""
    pipe.mget(session_key(session_id), record_key(user_id))


def answer(session_id, user_id, reply):
    """(session active?, principal or None), from the reply to `ask`."""
    return _principal({"sid": session_id, "sub": user_id}, *reply)


def signed_in_principal():
    """(payload, principal) when `check_request` found a live session and user for this request, else None."""
    seen = g.get("principal_lookup")
    return (seen[0], seen[2]) if seen is not None and seen[1] and seen[2] is not None else None


# -- keeping the records true -------------------------------------------------------------------

def _changed_users(session, flush_context):
    changed = session.info.setdefault("casting_principals", {})
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, User) and obj.id is not None:
            changed[obj.id] = _encode(obj.role, obj.is_active if obj.is_active is not None else True,
                                      obj.suspended_at)
    for obj in session.deleted:
        if isinstance(obj, User) and obj.id is not None:
            changed[obj.id] = None  # gone: its next request finds no user


def _publish(session):
    changed = session.info.pop("casting_principals", None)
    if not changed or not has_app_context():
        return
    from casting.users import forget

    try:
        with redis.pipeline(transaction=False) as pipe:
            for user_id, raw in changed.items():
                if raw is None:
                    pipe.delete(record_key(user_id))
                else:
                    pipe.set(record_key(user_id), raw, ex=RECORD_SECONDS)
            pipe.execute()
        forget(*changed)
    except RedisError:
        log.warning("could not refresh principal records in Redis", extra={"users": len(changed)})


def _discard(session):
    session.info.pop("casting_principals", None)


event.listen(Session, "after_flush", _changed_users)
event.listen(Session, "after_commit", _publish)
event.listen(Session, "after_soft_rollback", lambda session, previous: _discard(session))
