"""gunicorn's gevent workers share new connections evenly (casting.kernel.balancing): a worker stops
accepting while it holds more than one connection above the least busy live worker."""
import time

from casting.kernel import balancing


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
