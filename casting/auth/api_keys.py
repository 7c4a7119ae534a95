"""Service API keys for the ML service and partners: shown once, stored hashed, scoped, audited."""
import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from functools import wraps

from flask import g, request
from flask_jwt_extended import current_user
from sqlalchemy import select

from casting.audit import record
from casting.auth.models import ApiKey
from casting.auth.permissions import login_required
from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db, redis
from casting.kernel.requestid import NO_CLIENT
from casting.kernel.sorting import order_by

SCOPES = ("ml", "export", "pii")
HEADER = "X-API-Key"


def _digest(plaintext):
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create(name, scopes, created_by_id=None, client=NO_CLIENT):
    """Make a key; returns (key, plaintext). The plaintext exists only in this answer. `client`: the
    caller's `casting.kernel.requestid.Client` (none from the command line)."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}")
    prefix = secrets.token_hex(4)
    plaintext = f"ck_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(name=name, prefix=prefix, key_hash=_digest(plaintext), scopes=sorted(set(scopes)),
                 created_by_id=created_by_id)
    db.session.add(key)
    db.session.flush()
    record("api_key_created", actor_id=created_by_id, target_type="api_key", target_id=key.id,
           details={"scopes": key.scopes}, ip=client.ip)
    db.session.commit()
    return key, plaintext


def revoke(key_id, actor_id=None, client=NO_CLIENT):
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise ApiError(Codes.AUTH_NOT_FOUND)
    if key.revoked_at is None:
        key.revoked_at = datetime.now(timezone.utc)
        record("api_key_revoked", actor_id=actor_id, target_type="api_key", target_id=key.id, ip=client.ip)
        db.session.commit()
    return key


def listing(sort=None):
    """Service API keys, newest first unless `sort` says otherwise."""
    return select(ApiKey).order_by(*order_by(ApiKey, sort))


def authenticate(plaintext):
    """The live key for `plaintext`, or 401; its last use is recorded (at most once a minute)."""
    parts = (plaintext or "").split("_")
    key = None
    if len(parts) >= 3 and parts[0] == "ck":
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if key is None or key.revoked_at is not None or not hmac.compare_digest(key.key_hash, _digest(plaintext)):
        raise ApiError(Codes.AUTH_BAD_API_KEY)
    if redis.set(f"casting:api-key:used:{key.id}", 1, nx=True, ex=60):
        key.last_used_at = datetime.now(timezone.utc)
        db.session.commit()
    return key


def api_key_required(*scopes):
    """The view needs an `X-API-Key` header holding a live key with one of `scopes` (401 / 403)."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            key = authenticate(request.headers.get(HEADER))
            if not set(scopes) & set(key.scopes):
                raise ApiError(Codes.AUTH_FORBIDDEN,
                               f"This API key lacks the {' or '.join(f'`{scope}`' for scope in scopes)} scope.")
            g.api_key = key
            return view(*args, **kwargs)
        return wrapper
    return decorate


def user_or_api_key(scope):
    """A signed-in user (access token), or, when an `X-API-Key` header is sent, a live key with `scope`.

    The view tells them apart with `calling_user()`: the user, or None for a service key.
    """
    def decorate(view):
        as_user, as_service = login_required()(view), api_key_required(scope)(view)

        @wraps(view)
        def wrapper(*args, **kwargs):
            return (as_service if HEADER in request.headers else as_user)(*args, **kwargs)
        return wrapper
    return decorate


def calling_user():
    """The signed-in user of this request, or None when a service API key made it."""
    return None if g.get("api_key") else current_user
