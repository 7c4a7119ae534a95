"""Talent caches and their invalidation, side by side: every write path calls `forget(talent_id)`.

Lists and searches cache the matching ids and the total for 5 minutes under a version number that
every write bumps, so a write shows in the next read at once. A profile caches for an hour and is
dropped on its own write. What a viewer may see (the date of birth) is decided after the cache.
"""
import hashlib
import json

from casting.extensions import cache, redis

LIST_TIMEOUT = 300
PROFILE_TIMEOUT = 3600
VERSION_KEY = "casting:talents:list-version"


def _version():
    return int(redis.get(VERSION_KEY) or 0)


def list_key(filters):
    digest = hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()
    return f"talents:list:{_version()}:{digest}"


def profile_key(talent_id):
    return f"talents:profile:{talent_id}"


def cached_page(filters, compute):
    """The (ids, total) for `filters`, from the cache or `compute()`."""
    key = list_key(filters)
    hit = cache.get(key)
    if hit is None:
        hit = compute()
        cache.set(key, hit, timeout=LIST_TIMEOUT)
    return hit


def cached_profile(talent_id, compute):
    hit = cache.get(profile_key(talent_id))
    if hit is None:
        hit = compute()
        if hit is not None:
            cache.set(profile_key(talent_id), hit, timeout=PROFILE_TIMEOUT)
    return hit


def forget(talent_id):
    """After any write to a talent: drop its profile and every cached list."""
    cache.delete(profile_key(talent_id))
    redis.incr(VERSION_KEY)
