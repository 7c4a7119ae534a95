"""The `user` cache: a user's own profile and preferences (what `GET /api/auth/me` answers), as JSON
bytes serialised once, for an hour; dropped when the user's row is written.

Every commit that changes a user drops that user's entry (`forget`, called from the ORM hook in
`casting.auth.principal`, so no write path can miss it). A reader that loaded the row while a
write was under way does not store it: the write bumps the user's generation, and the store is
made only if the generation is still the one seen before the row was read.

The entry holds the user's email and phone, so it is kept encrypted with the PII keys (`PII_KEYS`),
like those columns in PostgreSQL: Redis never holds them in clear.
"""
from cryptography.fernet import InvalidToken
from redis.exceptions import RedisError

from casting.auth import prefetched
from casting.kernel.extensions import redis, script
from casting.kernel.jsonprovider import dumps_bytes
from casting.kernel.pii import fernet

TIMEOUT = 3600

# KEYS: entry, generation. ARGV: generation seen before reading (or ''), the bytes, the timeout.
_STORE_UNLESS_WRITTEN = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


def keys(user_id, view_args=None):
    """The user's entry and generation keys (a `prefetch` of the routes that read them)."""
    return f"casting:cache:user:{user_id}", f"casting:cache:user-generation:{user_id}"


def own_profile(user_id, load, schema):
    """The user's profile as JSON bytes: from the cache, or `schema` dumped from `load()` and stored."""
    entry, generation = keys(user_id)
    try:
        raw, seen = prefetched(entry, generation) or redis.mget(entry, generation)
    except RedisError:
        raw = seen = None
    if raw is not None:
        try:
            return fernet().decrypt(raw)
        except InvalidToken:
            pass  # stored under a key since retired: made again below
    body = dumps_bytes(schema.dump(load()))
    try:
        script(_STORE_UNLESS_WRITTEN)(keys=[entry, generation], args=[seen or b"", fernet().encrypt(body), TIMEOUT])
    except RedisError:
        pass
    return body


def forget(*user_ids):
    """After a committed write to these users: a new generation, and their entries gone."""
    with redis.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            entry, generation = keys(user_id)
            pipe.incr(generation)
            pipe.expire(generation, TIMEOUT)
            pipe.delete(entry)
        pipe.execute()
