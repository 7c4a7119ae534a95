"""Single flight: concurrent misses of one cached value compute it once, across processes (a Redis lock).

The miss that claims the lock (`SET NX`, with a token of its own) computes the value, then stores it and
lets the lock go in one round trip (`STORE_AND_UNLOCK`); a script that reads a cached value can claim
the lock in the same call that found the value missing (see `casting.talents.cache`).
"""
import time
import uuid

from redis.exceptions import RedisError

from casting.kernel.extensions import redis, script

WAIT_SECONDS = 10  # how long a miss waits for the one computing its value before computing it itself
POLL_SECONDS = 0.02
LOCK_PREFIX = "casting:lock:"  # then the value's key

# KEYS: the lock, then the value's key when there is one to store. ARGV: the lock's token, then the value
# and its seconds. The lock goes only if it is still this miss's (it outlived WAIT_SECONDS otherwise).
STORE_AND_UNLOCK = """
if KEYS[2] then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
"""


class Flight:
    """One miss of the value at Redis key `key`: its lock, and the token that says the lock is its own."""

    def __init__(self, key, token=None):
        self.key, self.lock, self.token = key, LOCK_PREFIX + key, token or new_token()

    def claim(self):
        """Take the lock unless another miss holds it; whether this one did."""
        return bool(redis.set(self.lock, self.token, nx=True, px=WAIT_SECONDS * 1000))

    def waited(self, read):
        """`read()` once the miss holding the lock is done (or WAIT_SECONDS have passed)."""
        until = time.monotonic() + WAIT_SECONDS
        while redis.exists(self.lock) and time.monotonic() < until:
            time.sleep(POLL_SECONDS)
        return read()

    def land(self, compute, keep):
        """`compute()`; store what `keep(value)` gives, `(bytes, seconds)` or None for nothing, and let the
        lock go, in one round trip. A value that could not be stored is still returned; a failure lets the
        lock go, so those waiting compute for themselves."""
        try:
            value = compute()
            kept = keep(value)
        except BaseException:
            self.unlock()
            raise
        try:
            script(STORE_AND_UNLOCK)(keys=[self.lock, self.key] if kept else [self.lock],
                                     args=[self.token, *(kept or ())])
        except RedisError:
            pass  # served uncached; the lock expires by itself
        return value

    def unlock(self):
        try:
            script(STORE_AND_UNLOCK)(keys=[self.lock], args=[self.token])
        except RedisError:
            pass  # it expires by itself


def new_token():
    return uuid.uuid4().hex


def single_flight(key, read, compute, keep):
    """The value of Redis key `key`: `compute()` it and store what `keep(value)` gives (as `Flight.land`),
    unless another miss is computing it: then wait until that one is done and `read()` what it stored. A
    miss that finds nothing then (the other one failed, or made nothing to keep) computes for itself, so a
    failure is never queued behind. A miss nobody else shares costs two round trips: the claim, and the
    store with the lock's release."""
    flight = Flight(key)
    if flight.claim():
        return flight.land(compute, keep)
    found = flight.waited(read)
    return found if found is not None else flight.land(compute, keep)
