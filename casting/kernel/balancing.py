"""New connections shared evenly among gunicorn's gevent workers (`gunicorn.conf.py` runs this worker).

Every worker waits on the same listening socket and whichever wakes first takes the next connection, so
connections opened at once (a load balancer's or a client's keep-alive pool) land unevenly: 34 and 16
of 50 in the submission burst's benchmark. A keep-alive connection stays where it landed and its
requests queue behind that worker's others, so the busier worker's clients wait about twice as long:
the latency's long tail. Here each worker counts its open connections in a table the master shares
with all of them, and leaves a waiting connection to the others while it holds more than SLACK above
the least busy live worker: it looks again every DEFER_SECONDS, and takes the connection itself if
none of them has after MAX_DEFER_SECONDS (a busy or slow worker never keeps a client waiting longer
than that). A worker whose heartbeat is older than STALE_SECONDS (starting, hung or gone) is left out,
so it never stops the others accepting.
"""
import mmap
import struct
import time

import gevent
from gunicorn.workers import ggevent

SLOTS = 64  # workers alive at once, at most
SLACK = 1  # connections a worker may hold above the least busy one and still accept
DEFER_SECONDS = 0.001
MAX_DEFER_SECONDS = 0.01
BEAT_SECONDS = 0.05
STALE_SECONDS = 0.5
_ROW = struct.Struct("dq")  # last heartbeat (time.monotonic(), the same clock in every process), connections
_table = mmap.mmap(-1, SLOTS * _ROW.size)  # made in the master at import, shared with every worker it forks
_taken = set()  # the master's record of the slots its workers hold


def _read(slot):
    return _ROW.unpack_from(_table, slot * _ROW.size)


def _write(slot, beat, connections):
    _ROW.pack_into(_table, slot * _ROW.size, beat, connections)


def claim():
    """In the master, before a fork: a free slot for the new worker."""
    slot = min(set(range(SLOTS)) - _taken)
    _taken.add(slot)
    _write(slot, 0.0, 0)
    return slot


def release(slot):
    """In the master, when a worker exits: its slot is free (and no longer counted)."""
    _write(slot, 0.0, 0)
    _taken.discard(slot)


def crowded(slot, now=None):
    """Whether the worker in `slot` holds more than SLACK connections above the least busy live one."""
    now = time.monotonic() if now is None else now
    mine = _read(slot)[1]
    others = [connections for other, (beat, connections) in ((other, _read(other)) for other in range(SLOTS))
              if other != slot and now - beat < STALE_SECONDS]
    return bool(others) and mine > min(others) + SLACK


class BalancedGeventWorker(ggevent.GeventWorker):
    """gunicorn's gevent worker, accepting only while it is not ahead of the others (`crowded`)."""

    slot = None  # given by `claim` in the master (gunicorn.conf.py's pre_fork)

    def run(self):
        if self.slot is None:
            return super().run()
        made = ggevent.StreamServer

        def server(*args, **kwargs):
            accepting = made(*args, **kwargs)
            pool_full, accept = accepting.full, accepting.do_read
            deferred = {"since": None, "timer": None}

            def look_again():
                if accepting.started:
                    accepting.start_accepting()

            def full():
                """gevent asks before each accept: True stops accepting (here, for DEFER_SECONDS)."""
                if pool_full():
                    return True
                now = time.monotonic()
                if not crowded(self.slot, now):
                    deferred["since"] = None
                    return False
                deferred["since"] = deferred["since"] or now
                if now - deferred["since"] >= MAX_DEFER_SECONDS:  # the others have not taken it
                    deferred["since"] = None
                    return False
                deferred["timer"] = gevent.get_hub().loop.timer(DEFER_SECONDS)
                deferred["timer"].start(look_again)
                return True

            def do_read():
                accepted = accept()
                if accepted:
                    self._count(1)
                return accepted

            accepting.full, accepting.do_read = full, do_read
            return accepting

        ggevent.StreamServer = server  # this worker process's own module: the servers `run` makes
        gevent.spawn(self._beat)
        return super().run()

    def _count(self, change):
        beat, connections = _read(self.slot)
        _write(self.slot, beat, connections + change)

    def _beat(self):
        """Say this worker is alive (a silent one is left out of the others' comparison)."""
        while True:
            _write(self.slot, time.monotonic(), _read(self.slot)[1])
            gevent.sleep(BEAT_SECONDS)

    def handle(self, listener, client, addr):
        try:
            super().handle(listener, client, addr)
        finally:
            self._count(-1)
