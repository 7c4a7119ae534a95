"""Admission control: a web process takes on no more work than it can finish in time.

Under gevent a worker accepts every connection it is offered (up to WORKER_CONNECTIONS) and runs them
all at once on one core: past the knee each request gets a smaller slice of the CPU, every answer
slows down together, and clients time out instead of hearing "busy". This WSGI middleware lets at most
ADMISSION_LIMIT requests of this process into the app at a time; the others wait for a place, in
arrival order, for at most ADMISSION_WAIT_MS, and one that gets none in that time is answered at once
with 503 `SERVER_003` and `Retry-After`, without entering Flask (no database, no Redis, a few
microseconds of CPU). So a crowd is served as fast as the process can, and what it cannot serve is
refused fast and explicitly, never left to time out.

The limit should not exceed what the database pool can lend at once (DB_POOL_SIZE + DB_MAX_OVERFLOW),
or admitted requests would queue again, invisibly, on the pool. Long-lived Socket.IO connections and the
liveness and readiness probes (a load balancer must still see a busy process as alive) bypass it.
"""
import threading
from collections import deque
from datetime import datetime, timezone

import orjson

from casting.kernel.errors import Codes
from casting.kernel.requestid import sane_or_new
from casting.kernel.web import API_CSP

EXEMPT_PREFIXES = ("/socket.io", "/api/health", "/metrics")
RETRY_AFTER_SECONDS = 1


class Places:
    """`limit` places handed out first come, first served: a freed place goes straight to the request that
    has waited longest, never to one that arrives meanwhile. (A semaphore lets a newcomer take a freed
    place before the waiter it woke runs, and that waiter queues again at the back: under a steady
    crowd some requests wait several turns, the long tail of the latency.) Its locks and events are
    gevent's under the monkey-patched gevent worker, so its waiters are greenlets."""

    def __init__(self, limit):
        self.free = limit
        self.lock = threading.Lock()
        self.waiting = deque()

    def acquire(self, timeout):
        """Take a place, waiting at most `timeout` seconds in arrival order; False when none came."""
        with self.lock:
            if self.free and not self.waiting:
                self.free -= 1
                return True
            turn = threading.Event()
            self.waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self.lock:
            if turn.is_set():  # handed over just as the wait ended
                return True
            self.waiting.remove(turn)
            return False

    def release(self):
        """Free a place: to the longest waiting request, if any."""
        with self.lock:
            if self.waiting:
                self.waiting.popleft().set()
            else:
                self.free += 1


class AdmissionControl:
    """WSGI middleware: at most `limit` requests in `app` at once; the rest wait up to `wait_seconds`."""

    def __init__(self, app, limit, wait_seconds, on_refused=None):
        self.app = app
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.places = Places(limit)
        self.on_refused = on_refused

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(EXEMPT_PREFIXES):
            return self.app(environ, start_response)
        if not self.places.acquire(timeout=self.wait_seconds):
            return self.refuse(environ, start_response)
        try:
            return self.app(environ, start_response)
        finally:
            self.places.release()

    def refuse(self, environ, start_response):
        """503 SERVER_003 with Retry-After, the envelope built here (Flask is not entered)."""
        request_id = sane_or_new(environ.get("HTTP_X_REQUEST_ID", ""))
        error = Codes.BUSY
        body = orjson.dumps({"code": error.code, "message": error.message,
                             "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                             "requestId": request_id})
        start_response(f"{error.status} Service Unavailable", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
            ("Retry-After", str(RETRY_AFTER_SECONDS)), ("X-Request-ID", request_id),
            ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY"),
            ("Content-Security-Policy", API_CSP)])
        if self.on_refused:
            self.on_refused(environ.get("REQUEST_METHOD", "GET"))
        return [body]


def register_admission_control(app):
    """Wrap the app's WSGI callable when ADMISSION_LIMIT is set (0 turns it off)."""
    limit = app.config["ADMISSION_LIMIT"]
    if limit <= 0:
        return None
    from casting.kernel.observability import record_refusal

    control = AdmissionControl(app.wsgi_app, limit, app.config["ADMISSION_WAIT_MS"] / 1000,
                               on_refused=record_refusal)
    app.wsgi_app = control
    return control
