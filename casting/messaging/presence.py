"""Who is online, shared by every server process through Redis.

Each user has a sorted set of their live sockets (`<host id>/<socket id>`: the host id names the
server process that holds it, see `casting.messaging.fanout`), scored by when each stops counting (a heartbeat
from the socket's process pushes that forward). A user is online while any score is in the future,
so a process that dies takes its sockets offline within one presence period, without help. Adding or
removing a socket and counting the rest happen in one transaction: exactly one connect reports
"came online" and exactly one disconnect reports "went offline", whichever processes they run on.

A socket whose process died never disconnects, so every socket is also listed, with the same expiry,
in one set for all users; each process's heartbeat sweeps it, claiming each expired socket with a
ZREM, and reports the users that leaves with no live socket.
"""
import time

from flask import current_app

from casting.kernel.extensions import redis


ALL_SOCKETS = "casting:presence:sockets"


def _key(user_id):
    return f"casting:presence:{user_id}"


def _period():
    return current_app.config["CHAT_PRESENCE_SECONDS"]


def queue_change(pipe, user_id, sid, add):
    """Queue on a transaction (MULTI) the commands that add or remove one socket; the reply at offset
    `CHANGE_COUNT` of those it queued is how many live sockets the user has afterwards."""
    now = time.time()
    key = _key(user_id)
    pipe.zremrangebyscore(key, "-inf", now)
    if add:
        pipe.zadd(key, {sid: now + _period()})
        pipe.zadd(ALL_SOCKETS, {f"{user_id}:{sid}": now + _period()})
    else:
        pipe.zrem(key, sid)
        pipe.zrem(ALL_SOCKETS, f"{user_id}:{sid}")
    pipe.zcard(key)
    pipe.expire(key, _period() * 2)


CHANGE_COUNT, CHANGE_COMMANDS = 3, 5


def _change(user_id, sid, add):
    """Add or remove one socket; returns how many live sockets the user has afterwards."""
    with redis.pipeline(transaction=True) as pipe:
        queue_change(pipe, user_id, sid, add)
        return pipe.execute()[CHANGE_COUNT]


def connected(user_id, sid):
    """Count a new socket; True when it brought the user online."""
    return _change(user_id, sid, add=True) == 1


def disconnected(user_id, sid):
    """Forget a socket; True when it was the user's last one."""
    return _change(user_id, sid, add=False) == 0


def refresh(sockets):
    """Push forward the expiry of this process's sockets: `sockets` maps socket id to user id.

    Only sockets still listed are touched (`XX`), so a socket that disconnected meanwhile stays gone.
    """
    expires = time.time() + _period()
    with redis.pipeline(transaction=False) as pipe:
        for sid, user_id in sockets.items():
            pipe.zadd(_key(user_id), {sid: expires}, xx=True)
            pipe.zadd(ALL_SOCKETS, {f"{user_id}:{sid}": expires}, xx=True)
            pipe.expire(_key(user_id), _period() * 2)
        pipe.execute()


def sweep(limit=500):
    """Forget sockets nobody vouched for in time (their process died); the users that left offline."""
    gone = set()
    for member in redis.zrangebyscore(ALL_SOCKETS, "-inf", time.time(), start=0, num=limit):
        if redis.zrem(ALL_SOCKETS, member):  # claimed here, not by another process's sweep
            user_id, sid = member.decode().split(":", 1)
            if disconnected(int(user_id), sid):
                gone.add(int(user_id))
    return gone


def ask_sockets(pipe, user_ids):
    """Queue on `pipe` the reads `sockets_of` needs (one command per user, in the caller's round trip)."""
    now = time.time()
    for user_id in user_ids:
        pipe.zrangebyscore(_key(user_id), now, "+inf")


def sockets_of(user_ids, replies):
    """{user id: [socket keys]} from the replies to `ask_sockets` (users with no live socket left out)."""
    return {user_id: [key.decode() for key in keys] for user_id, keys in zip(user_ids, replies) if keys}


def online(user_ids):
    """The subset of `user_ids` that have a live socket now."""
    user_ids = list(user_ids)
    now = time.time()
    with redis.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            pipe.zcount(_key(user_id), now, "+inf")
        counts = pipe.execute()
    return {user_id for user_id, count in zip(user_ids, counts) if count}
