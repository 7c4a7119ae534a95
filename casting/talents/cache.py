"""Talent caches and their invalidation, side by side: every write path calls `forget(talent_id)`.

Lists, searches and role rankings cache the matching ids and the total for 5 minutes. Their key holds the
version of each *topic* the list reads (`list_topics`: the columns its filters, `q` and sort read, and `rows`,
moved by a new, deleted or restored profile), and an edit moves only the topics of the columns it changed
(`forget(id, changed)`; a vector moves `embedding`, a photo none unless a headshot moves `profile_score`): a new
day rate drops the lists sorted by day rate or by last update, not every search in the city. Profiles (the
snapshots every response is made from) cache for an hour and are dropped on their own write; the list
version (`VERSION_KEY`), moved by every write, guards them (a snapshot read while a write was under way
is not cached) and everything made from whole profiles: cached response bodies.
What a viewer may see (the date of birth, photo links) is decided after the cache.

The talent routes read a second form of each profile: its public JSON, serialised once (with the
photo links of the current signing window, so it lives at most until that window ends), behind a
short header that says who manages it and the date of birth they alone see. A cached page, listing
ids under its topics' versions, is read with its profiles in one round trip (`cached_page_json`).
"""
import hashlib
import json
import time

from flask import current_app

from casting.auth import prefetched
from casting.kernel.extensions import cache, redis, script
from casting.kernel.flight import LOCK_PREFIX, WAIT_SECONDS, Flight, new_token, single_flight

LIST_TIMEOUT = 300
PROFILE_TIMEOUT = 3600
VERSION_KEY = "casting:talents:list-version"
OWNER_PREFIX = "casting:talents:own-profile-version:"  # then a user id and a topic: own_profile_versions
BULK_KEY = "casting:talents:bulk-version"  # moved by writes past the services (seeding)
TOPICS_KEY = "casting:talents:topics"  # a hash: topic -> version, see list_topics
ROWS = "rows"  # the topic every list reads: moved by every write but a plain edit
PROFILE_PREFIX = "casting:cache:talents:profile:"
JSON_PREFIX = "casting:cache:talents:json:"
IDS_PREFIX = "casting:cache:talents:list:ids:2:"  # then topic versions and the digest: `total:exact|ids`
OWN_PREFIX = "casting:cache:talents:own:"  # then a user id: the id of the talent they were last seen to own

# KEYS: the list version, the topics' hash. ARGV: ids prefix, filters digest, JSON prefix, the lock prefix,
# a lock token, the lock's milliseconds, then the list's topics. Returns {version, the listing's key, ids
# entry or false, then each listed profile's JSON entry or false}: a cached page in one round trip. A
# missing listing is claimed for this miss in the same call (`flight`): then the fourth item is 1, else 0.
_PAGE = """
local version = redis.call('GET', KEYS[1]) or '0'
local topics = {}
for i = 7, #ARGV do topics[#topics + 1] = ARGV[i] end
local seen = redis.call('HMGET', KEYS[2], unpack(topics))
for i = 1, #seen do seen[i] = seen[i] or '0' end
local key = ARGV[1] .. table.concat(seen, '.') .. ':' .. ARGV[2]
local listing = redis.call('GET', key)
local result = {version, key, listing}
if listing then
  local bar = string.find(listing, '|', 1, true)
  for id in string.gmatch(string.sub(listing, bar + 1), '%d+') do
    result[#result + 1] = redis.call('GET', ARGV[3] .. id)
  end
else
  result[4] = redis.call('SET', ARGV[4] .. key, ARGV[5], 'NX', 'PX', ARGV[6]) and 1 or 0
end
return result
"""

# KEYS: the lock, the listing's key. ARGV: the lock's token, the listing, its seconds, the JSON prefix, then
# the listed ids. Stores the listing, lets the lock go (if still this miss's) and returns the ids' JSON
# entries (or false): what a miss does after its query, in one round trip.
_STORE_LISTING = """
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
local entries = {}
for i = 5, #ARGV do entries[#entries + 1] = redis.call('GET', ARGV[4] .. ARGV[i]) end
return entries
"""


# KEYS: the list version, then the keys to set. ARGV: the version the values were read under ('' when
# it was unset), then seconds and value for each key. Sets them only if the version has not moved since
# (a write landed meanwhile: the next read loads afresh); returns how many were set.
_SET_UNLESS_WRITTEN = """
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then
  return 0
end
for i = 2, #KEYS do
  redis.call('SETEX', KEYS[i], ARGV[2 * i - 2], ARGV[2 * i - 1])
end
return #KEYS - 1
"""

# KEYS: the list version, the topics' hash, the talent's two profile entries, then its owner's key of each
# topic (none when it has no owner). ARGV: the topics. A write's `forget` as one command: a pipeline of
# its five to eight costs the service more CPU than the write's own statement.
_FORGET = """
redis.call('INCR', KEYS[1])
for i = 1, #ARGV do
  redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
  if KEYS[4 + i] then redis.call('INCR', KEYS[4 + i]) end
end
redis.call('DEL', KEYS[3], KEYS[4])
"""


