"""Image work off the gevent loop: one bounded pool of OS threads per process, shared by every upload path
(and by password hashing: argon2id is C code that lets go of the GIL too).

Decoding, resizing and encoding run in Pillow's C code, which lets go of the GIL, so the loop keeps
answering other requests while a picture is worked on; at most MEDIA_WORKERS pictures are worked on at
once, and more wait their turn (each waiting request holds only its upload's bytes). Outside a gevent
server (a CLI command, an RQ worker, the in-process test client) there is no loop to keep free, and the
work runs inline.
"""
import os

from gevent import monkey

_pool = None
_pid = None


def _pool_of(size):
    """This process's pool, made on first use (after the fork: a thread pool does not survive one)."""
    global _pool, _pid
    if _pool is None or _pid != os.getpid():
        from gevent.threadpool import ThreadPool

        _pool, _pid = ThreadPool(maxsize=size), os.getpid()
    return _pool


def _outcome(function, args):
    """(True, result) or (False, error): an error goes back to the caller, not to gevent's error printer."""
    try:
        return True, function(*args)
    except Exception as error:
        return False, error


def offload(size, function, *args):
    """`function(*args)` on the media pool of `size` threads; only the calling greenlet waits for it."""
    if not monkey.is_module_patched("threading"):
        return function(*args)
    done, value = _pool_of(size).apply(_outcome, (function, args))
    if not done:
        raise value
    return value
