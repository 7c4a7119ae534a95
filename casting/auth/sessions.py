"""Sessions and tokens: one session per signed-in device, a rotating refresh token, durable revocation.

PostgreSQL holds each session (so revocation survives restarts of the app and of Redis); Redis
caches each session's state for the per-request check (`casting.auth.principal`).
"""
import uuid
from datetime import datetime, timezone

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, get_jti
from redis.exceptions import RedisError
from sqlalchemy import select

from casting.audit import record
from casting.auth.models import AuthSession
from casting.auth.principal import ACTIVE, REVOKED, resolve, session_key
from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db, redis

_on_revoke = []


def on_revoke(listener):
    """Call `listener(session_id)` when a session ends (chat disconnects that session's live sockets)."""
    if listener not in _on_revoke:
        _on_revoke.append(listener)
    return listener


def _now():
    return datetime.now(timezone.utc)


def cache_state(session_id, state):
    try:
        ttl = int(current_app.config["JWT_REFRESH_TOKEN_EXPIRES"].total_seconds())
        redis.setex(session_key(session_id), ttl, state)
    except RedisError:
        pass  # the database is the source of truth; the cache refills on the next check


def _tokens(user, session, fresh):
    refresh = create_refresh_token(identity=str(user.id), additional_claims={"sid": session.id})
    session.refresh_jti = get_jti(refresh)
    access = create_access_token(identity=str(user.id), fresh=fresh,
                                 additional_claims={"sid": session.id, "role": user.role.value})
    return {"access_token": access, "refresh_token": refresh}


def start(user, client, fresh=True):
    """Open a session for `user` on the device `client` describes (a `casting.kernel.requestid.Client`); returns its
    first tokens (caller commits)."""
    session = AuthSession(id=uuid.uuid4().hex, user_id=user.id, refresh_jti="",
                          device=(client.user_agent or "")[:200] or None, ip=client.ip,
                          expires_at=_now() + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"])
    db.session.add(session)
    tokens = _tokens(user, session, fresh)
    cache_state(session.id, ACTIVE)
    return tokens


def revoke(session, reason):
    session.revoked_at, session.revoked_reason = _now(), reason
    cache_state(session.id, REVOKED)
    for listener in _on_revoke:
        listener(session.id)


def rotate(user, payload, client):
    """Swap a refresh token for new tokens; a spent one revokes its whole session (theft)."""
    session = db.session.scalar(select(AuthSession).where(AuthSession.id == payload["sid"]).with_for_update())
    if session is None or session.revoked_at is not None:
        db.session.rollback()
        raise ApiError(Codes.AUTH_REVOKED)
    if payload["jti"] != session.refresh_jti:
        revoke(session, "refresh_reuse")
        record("token_reuse", actor_id=user.id, target_type="session", target_id=session.id, ip=client.ip)
        db.session.commit()
        raise ApiError(Codes.AUTH_REVOKED)
    session.last_used_at = _now()
    tokens = _tokens(user, session, fresh=False)
    db.session.commit()
    return tokens


def end(user, session_id, action, client):
    """Revoke one of `user`'s sessions (404 when it is not theirs), with an audit event."""
    session = db.session.get(AuthSession, session_id)
    if session is None or session.user_id != user.id:
        raise ApiError(Codes.AUTH_NOT_FOUND)
    if session.revoked_at is None:
        revoke(session, action)
    record(action, actor_id=user.id, target_type="session", target_id=session.id, ip=client.ip)
    db.session.commit()


def describe(session, current_session_id):
    """A session as the API shows it, marking the caller's own."""
    return {"id": session.id, "device": session.device, "ip": session.ip, "created_at": session.created_at,
            "last_used_at": session.last_used_at, "current": session.id == current_session_id}


def active_sessions(user):
    return (select(AuthSession).where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None),
                                      AuthSession.expires_at > _now())
            .order_by(AuthSession.last_used_at.desc()))


def register_jwt_callbacks(jwt):
    """Tokens name their user and session: both checks are the principal's one look-up."""
    jwt.user_lookup_loader(lambda header, payload: resolve(payload)[1])
    jwt.token_in_blocklist_loader(lambda header, payload: not resolve(payload)[0])
