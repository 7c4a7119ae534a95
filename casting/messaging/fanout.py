"""Live chat events, sent only to the server processes that hold a recipient's socket.

Flask-SocketIO's Redis queue sends every emit to every process, each of which decodes it and looks
for the rooms' sockets. Here each process also listens on a channel of its own
(`flask-socketio:<host id>`), and presence (`casting.messaging.presence`) records each socket as
`<host id>/<socket id>`, so an event is published once per process that holds a recipient's socket
(none when they all are on this process: those are written to their sockets directly), and nobody
else decodes it. A recipient with no live socket gets nothing live (they catch up over REST, and the
away notice tells them). When presence cannot be read, the event goes to every process, as before.

Nothing is lost when Redis is away for a while: python-socketio's RedisManager gives up on an emit it
cannot publish, and its listener backs off up to a minute after Redis returns. Here an emit that cannot be
published waits, in order, in the process (up to `UNSENT_MOST`), and goes out before the next one, or as
soon as the listener is connected again; the listener tries again every second. A process that dies with
emits waiting loses only the live push: the messages are stored, and a client catches up on reconnect
from the REST history.
"""
import json
import logging
import time
from collections import deque
from datetime import datetime, timezone
from urllib.parse import parse_qs

from socketio import RedisManager

from casting.kernel.errors import Codes
from casting.kernel.extensions import socketio
from casting.kernel.requestid import sane_or_new

log = logging.getLogger(__name__)
UNSENT_MOST = 10_000
RETRY_SECONDS = 1


class DurableRedisManager(RedisManager):
    """python-socketio's Redis manager, whose emits wait for Redis instead of being dropped."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unsent = deque(maxlen=UNSENT_MOST)

    def _send(self, data):
        for _ in range(2):
            try:
                if not self.connected:
                    self._redis_connect()
                self.redis.publish(self.channel, self.json.dumps(data))
                return True
            except Exception:  # nosec B112 - redis or socket errors: try once more, then keep it for later
                self.connected = False
        return False

    def flush(self):
        """Publish the emits that waited, oldest first; False if Redis is still away."""
        while self.unsent:
            if not self._send(self.unsent[0]):
                return False
            self.unsent.popleft()
        return True

    def _publish(self, data):
        if self.flush() and self._send(data):
            return
        if len(self.unsent) == self.unsent.maxlen:
            log.error("chat fan-out: the oldest waiting emit is dropped (Redis away too long)")
        self.unsent.append(data)
        log.warning("chat fan-out: Redis unreachable, the emit waits", extra={"waiting": len(self.unsent)})

    def subscriptions(self):
        return [self.channel]

    def _redis_listen_with_retries(self):
        connected = False
        while True:
            try:
                if not connected:
                    self._redis_connect()
                    self.pubsub.subscribe(*self.subscriptions())
                    connected = True
                    self.flush()
                yield from self.pubsub.listen()
            except Exception as error:
                log.warning("chat fan-out: cannot receive from Redis, retrying in %s s", RETRY_SECONDS,
                            extra={"error": type(error).__name__})
                connected = False
                time.sleep(RETRY_SECONDS)


CHANNEL = "flask-socketio"


class ChatManager(DurableRedisManager):
    """The Redis client manager, listening on the shared channel and on this process's own."""

    @property
    def own_channel(self):
        return f"{self.channel}:{self.host_id}"

    def subscriptions(self):
        return [self.channel, self.own_channel]

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
            "requestId": sane_or_new(offered)}).encode()
        start_response("400 BAD REQUEST", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
