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

from socketio import RedisManager

from casting.extensions import socketio

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