LIST_SHAPE = 3  # bumped when what a cached page holds changes (3: matches' exact-total flag)


def list_key(filters, version):
    digest = hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()
    return f"talents:list:{LIST_SHAPE}:{version}:{digest}"


def topics_version(topics):
    """The versions of `topics` as one string: what is cached under it is not read again once any moves."""
    return ".".join((value or b"0").decode() for value in redis.hmget(TOPICS_KEY, *sorted(topics)))


def cached_page(filters, topics, compute):
    """What `compute()` returns for `filters`, kept under the versions of the `topics` it reads (see
    `forget`), from the cache when they have not moved; concurrent misses compute once."""
    key = cache.cache.key_prefix + list_key(filters, topics_version(topics))
    serializer = cache.cache.serializer

    def read():
        raw = redis.get(key)
        return None if raw is None else serializer.loads(raw)

    hit = read()
    if hit is not None:
        return hit
    return single_flight(key, read, compute, lambda value: (serializer.dumps(value), LIST_TIMEOUT))


def cached_profiles(ids, load, pending=None):
    """Snapshots for `ids` in order (those `load` finds): cached ones in one round trip, the rest loaded.

    With `pending` (a dict), the loaded ones' cache entries go there for the caller to store with its
    own in one round trip (under a list version it read before this), instead of being stored here."""
    if not ids:
        return []
    serializer = cache.cache.serializer
    version, *found = redis.mget(VERSION_KEY, *(PROFILE_PREFIX + str(talent_id) for talent_id in ids))
    snapshots = {talent_id: serializer.loads(raw) for talent_id, raw in zip(ids, found) if raw is not None}
    missing = [talent_id for talent_id in ids if talent_id not in snapshots]
    if missing:
        loaded = load(missing)
        snapshots.update(loaded)
        entries = {PROFILE_PREFIX + str(talent_id): (serializer.dumps(snapshot), PROFILE_TIMEOUT)
                   for talent_id, snapshot in loaded.items()}
        if pending is None:
            _set_unless_written(entries, version)
        else:
            pending.update(entries)
    return [snapshots[talent_id] for talent_id in ids if talent_id in snapshots]


def _read(key):
    """A key's value (None when missing), from the sign-in check's round trip when the route prefetched it."""
    found = prefetched(key)
    return found[0] if found is not None else redis.get(key)


def cached_profile(talent_id):
    """A profile's cached snapshot, or None (read in the sign-in's round trip when the route prefetched it:
    `snapshot_keys`)."""
    raw = _read(snapshot_keys(talent_id)[0])
    return None if raw is None else cache.cache.serializer.loads(raw)


def snapshot_keys(talent_id):
    """What `cached_profile` reads (a route's `prefetch`)."""
    return (PROFILE_PREFIX + str(talent_id),)


def own_talent_keys(user_id):
    """What `own_talent` reads (a route's `prefetch`)."""
    return (OWN_PREFIX + str(user_id),)


def own_talent(user_id):
    """The id of the talent `user_id` was last seen to own, or None: a hint only (a deleted profile, or an erased
    account, leaves it behind), which the caller checks against the profile's cached owner."""
    raw = _read(own_talent_keys(user_id)[0])
    return None if raw is None else int(raw)


def keep_own_talent(user_id, talent_id):
    redis.set(own_talent_keys(user_id)[0], talent_id, ex=PROFILE_TIMEOUT)


def _set_unless_written(entries, version):
    """SET each `key: (value, seconds)` only if no write has bumped the version since `version` was read:
    one round trip (a script checks the version and sets them, atomically), where WATCH, GET and
    MULTI/EXEC took three."""
    if not entries:
        return
    args = [b"" if version is None else version]
    for value, seconds in entries.values():
        args += [seconds, value]
    script(_SET_UNLESS_WRITTEN)(keys=[VERSION_KEY, *entries], args=args)


def json_seconds(has_media):
    """How long a profile's JSON may be served: its photo links are signed per window of MEDIA_URL_TTL/2."""
    if not has_media:
        return PROFILE_TIMEOUT
    half = current_app.config["MEDIA_URL_TTL"] // 2
    return max(1, min(PROFILE_TIMEOUT, half - int(time.time()) % half - 1))


def _fill_json(ids, entries, version, render):
    """`entries` (cached JSON entries or None, in `ids` order) with the missing ones rendered and stored."""
    missing = [talent_id for talent_id, entry in zip(ids, entries) if entry is None]
    if not missing:
        return entries
    pending = {}  # the snapshots `render` loaded, stored with the JSON in one round trip
    rendered = render(missing, pending)  # {id: (entry bytes, seconds)} for the live ones
    pending.update({JSON_PREFIX + str(talent_id): value for talent_id, value in rendered.items()})
    _set_unless_written(pending, version)
    return [entry if entry is not None else rendered.get(talent_id, (None,))[0]
            for talent_id, entry in zip(ids, entries)]


