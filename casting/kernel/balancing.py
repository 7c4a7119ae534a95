"""New connections shared evenly among gunicorn's gevent workers (`gunicorn.conf.py` runs this worker).

Every worker waits on the same listening socket and whichever wakes first takes the next connection, so
connections opened at once (a load balancer's or a client's keep-alive pool) land unevenly: 34 and 16
of 50 in the submission burst's benchmark. A keep-alive connection stays where it landed and its
requests queue behind that worker's others, so the busier worker's clients wait about twice as long:
the latency's long tail. Here each worker counts its open connections in a table the master shares
with all of them, and stops accepting while it holds more than SLACK above the least busy live worker,
so the others take the next ones; it starts again as soon as it is no longer ahead. A worker whose
heartbeat is older than STALE_SECONDS (starting, hung or gone) is left out, so it never stops the
others accepting.
"""
import mmap
import struct
import time

import gevent
from gunicorn.workers import ggevent

SLOTS = 64  # workers alive at once, at most
SLACK = 1  # connections a worker may hold above the least busy one and still accept
BEAT_SECONDS = 0.02
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
        servers = []
        made = ggevent.StreamServer

        def server(*args, **kwargs):
            accepting = made(*args, **kwargs)
            pool_full, accept = accepting.full, accepting.do_read

            def do_read():
                accepted = accept()
                if accepted:
                    self._count(1)
                return accepted

            accepting.full = lambda: pool_full() or crowded(self.slot)
            accepting.do_read = do_read
            servers.append(accepting)
            return accepting

        ggevent.StreamServer = server  # this worker process's own module: the servers `run` makes
        gevent.spawn(self._beat, servers)
        return super().run()

    def _count(self, change):
        beat, connections = _read(self.slot)
        _write(self.slot, beat, connections + change)

    def _beat(self, servers):
        """Say this worker is alive, and accept again once it is no longer ahead of the others."""
        while True:
            _write(self.slot, time.monotonic(), _read(self.slot)[1])
            if not crowded(self.slot):
                for accepting in servers:
                    if accepting.started and not accepting.full():
                        accepting.start_accepting()
            gevent.sleep(BEAT_SECONDS)

    def handle(self, listener, client, addr):
        try:
            super().handle(listener, client, addr)
        finally:
            self._count(-1)
