"""The Socket.IO message queue in Redis, made to lose nothing when Redis is away for a while.

python-socketio's RedisManager gives up on an emit it cannot publish (the message is stored, but the other
participants are never pushed it), and its listener backs off up to a minute after Redis returns. Here an
emit that cannot be published waits, in order, in the process (up to `UNSENT_MOST`), and goes out before the
next one, or as soon as the listener is connected again; the listener tries again every second. A process
that dies with emits waiting loses only the live push: the messages are stored, and a client catches up on
reconnect from the REST history.
"""
import logging
import time
from collections import deque

from socketio import RedisManager

log = logging.getLogger(__name__)
UNSENT_MOST = 10_000
RETRY_SECONDS = 1


class DurableRedisManager(RedisManager):
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

    def _redis_listen_with_retries(self):
        connected = False
        while True:
            try:
                if not connected:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel)
                    connected = True
                    self.flush()
                yield from self.pubsub.listen()
            except Exception as error:
                log.warning("chat fan-out: cannot receive from Redis, retrying in %s s", RETRY_SECONDS,
                            extra={"error": type(error).__name__})
                connected = False
                time.sleep(RETRY_SECONDS)
