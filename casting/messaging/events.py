"""Socket.IO namespace `/chat`: an access token at connect, then `message:send`, `message:read` and `typing`.

Every event is acked: with its result, or with the error envelope. A socket joins only its own user's
room; what a conversation's participants must hear is sent to their rooms (see services), through the
processes that hold their sockets only (see fanout).

Back-pressure: a process handles at most CHAT_MAX_IN_FLIGHT events at once; an event that finds no
room within CHAT_BUSY_WAIT_MS (or no database connection in the pool) is acked with `MESSAGE_009` and
`details.retry_after`, never left to time out. The client sends it again (the same `client_id`).

Kept in this process, because only this process needs it: which sockets it holds (for the presence
heartbeat) and when each typing indicator lapses. Kept in Redis: each sign-in session's sockets, so
that ending the session disconnects them wherever they are.
"""
import logging
import time

import gevent.lock

import jwt as pyjwt
from flask import current_app, g, request, session
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_socketio import ConnectionRefusedError, emit, join_room
from marshmallow import ValidationError
from redis.exceptions import RedisError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from casting.auth import Principal, on_revoke, resolve
from casting.kernel.errors import ApiError, Codes, envelope, flatten_messages
from casting.kernel.extensions import db, redis, socketio
from casting.kernel.requestid import sane_or_new
from casting.messaging import fanout, presence, services
from casting.messaging.schemas import (MessageSchema, ReceiptSchema, SocketMessageSchema, SocketReadSchema,
                                       TypingSchema, TypingStateSchema)

log = logging.getLogger(__name__)
NAMESPACE = services.NAMESPACE
_sockets = {}  # socket id -> user id, for this process's presence heartbeat
_typing = {}  # (socket id, conversation id) -> when the indicator lapses
_heartbeat = []
_slots = []  # this process's semaphore of CHAT_MAX_IN_FLIGHT (made on first use, after the fork)
RETRY_AFTER = 1  # seconds, in a busy ack's details
CONNECT_WAIT_FACTOR = 5  # a connect waits longer for a slot than an event: a refused one costs a handshake


def _refuse(error, details=None):
    """Refuse a connection: the client's `connect_error` gets `{message, data: <error envelope>}`."""
    return ConnectionRefusedError(error.message, envelope(error, details=details))


def _authenticate(auth):
    """The user of the access token in the connect payload; refuses the connection otherwise."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise _refuse(Codes.AUTH_MISSING)
    try:
        payload = decode_token(token)
    except pyjwt.ExpiredSignatureError:
        raise _refuse(Codes.AUTH_EXPIRED) from None
    except (pyjwt.PyJWTError, JWTExtendedException):
        raise _refuse(Codes.AUTH_INVALID_TOKEN) from None
    if payload.get("type") != "access":
        raise _refuse(Codes.AUTH_INVALID_TOKEN)
    active, user = resolve(payload)
    if not active:
        raise _refuse(Codes.AUTH_REVOKED)
    if user is None:
        raise _refuse(Codes.AUTH_INVALID_TOKEN)
    return user, payload["sid"]


def on_connect(auth=None):
    """Connect, when this process has room for it within CONNECT_WAIT_FACTOR times CHAT_BUSY_WAIT_MS."""
    if not _slot(CONNECT_WAIT_FACTOR):
        raise _refuse(Codes.CHAT_BUSY, {"retry_after": RETRY_AFTER})
    try:
        _connect(auth)
    finally:
        _slots[0].release()


def _connect(auth):
    user, auth_session = _authenticate(auth)
    session["user_id"], session["auth_session"] = user.id, auth_session
    # what the events act as; each event checks the sign-in (and the account) again before it commits
    session["principal"] = Principal(user.id, user.role, user.is_active, user.suspended_at, auth_session)
    join_room(services.user_room(user.id))
    _sockets[request.sid] = user.id
    _start_heartbeat()
    people = services.contacts(user.id, remember=True)
    with redis.pipeline(transaction=True) as pipe:  # one round trip: count the socket, find the contacts'
        pipe.sadd(_session_sockets(auth_session), request.sid)  # kept no longer than the session can live
        pipe.expire(_session_sockets(auth_session), current_app.config["JWT_REFRESH_TOKEN_EXPIRES"])
        presence.queue_change(pipe, user.id, fanout.socket_key(request.sid), add=True)
        presence.ask_sockets(pipe, people)
        replies = pipe.execute()
    count = replies[2 + presence.CHANGE_COUNT]
    sockets = presence.sockets_of(people, replies[2 + presence.CHANGE_COMMANDS:])
    if count == 1:  # this socket brought them online
        services.announce_presence(user.id, True, people, sockets)
    for contact in sorted(sockets):
        emit("presence", services.EVENTS["presence"].dump({"user_id": contact, "online": True}))


def on_disconnect(*reason):
    user_id = _sockets.pop(request.sid, None)
    if user_id is None:
        return
    redis.srem(_session_sockets(session.get("auth_session")), request.sid)
    for key in [key for key in _typing if key[0] == request.sid]:
        del _typing[key]
        services.announce_typing(user_id, key[1], False)
    if presence.disconnected(user_id, fanout.socket_key(request.sid)):
        services.announce_presence(user_id, False)


def _session_sockets(auth_session):
    return f"casting:chat:session-sockets:{auth_session}"


def end_session_sockets(auth_session):
    """A signed-out (or stolen-token) session's sockets are disconnected, on whichever process holds them."""
    for sid in redis.smembers(_session_sockets(auth_session)):
        socketio.server.disconnect(sid.decode(), namespace=NAMESPACE)
    redis.delete(_session_sockets(auth_session))


