"""Live chat events, sent only to the server processes that hold a recipient's socket.

Flask-SocketIO's Redis queue sends every emit to every process, each of which decodes it and looks
for the rooms' sockets. Here each process also listens on a channel of its own
(`flask-socketio:<host id>`), and presence (`casting.messaging.presence`) records each socket as
`<host id>/<socket id>`, so an event is published once per process that holds a recipient's socket
(none when they all are on this process: those are written to their sockets directly), and nobody
else decodes it. A recipient with no live socket gets nothing live (they catch up over REST, and the
away notice tells them). When presence cannot be read, the event goes to every process, as before.
"""
import json
import logging
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs

from socketio import RedisManager

from casting.errors import Codes
from casting.extensions import socketio
from casting.requestid import _SANE as _SANE_ID

log = logging.getLogger(__name__)
CHANNEL = "flask-socketio"


class ChatManager(RedisManager):
    """The Redis client manager, listening on the shared channel and on this process's own."""

    @property
    def own_channel(self):
        return f"{self.channel}:{self.host_id}"

    def _redis_listen_with_retries(self):  # pragma: no cover - the library's loop, two channels
        retry_sleep, subscribed = 1, False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel, self.own_channel)
                    subscribed, retry_sleep = True, 1
                yield from self.pubsub.listen()
            except Exception as error:
                log.error("cannot receive from Redis, retrying in %s s", retry_sleep, extra={"error": str(error)})
                subscribed = False
                socketio.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, 60)

    def _listen(self):  # pragma: no cover - exercised by the live tests, in the server processes
        channels = {self.channel.encode(), self.own_channel.encode()}
        for message in self._redis_listen_with_retries():
            if message["channel"] in channels and message["type"] == "message" and "data" in message:
                yield message["data"]


def manager():
    return socketio.server.manager


def host_id():
    return manager().host_id


def socket_key(sid):
    """How presence names a socket of this process."""
    return f"{host_id()}/{sid}"


def plan(user_ids, sockets, room):
    """{host id: [rooms]} for `user_ids`, given presence's `sockets` ({user id: [socket keys]})."""
    hosts = {}
    for user_id in user_ids:
        for key in sockets.get(user_id, ()):
            hosts.setdefault(key.split("/", 1)[0], set()).add(room(user_id))
    return {host: sorted(rooms) for host, rooms in hosts.items()}


def emit(pipe, event, payload, namespace, targets, skip_sid=None):
    """Queue on `pipe` one publish per other process in `targets` ({host id: rooms}); returns a callable
    that writes the event to this process's sockets (call it once `pipe` has been executed)."""
    queue, mine = manager(), None
    for host, rooms in targets.items():
        if host == queue.host_id:
            mine = rooms
            continue
        pipe.publish(f"{queue.channel}:{host}", json.dumps({
            "method": "emit", "event": event, "data": [payload], "binary": False, "namespace": namespace,
            "room": rooms, "skip_sid": skip_sid, "callback": None, "host_id": queue.host_id}))

    def local():
        if mine:
            socketio.server.emit(event, payload, namespace=namespace, to=mine, skip_sid=skip_sid, ignore_queue=True)
    return local


class WebSocketOnly:
    """WSGI middleware: a Socket.IO request on another transport than WebSocket (long-polling, which
    needs sticky sessions behind several workers and is not served) gets the error envelope
    (`400 MESSAGE_010`, JSON) instead of Engine.IO's plain-text `"Invalid transport"`."""

    def __init__(self, wsgi_app, path="/socket.io"):
        self.wsgi_app, self.path = wsgi_app, path

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(self.path):
            transport = parse_qs(environ.get("QUERY_STRING", "")).get("transport", ["polling"])[0]
            if transport != "websocket":
                return self._refuse(environ, start_response, transport)
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _refuse(environ, start_response, transport):
        error = Codes.CHAT_TRANSPORT
        offered = environ.get("HTTP_X_REQUEST_ID", "")
        body = json.dumps({"code": error.code, "message": error.message, "details": {
            "transport": transport[:32], "transports": ["websocket"]},
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "requestId": offered if _SANE_ID.match(offered) else uuid.uuid4().hex}).encode()
        start_response("400 BAD REQUEST", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
