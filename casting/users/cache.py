"""The `user` cache: a user's own profile and preferences (what `GET /api/auth/me` answers), as JSON
bytes serialised once, for an hour; dropped when the user's row is written.

Every commit that changes a user drops that user's entry (`forget`, called from the ORM hook in
`casting.auth.principal`, so no write path can miss it). A reader that loaded the row while a
write was under way does not store it: the write bumps the user's generation, and the store is
made only if the generation is still the one seen before the row was read.
"""
from redis.exceptions import RedisError

from casting.extensions import redis
from casting.jsonprovider import dumps_bytes

TIMEOUT = 3600

# KEYS: entry, generation. ARGV: generation seen before reading (or ''), the bytes, the timeout.
_STORE_UNLESS_WRITTEN = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


def _keys(user_id):
    return f"casting:cache:user:{user_id}", f"casting:cache:user-generation:{user_id}"


def own_profile(user_id, load, schema):
    """The user's profile as JSON bytes: from the cache, or `schema` dumped from `load()` and stored."""
    entry, generation = _keys(user_id)
    try:
        raw, seen = redis.mget(entry, generation)
    except RedisError:
        raw = seen = None
    if raw is not None:
        return raw
    raw = dumps_bytes(schema.dump(load()))
    try:
        redis.eval(_STORE_UNLESS_WRITTEN, 2, entry, generation, seen or b"", raw, TIMEOUT)
    except RedisError:
        pass
    return raw


def forget(*user_ids):
    """After a committed write to these users: a new generation, and their entries gone."""
    with redis.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            entry, generation = _keys(user_id)
            pipe.incr(generation)
            pipe.expire(generation, TIMEOUT)
            pipe.delete(entry)
        pipe.execute()