def _refused(error, vouch, sid):
    """The ack of an event refused with `error`; AUTH_005 instead when the socket's sign-in ended (socket
    `sid` is then disconnected, once the ack has gone out)."""
    try:
        if error.error != Codes.AUTH_REVOKED:
            vouch.check()  # an event refused before its sign-in was checked: was it?
    except ApiError as ended:
        error = ended
    if error.error == Codes.AUTH_REVOKED:
        socketio.start_background_task(_cut_off, sid)
    return envelope(error.error, error.message, error.details)


def _cut_off(sid):
    """Disconnect a socket whose sign-in ended, once the ack that says so has gone out."""
    socketio.sleep(0.2)
    socketio.server.disconnect(sid, namespace=NAMESPACE)


def _slot(factor=1):
    """Wait up to CHAT_BUSY_WAIT_MS (times `factor`) for one of this process's CHAT_MAX_IN_FLIGHT slots;
    False if none came free."""
    if not _slots:
        _slots.append(gevent.lock.BoundedSemaphore(current_app.config["CHAT_MAX_IN_FLIGHT"]))
    return _slots[0].acquire(timeout=current_app.config["CHAT_BUSY_WAIT_MS"] * factor / 1000)


def busy():
    """The ack of an event this process had no room for: try again after `retry_after` seconds."""
    return envelope(Codes.CHAT_BUSY, details={"retry_after": RETRY_AFTER})


def chat_event(schema, ack):
    """Check the sender and the payload, run the handler, and ack its result (dumped with `ack`) or the
    error envelope. Both schemas are kept on the handler for the AsyncAPI document.

    The handler is called as python-socketio calls it, with the socket id and the payload, inside an
    application context only: not through Flask-SocketIO's per-event wrapper, which builds a request
    context from a copy of the handshake's environ for every event (a werkzeug request, a URL adapter,
    the session swapped in, the request teardown) that these events do not use. What they do use is
    taken from the socket itself: its id, and the session `on_connect` filled (who signed in, and the
    sign-in session, checked again by `Vouch` on the event's first Redis round trip). An error's
    envelope gets a request id of its own, or the handshake's `X-Request-ID` when it sent a sane one,
    as before."""
    def decorate(handler):
        def wrapper(sid, data=None):
            environ = socketio.server.get_environ(sid, namespace=NAMESPACE)
            if not environ or "saved_session" not in environ:
                return None  # a socket this process no longer holds (Flask-SocketIO answers nothing too)
            with environ["flask.app"].app_context():
                g.request_id = sane_or_new(environ.get("HTTP_X_REQUEST_ID", ""))
                return _run(handler, schema, ack, sid, environ["saved_session"], data)
        wrapper.__name__ = wrapper.__qualname__ = handler.__name__
        wrapper.__doc__, wrapper.__wrapped__ = handler.__doc__, handler
        wrapper.payload_schema, wrapper.ack_schema = type(schema), type(ack)
        return wrapper
    return decorate


