"""Single flight: concurrent misses of one cached value compute it once, across processes (a Redis lock)."""
import time

from redis.exceptions import LockError

from casting.kernel.extensions import redis

WAIT_SECONDS = 10  # how long a miss waits for the one computing its value before computing it itself
POLL_SECONDS = 0.02


def single_flight(key, read, compute, write):
    """`compute()` the value of `key` and `write()` it, unless another miss is computing it: then wait until
    that one is done and `read()` what it wrote. A miss that finds nothing then (the other one failed, or
    made nothing to keep) computes for itself, so a failure is never queued behind. A miss nobody else
    shares costs the lock's two round trips."""
    lock = redis.lock(f"casting:lock:{key}", timeout=WAIT_SECONDS, sleep=POLL_SECONDS)
    if lock.acquire(blocking=False):
        try:
            return _computed(compute, write)
        finally:
            _release(lock)
    until = time.monotonic() + WAIT_SECONDS
    while lock.locked() and time.monotonic() < until:
        time.sleep(POLL_SECONDS)
    found = read()
    return found if found is not None else _computed(compute, write)


def _computed(compute, write):
    value = compute()
    write(value)
    return value


def _release(lock):
    try:
        lock.release()
    except LockError:
        pass  # it outlived WAIT_SECONDS and expired: nothing left to release