def cached_json(ids, render):
    """The JSON entries of `ids` in order (None for one not live): one round trip when all are cached,
    the missing ones from `render` (as `_fill_json`)."""
    if not ids:
        return []
    version, *entries = redis.mget(VERSION_KEY, *(JSON_PREFIX + str(talent_id) for talent_id in ids))
    return _fill_json(ids, entries, version, render)


def page_seconds():
    """How long a page of profiles may be served as it was made: its lists' lifetime, and no longer than
    its photo links' signing window."""
    return min(LIST_TIMEOUT, json_seconds(True))


def profile_keys(talent_id):
    """What `profile_json` reads: the list version and the profile's JSON entry (a route's `prefetch`)."""
    return VERSION_KEY, JSON_PREFIX + str(talent_id)


def profile_json(talent_id, render):
    """One profile's JSON entry (None when it is not live), from the cache or `render([id])`."""
    keys = profile_keys(talent_id)
    version, entry = prefetched(*keys) or redis.mget(*keys)
    return _fill_json([talent_id], [entry], version, render)[0]


def cached_page_json(filters, topics, compute, render):
    """(ids, JSON entries, total, exact) of the live profiles on a page: one round trip when cached.

    The listing is kept under the versions of `topics` (`list_topics`); `compute()` gives the (ids,
    total, exact) on a miss (concurrent misses compute once); `render(ids)` gives the entries the cache
    lacks.
    """
    digest = hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()
    token = new_token()
    version, key, listing, *entries = script(_PAGE)(
        keys=[VERSION_KEY, TOPICS_KEY],
        args=[IDS_PREFIX, digest, JSON_PREFIX, LOCK_PREFIX, token, WAIT_SECONDS * 1000, *sorted(topics)])
    if listing is None:
        flight = Flight(key.decode(), token)
        if not entries.pop():  # another miss claimed it: what it stores, once it is done
            listing = flight.waited(lambda: redis.get(flight.key))
        if listing is None:
            total, exact, ids, entries = _store_listing(flight, compute)
        else:
            total, exact, ids = _parse_listing(listing)
            entries = redis.mget(*(JSON_PREFIX + str(talent_id) for talent_id in ids)) if ids else []
    else:
        total, exact, ids = _parse_listing(listing)
    version = None if version == b"0" else version
    found = _fill_json(ids, entries, version, render)
    live = [(talent_id, entry) for talent_id, entry in zip(ids, found) if entry is not None]
    return [talent_id for talent_id, _ in live], [entry for _, entry in live], total, exact


def _listing(ids, total, exact):
    """A cached page's ids as text the Lua script reads: `total:exact|id,id,...`."""
    return f"{total}:{int(exact)}|{','.join(map(str, ids))}".encode()


def _parse_listing(raw):
    head, _, ids = raw.partition(b"|")
    total, _, exact = head.partition(b":")
    return int(total), exact == b"1", [int(talent_id) for talent_id in ids.split(b",") if talent_id]


def _store_listing(flight, compute):
    """(total, exact, ids, their JSON entries) of a page `compute()` found, its listing stored for LIST_TIMEOUT
    and `flight`'s lock let go in one round trip (a failure lets it go too)."""
    try:
        ids, total, exact = compute()
    except BaseException:
        flight.unlock()
        raise
    entries = script(_STORE_LISTING)(keys=[flight.lock, flight.key],
                                     args=[flight.token, _listing(ids, total, exact), LIST_TIMEOUT, JSON_PREFIX, *ids])
    return total, exact, ids, entries


def forget(talent_id, owner_id, changed=None):
    """After a write to a talent (committed), in one round trip: move the list version, the topics of the
    `changed` columns (None: `rows`, which every list reads; an empty set: none) on, globally and for its
    owner (`owner_id`: the talent's user, None for none; see `own_profile_versions`), and drop its profile
    entries.

    A plain edit or a photo names the columns it changed, so only the lists that filter, search or sort on one
    of them miss; any other write (created, deleted, restored) may move the talent in or out of any list."""
    topics = sorted({ROWS} if changed is None else changed)
    owned = [] if owner_id is None else [_owner_key(owner_id, topic) for topic in topics]
    script(_FORGET)(keys=[VERSION_KEY, TOPICS_KEY, PROFILE_PREFIX + str(talent_id), JSON_PREFIX + str(talent_id),
                          *owned], args=topics)


def _owner_key(user_id, topic):
    return f"{OWNER_PREFIX}{user_id}:{topic}"


def own_profile_versions(user_id, topics):
    """The keys a cache of what is made from `user_id`'s own profile depends on (their roles for me): moved
    by the writes to that profile that change one of `topics` (and `rows`: any write but a plain edit), and
    by bulk writes; not by other talents' edits, nor by an edit of a column it does not read."""
    return [BULK_KEY, *(_owner_key(user_id, topic) for topic in sorted({*topics, ROWS}))]


def forget_lists():
    """After a bulk write that bypassed the services (seeding): move the versions and `rows` on, so every
    cached list, search, featured page and match misses at once instead of serving stale totals."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.incr(VERSION_KEY)
        pipe.incr(BULK_KEY)
        pipe.hincrby(TOPICS_KEY, ROWS, 1)
        pipe.execute()