def _run(handler, schema, ack, sid, session, data):
    if not _slot():
        return busy()
    vouch = services.Vouch(session["auth_session"], session["user_id"])
    try:
        loaded = schema.load(data if isinstance(data, dict) else {})
        result = handler(session["principal"], loaded, vouch, sid)
        return result if isinstance(result, services.Wire) else ack.dump(result)
    except ValidationError as error:
        return envelope(Codes.VALIDATION, details={"fields": flatten_messages(error.messages)})
    except ApiError as error:
        db.session.rollback()
        return _refused(error, vouch, sid)
    except (PoolTimeout, RedisError):
        db.session.rollback()
        log.warning("chat event refused: busy", extra={"event": handler.__name__})
        return busy()
    except Exception:
        db.session.rollback()
        log.exception("chat event failed", extra={"event": handler.__name__})
        return envelope(Codes.SERVER_ERROR)
    finally:
        _slots[0].release()


@chat_event(SocketMessageSchema(), MessageSchema())
def on_send(user, data, vouch, sid):
    sent = services.post(user, data["conversation_id"], data.get("body"), data["attachment_ids"], data["client_id"],
                         vouch, skip_sid=sid)
    if sent.created:
        _typing.pop((sid, data["conversation_id"]), None)
    return sent.message if sent.pushed is None else sent.pushed  # the push's JSON is the ack's: dumped once


@chat_event(SocketReadSchema(), ReceiptSchema())
def on_read(user, data, vouch, sid):
    return services.mark_read(user, data["conversation_id"], data["message_id"], sid, vouch)


@chat_event(TypingSchema(), TypingStateSchema())
def on_typing(user, data, vouch, sid):
    payload = services.typing(user, data["conversation_id"], data["is_typing"], vouch)
    key = (sid, data["conversation_id"])
    if data["is_typing"]:
        watched = key in _typing  # a renewal moves the deadline its indicator's watcher sleeps towards
        _typing[key] = time.monotonic() + payload["expires_in"]
        if not watched:
            socketio.start_background_task(_lapse, current_app._get_current_object(), key, user.id)
    else:
        _typing.pop(key, None)
    return payload


def _lapse(app, key, user_id):
    """Send `is_typing: false` for an indicator nobody renewed or ended in time: one watcher per indicator,
    however often it is renewed (a client sends `true` every few seconds while its user types)."""
    while (deadline := _typing.get(key)) is not None and (left := deadline - time.monotonic()) > 0:
        socketio.sleep(left)
    if deadline is None:  # ended meanwhile (`is_typing: false`, a message, a disconnect)
        return
    del _typing[key]
    with app.app_context():
        services.announce_typing(user_id, key[1], False)


def _start_heartbeat():
    """Keep this process's sockets counted as online (one loop per process)."""
    if not _heartbeat:
        _heartbeat.append(socketio.start_background_task(_beat, current_app._get_current_object()))


def _beat(app):
    """Vouch for this process's sockets, and sweep up those of processes that died."""
    period = app.config["CHAT_PRESENCE_SECONDS"] / 3
    while True:
        socketio.sleep(period)
        with app.app_context():
            try:
                presence.refresh({fanout.socket_key(sid): user_id for sid, user_id in list(_sockets.items())})
                for user_id in presence.sweep():
                    services.announce_presence(user_id, False)
            except Exception:
                log.exception("presence heartbeat failed")


def register(sockets):
    """The `/chat` namespace's handlers, on this app's Socket.IO server; a revoked session's sockets close."""
    for event, handler in (("connect", on_connect), ("disconnect", on_disconnect)):
        sockets.on_event(event, handler, namespace=NAMESPACE)  # in a request context: join_room, the session
    for event, handler in (("message:send", on_send), ("message:read", on_read), ("typing", on_typing)):
        sockets.server.on(event, handler, namespace=NAMESPACE)  # straight to python-socketio (see chat_event)
    on_revoke(end_session_sockets)
