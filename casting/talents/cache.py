"""Talent caches and their invalidation, side by side: every write path calls `forget(talent_id)`.

Lists and searches cache the matching ids and the total for 5 minutes under a version number that
every write bumps, so a write shows in the next read at once. Profiles (the snapshots every response
is made from) cache for an hour and are dropped on their own write; a snapshot read while a write
was under way is not cached (the version is watched), so a stale profile never outlives a write.
What a viewer may see (the date of birth, photo links) is decided after the cache.
"""
import hashlib
import json

from redis.exceptions import LockError, WatchError

from casting.extensions import cache, redis

LIST_TIMEOUT = 300
COMPUTE_SECONDS = 10  # how long concurrent misses of one list wait for the first to fill it
PROFILE_TIMEOUT = 3600
VERSION_KEY = "casting:talents:list-version"
PROFILE_PREFIX = "casting:cache:talents:profile:"


LIST_SHAPE = 2  # bumped when what a cached page holds changes (2: exact-total flag, match likeness)


def list_key(filters, version):
    digest = hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()
    return f"talents:list:{LIST_SHAPE}:{int(version or 0)}:{digest}"


def cached_page(filters, compute):
    """The (ids, total) for `filters`, from the cache or `compute()`; concurrent misses compute once."""
    key = list_key(filters, redis.get(VERSION_KEY))
    hit = cache.get(key)
    if hit is not None:
        return hit
    lock = redis.lock(f"casting:lock:{key}", timeout=COMPUTE_SECONDS, blocking_timeout=COMPUTE_SECONDS,
                      sleep=0.02)
    acquired = lock.acquire()
    try:
        hit = cache.get(key) if acquired else None  # filled by whoever held the lock before us
        if hit is None:
            hit = compute()
            cache.set(key, hit, timeout=LIST_TIMEOUT)
        return hit
    finally:
        if acquired:
            _release(lock)


def _release(lock):
    try:
        lock.release()
    except LockError:
        pass  # it outlived COMPUTE_SECONDS and expired: nothing left to release


def cached_profiles(ids, load):
    """Snapshots for `ids` in order (those `load` finds): cached ones in one round trip, the rest loaded."""
    if not ids:
        return []
    serializer = cache.cache.serializer
    version, *found = redis.mget(VERSION_KEY, *(PROFILE_PREFIX + str(talent_id) for talent_id in ids))
    snapshots = {talent_id: serializer.loads(raw) for talent_id, raw in zip(ids, found) if raw is not None}
    missing = [talent_id for talent_id in ids if talent_id not in snapshots]
    if missing:
        loaded = load(missing)
        snapshots.update(loaded)
        _store_unless_written(loaded, version)
    return [snapshots[talent_id] for talent_id in ids if talent_id in snapshots]


def _store_unless_written(snapshots, version):
    """Cache `snapshots` only if no write has bumped the version since they were read."""
    if not snapshots:
        return
    with redis.pipeline() as pipe:
        try:
            pipe.watch(VERSION_KEY)
            if pipe.get(VERSION_KEY) != version:
                return
            pipe.multi()
            for talent_id, snapshot in snapshots.items():
                pipe.setex(PROFILE_PREFIX + str(talent_id), PROFILE_TIMEOUT, cache.cache.serializer.dumps(snapshot))
            pipe.execute()
        except WatchError:
            pass  # a write landed meanwhile: the next read loads afresh


def forget(talent_id):
    """After any write to a talent (committed): bump the version, then drop its profile."""
    redis.incr(VERSION_KEY)
    redis.delete(PROFILE_PREFIX + str(talent_id))
