"""gunicorn's gevent workers share new connections evenly (casting.kernel.balancing): a worker stops
accepting while it holds more than one connection above the least busy live worker."""
import collections
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casting.kernel import balancing

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 40


def test_a_worker_ahead_of_the_least_busy_one_stops_accepting_and_a_silent_one_is_left_out():
    first, second = balancing.claim(), balancing.claim()
    try:
        now = time.monotonic()
        balancing._write(first, now, 3)
        balancing._write(second, now, 1)
        assert balancing.crowded(first, now) and not balancing.crowded(second, now)  # 3 > 1 + 1
        balancing._write(first, now, 2)
        assert not balancing.crowded(first, now)  # one ahead is allowed
        balancing._write(second, now - balancing.STALE_SECONDS - 1, 0)  # starting, hung or gone
        balancing._write(first, now, 30)
        assert not balancing.crowded(first, now)  # alone among the live ones: it accepts
    finally:
        balancing.release(first)
        balancing.release(second)
    assert balancing.claim() == first  # a released slot is given again
    balancing.release(first)


def _workers_taking(connections, server_urls, tmp_path, extra=()):
    """How many of `connections` keep-alive connections, opened at once, each of two gunicorn workers took."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "COV_"))}
    env.update(APP_ENV="test", DATABASE_URL=server_urls["database"], REDIS_URL=server_urls["redis"],
               INSTANCE_PATH=str(tmp_path), PORT=str(port), WEB_CONCURRENCY="2")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    process = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", *extra, "tests.pid_app:app"], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        served = set()
        while len(served) < 2 and time.monotonic() < deadline:  # both workers up (each answers a probe)
            try:
                served.add(_ask(socket.create_connection(("127.0.0.1", port), timeout=2)))
            except OSError:
                time.sleep(0.1)
        opened = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(connections)]
        time.sleep(0.5)  # let the workers accept them
        return collections.Counter(_ask(connection) for connection in opened)
    finally:
        process.terminate()
        process.wait(20)


def _ask(connection):
    """The pid in the answer to one request on `connection` (read to the end of its body), then closed."""
    with connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        answer = b""
        while True:
            received = connection.recv(4096)
            assert received, answer  # closed before the whole answer came
            answer += received
            head, ended, body = answer.partition(b"\r\n\r\n")
            if ended:
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                if len(body) >= length:
                    return body


@pytest.mark.timeout(90)
def test_connections_opened_at_once_are_shared_evenly_by_the_workers(server_urls, tmp_path):
    """gevent's worker accepts every waiting connection in one go: the first to wake took most of a burst."""
    taken = _workers_taking(CONNECTIONS, server_urls, tmp_path)
    assert len(taken) == 2 and max(taken.values()) - min(taken.values()) <= 4, taken
