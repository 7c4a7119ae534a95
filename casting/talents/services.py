"""Talent profiles: who may create and edit them, what others see, and the search every list uses."""
from datetime import date, datetime, timezone
from functools import lru_cache

from sqlalchemy import (Date, Integer, Text, and_, bindparam, case, false, func, inspect, literal, literal_column, or_,
                        select, text, true)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import defer, joinedload, undefer

from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import at_once, db, each_statement_commits
from casting.kernel.jsonprovider import dumps_bytes
from casting.kernel.pagination import page
from casting.kernel.sorting import sort_clauses
from casting.talents import cache as talent_cache
from casting.talents import embeddings
from casting.media import file_storage as storage
from casting.talents.models import (DERIVED_FROM, MediaKind, Talent, TalentMedia, age_on, media_columns,
                                    media_snapshots)
from casting.talents.schemas import TalentSchema
from casting.users.models import Role

ADMIN_FIELDS = {"is_verified", "is_featured"}
_PUBLIC_SCHEMA = TalentSchema(exclude=("date_of_birth",))
COUNT_BOUND = 1000  # a list or search counts its matches up to here (CONTRACT §3 `total_exact`)
WORD_SIMILARITY = 0.45  # trigram similarity of two phonetic word keys for `q` to take one for the other
WORD_CANDIDATES = 64  # dictionary words looked at per word of `q`, nearest first
# What a vector search may have and still be counted on the embedding rows alone (any other filter is
# checked on the talent row, so the count joins it).
EMBEDDING_SIDE = {"embedding", "similar_to", "city", "gender", "page", "per_page"}
PUBLIC_FIELDS = ("id", "user_id", "stage_name", "bio", "gender", "age", "playing_age_min", "playing_age_max",
                 "height_cm", "location", "skills", "languages", "experience_years", "availability_status",
                 "day_rate_inr", "is_verified", "is_featured", "created_at", "updated_at")
SNAPSHOT_COLUMNS = (*(name for name in PUBLIC_FIELDS if name != "age"), "agent_id", "date_of_birth")
# An edit of one of these reads the row first: the derived columns are made from them (and the other
# columns), and the playing-age rule reads the other bound.
READ_FIRST = DERIVED_FROM | {"playing_age_min", "playing_age_max"}


def can_manage(record, user):
    """The talent, their agent, or an admin (`record`: a Talent or its snapshot); no user (a service key): no."""
    if user is None:
        return False
    if isinstance(record, dict):
        owners = (record["user_id"], record["agent_id"])
    else:
        owners = (record.user_id, record.agent_id)
    return user.role == Role.ADMIN or user.id in owners


def snapshot(talent):
    """What a profile response is made of: plain values (media by storage key), safe to cache."""
    record = {name: getattr(talent, name) for name in (*PUBLIC_FIELDS, "agent_id", "date_of_birth")}
    record["media"] = [item.snapshot() for item in talent.media]
    return record


def public_media(item):
    """A media snapshot as clients see it: expiring URLs instead of storage keys."""
    files = storage()
    return {"id": item["id"], "kind": item["kind"], "url": files.url(item["key"]),
            "thumbnail_url": files.url(item["thumbnail_key"]), "content_type": item["content_type"],
            "width": item["width"], "height": item["height"], "created_at": item["created_at"]}


def _public_view(record):
    shown = {name: record[name] for name in PUBLIC_FIELDS}
    shown["media"] = [public_media(item) for item in record["media"]]
    shown["headshot"] = next((item for item in shown["media"] if item["kind"] == MediaKind.HEADSHOT), None)
    return shown


def view(record, viewer):
    """A profile as `viewer` may see it: the date of birth only for those who manage it."""
    shown = _public_view(record)
    if can_manage(record, viewer):
        shown["date_of_birth"] = record["date_of_birth"]
    return shown


def _json_entry(record):
    """A profile serialised once for every viewer: `user|agent|date of birth|` then the public JSON."""
    born = record["date_of_birth"]
    header = f"{record['user_id'] or ''}|{record['agent_id'] or ''}|{born.isoformat() if born else ''}|"
    body = dumps_bytes(_PUBLIC_SCHEMA.dump(_public_view(record)))
    return header.encode() + body, talent_cache.json_seconds(bool(record["media"]))


def _render_json(ids, pending=None):
    """JSON entries of the live talents among `ids`; the snapshots loaded for them go to `pending`."""
    return {record["id"]: _json_entry(record) for record in profiles(ids, pending)}


def _manager(viewer):
    """(whether `viewer` manages every profile, their id as the cached entries write it)."""
    if viewer is None:
        return False, None
    return viewer.role == Role.ADMIN, str(viewer.id).encode()


def json_view(entry, viewer, manager=None):
    """A profile's cached JSON as `viewer` may see it: with the date of birth for those who manage it
    (`manager`: `_manager(viewer)`, worked out once per page). The body is sliced once, not split."""
    admin, me = manager or _manager(viewer)
    first = entry.index(b"|")
    second = entry.index(b"|", first + 1)
    third = entry.index(b"|", second + 1)
    if admin or (me is not None and me in (entry[:first], entry[first + 1:second])):
        born = entry[second + 1:third]
        return b'{"date_of_birth":' + (b'"' + born + b'"' if born else b"null") + b"," + entry[third + 2:]
    return entry[third + 1:]


def profile_json(talent_id, viewer):
    """One live profile as `viewer` may see it, as JSON bytes (404 when it is not live)."""
    entry = talent_cache.profile_json(talent_id, _render_json)
    if entry is None:
        raise ApiError(Codes.TALENT_NOT_FOUND)
    return json_view(entry, viewer)


def page_json(result, args, viewer):
    """A page `{items, meta}` as JSON bytes from cached entries, each as `viewer` may see it."""
    entries, total, exact = result
    meta = page([], total, args["page"], args["per_page"], exact)["meta"]
    manager = _manager(viewer)
    return (b'{"items":[' + b",".join([json_view(entry, viewer, manager) for entry in entries]) + b'],"meta":'
            + dumps_bytes(meta) + b"}")


def profiles_json(ids, viewer):
    """The live talents among `ids` as `viewer` may see them, as JSON bytes by id, from the cached entries."""
    manager = _manager(viewer)
    return {talent_id: json_view(entry, viewer, manager)
            for talent_id, entry in zip(ids, talent_cache.cached_json(ids, _render_json)) if entry is not None}


def get_live(talent_id, lock=False):
    """A talent that is not deleted (404 otherwise); with `lock`, its row is locked and freshly read."""
    # Unlocked, its media come in the same statement (one round trip, not a second select for them). Locked (to
    # be written), not: a statement that waits for the lock re-reads the talent's row, but a joined table as it
    # was when the statement began (READ COMMITTED), so media added meanwhile would be missed; the columns
    # PostgreSQL computes come instead, as flushing the talent would read them in a select of their own.
    options = ({"with_for_update": True, "populate_existing": True,
                "options": [undefer(Talent.filter_keys), undefer(Talent.search_words)]} if lock
               else {"options": [joinedload(Talent.media)]})
    talent = db.session.get(Talent, talent_id, **options)
    if talent is None or talent.deleted_at is not None:
        raise ApiError(Codes.TALENT_NOT_FOUND)
    return talent


def _load_snapshots(ids):
    """Snapshots of the live talents among `ids`, by id (the search-only columns are not read): one
    statement for the whole page, the talents and their media joined (not a second select for the media)."""
    found = db.session.scalars(select(Talent).where(Talent.id.in_(ids), Talent.deleted_at.is_(None))
                               .options(joinedload(Talent.media), defer(Talent.search_text),
                                        defer(Talent.skill_keys), defer(Talent.language_keys),
                                        defer(Talent.filter_keys), defer(Talent.search_words))).unique()
    return {talent.id: snapshot(talent) for talent in found}


def own_profile_json(user):
    """The signed-in talent's own profile as JSON bytes, from its cached entry as `profile_json` serves it (404 if
    they have none yet). Which talent is theirs is kept in Redis and trusted only while the profile's cached
    owner is still them, so a read sends no statement."""
    kept = talent_cache.own_talent(user.id)
    if kept is not None:
        entry = talent_cache.profile_json(kept, _render_json)
        if entry is not None and entry.startswith(b"%d|" % user.id):
            return json_view(entry, user)
    talent_id = db.session.scalar(select(Talent.id).where(Talent.user_id == user.id, Talent.deleted_at.is_(None)))
    if talent_id is None:
        raise ApiError(Codes.TALENT_NOT_FOUND, "You have no talent profile yet.")
    talent_cache.keep_own_talent(user.id, talent_id)
    return profile_json(talent_id, user)


def profiles(ids, pending=None):
    """Snapshots of the live talents among `ids`, in order, through the one-hour profile cache (with
    `pending`, the cache entries of those loaded are left there for the caller to store)."""
    return talent_cache.cached_profiles(ids, _load_snapshots, pending)


def profile(talent_id):
    """A live profile's snapshot, through the one-hour profile cache."""
    found = profiles([talent_id])
    if not found:
        raise ApiError(Codes.TALENT_NOT_FOUND)
    return found[0]


def search_page(filters):
    """One page of a list or search as (snapshots, total, total is exact), through the list and profile caches."""
    ids, _, total, exact = _search(filters)
    return profiles(ids), total, exact


def search_page_json(filters):
    """One page of a list or search as (JSON entries, total, total is exact): what the routes serve."""
    _, entries, total, exact = _search(filters)
    return entries, total, exact


_AGE = ("playing_age_min", "playing_age_max", "date_of_birth")
# The columns each filter reads (their topics, see `cache`): `q` the words of `search_text`, the vector
# filters the talent's embedding; the page's own arguments read none.
FILTER_TOPICS = {"q": ("search_text",), "city": ("location",), "state": ("location",), "skills": ("skills",),
                 "skills_any": ("skills",), "languages": ("languages",), "gender": ("gender",),
                 "age_min": _AGE, "age_max": _AGE, "height_min": ("height_cm",), "height_max": ("height_cm",),
                 "availability_status": ("availability_status",), "experience_min": ("experience_years",),
                 "is_verified": ("is_verified",), "similar_to": ("embedding",), "embedding": ("embedding",),
                 "page": (), "per_page": (), "sort": ()}
FEATURED_TOPICS = {talent_cache.ROWS, "is_featured", "profile_score", "updated_at"}


def list_topics(filters):
    """The topics a cached list or search with `filters` is kept under: `rows`, the columns its filters
    read and those it sorts on (the default order, by creation, never changes). A filter not named in
    FILTER_TOPICS reads `updated_at`, which every edit moves."""
    topics = {talent_cache.ROWS}
    for name, value in filters.items():
        if value not in (None, "", []):
            topics.update(FILTER_TOPICS.get(name, ("updated_at",)))
    topics.update(key.lstrip("-") for key in filters.get("sort") or [])
    return topics


def _search(filters):
    """(ids, JSON entries, total, exact) of one page of a list or search.

    A vector search ranks on the HNSW index (candidates re-ranked on the full vectors, see
    `embeddings`) and counts its matches only up to COUNT_BOUND: past that, `total` is a lower bound
    (counting every match of a broad filter would cost more than finding the page).
    """
    vector = embeddings.query_vector(filters)
    rerank = vector if vector is not None and not filters.get("sort") else None
    embedding_side_only = vector is not None and all(name in EMBEDDING_SIDE for name, value in filters.items()
                                                     if value not in (None, "", []))

    where = {"city": filters.get("city"), "gender": filters.get("gender")}

    def counted():
        """Every filter is on the embedding row (a row there is a live talent's): count there alone."""
        return embeddings.matching(where, filters.get("similar_to"))

    def exact_page(offset, limit):
        """A page's select ranked exactly on the embedding rows, or None when the HNSW graph is cheaper."""
        if not embeddings.ranks_exactly(where):
            return None
        return embeddings.exact_page(where, rerank, offset, limit, filters.get("similar_to"))
    side_only = embedding_side_only and rerank is not None
    return _cached_page(lambda: search_statement(filters, vector), filters, list_topics(filters), filters,
                        vector=vector is not None,
                        rerank=rerank, counted=counted if embedding_side_only else None,
                        exact_page=exact_page if side_only else None,
                        ranked=bool(filters.get("q")) and not filters.get("sort") and vector is None,
                        keyed=bool(filter_keys(filters) or filters.get("skills_any")))


def _cached_page(make_query, cache_key, topics, args, vector=False, rerank=None, counted=None, exact_page=None,
                 ranked=False, keyed=False):
    """One page of the select `make_query()` makes (only on a miss), with the values it gives beside it, as
    (ids, JSON entries, total, exact), kept under `topics` (`list_topics`).

    With `rerank` (the query vector), the page comes from the index's candidates in exact order;
    `counted` makes a cheaper select of the same rows to count, if there is one; `exact_page(offset,
    limit)` makes the page's select another way when it finds that cheaper (else None; `counted` then
    counts). Matches are counted up to COUNT_BOUND (beyond, `total` is a lower bound: counting every
    match of a broad filter over a million talents costs more than finding the page), in the page's
    own statement where the count needs no other (a plain list; the exact path's embedding rows).
    `ranked` says the select orders by a value computed per row (`q`'s relevance): it reads every match
    to find the page, so it counts them as it goes (`_ranked_page`). `keyed` says the filters' keys pick
    the rows (city, state, skills, languages: a GIN index scan); a page within the first COUNT_BOUND + 1
    matches is then cut from their ids (`_page_of_first_matches`). Without keys, the newest-first page
    stops after a few rows, and counting reads the table in its own order: cheaper apart (measured)."""
    def compute():
        offset = (args["page"] - 1) * args["per_page"]
        page_query = exact_page(offset, args["per_page"]) if exact_page is not None else None
        if page_query is not None:  # ranked exactly on the embedding rows, counted there too
            return _page_and_count(page_query, counted(), offset)
        query, values = make_query()
        if vector:
            embeddings.scan_settings()
        if ranked:
            return _ranked_page(query, offset, args["per_page"], values)
        if keyed and rerank is None and counted is None and offset + args["per_page"] <= COUNT_BOUND + 1:
            return _page_of_first_matches(query, offset, args["per_page"], values)
        if rerank is None and counted is None:
            return _page_and_count(query.with_only_columns(Talent.id).limit(args["per_page"]).offset(offset),
                                   query.order_by(None).with_only_columns(Talent.id), offset, values)
        if rerank is not None:
            page_query = embeddings.reranked(query, rerank, offset, args["per_page"])
        else:
            page_query = query.with_only_columns(Talent.id).limit(args["per_page"]).offset(offset)
        ids = list(db.session.scalars(page_query, values))
        if len(ids) < args["per_page"] and (ids or offset == 0):
            return ids, offset + len(ids), True
        if counted is not None:
            return (ids, *bounded_count(counted()))
        return (ids, *bounded_count(query.order_by(None).with_only_columns(Talent.id), values))

    return talent_cache.cached_page_json(cache_key, topics, compute, _render_json)


def _page_and_count(page_query, counting, offset, values=None):
    """(ids, total, exact) of a page in one round trip: `page_query` (a select of ids) and beside it the
    bounded count of `counting` as an uncorrelated subquery (planned on its own, run once, so it stops
    at the bound in whatever order is cheapest); `values`: their bound values."""
    total = count_statement(counting).scalar_subquery()
    rows = db.session.execute(page_query.add_columns(total), values).all()
    if rows:  # a page longer than the bound shows at least that many
        total = max(rows[0][1], offset + len(rows))
        return [talent_id for talent_id, _ in rows], total, total <= COUNT_BOUND
    return [], *(bounded_count(counting, values) if offset else (0, True))


def _page_of_first_matches(query, offset, limit, values):
    """(ids, total, exact) of a page within the first COUNT_BOUND + 1 matches of `query`, cut from those
    matches' ids, listed in order by one statement (`ARRAY(SELECT ... LIMIT 1001)`): one scan that stops
    there, where the page and a bounded count beside it were two (at 1,000,000 talents the seed query's
    filters 2.8 to 1.2 ms, a city with a language 11.5 to 5.5 ms; EXPLAIN ANALYZE, see docs/benchmark.md)."""
    first = db.session.scalar(select(func.array(query.with_only_columns(Talent.id).limit(COUNT_BOUND + 1)
                                                .scalar_subquery())), values)
    return first[offset:offset + limit], len(first), len(first) <= COUNT_BOUND


def _ranked_page(query, offset, limit, values):
    """(ids, total, exact) of a page of a select ranked on a computed value, its matches counted by a window
    over the rows the ranking reads anyway (where a bounded count would find and check 1,001 of them a
    second time); reported like `bounded_count`, so `total` never says more than COUNT_BOUND + 1."""
    rows = db.session.execute(query.with_only_columns(Talent.id, func.count().over())
                              .limit(limit).offset(offset), values).all()
    if not rows:
        return [], *(bounded_count(query.order_by(None).with_only_columns(Talent.id), values) if offset else (0, True))
    matches = rows[0][1]
    return ([talent_id for talent_id, _ in rows], max(min(matches, COUNT_BOUND + 1), offset + len(rows)),
            matches <= COUNT_BOUND)


def count_statement(query):
    """SELECT how many rows `query` selects, counted up to COUNT_BOUND + 1 (one more says "more")."""
    return select(func.count()).select_from(query.limit(COUNT_BOUND + 1).subquery())


def bounded_count(query, params=None):
    """(how many rows `query` selects, counted up to COUNT_BOUND + 1; whether that is exact); `params`: the
    values of its bind parameters."""
    total = db.session.scalar(count_statement(query), params)
    return total, total <= COUNT_BOUND


def create(user, data):
    """A talent makes their own (one) profile; an agent one for a talent they represent; admins any."""
    if user.role not in (Role.TALENT, Role.AGENT, Role.ADMIN):
        raise ApiError(Codes.AUTH_FORBIDDEN, "Only talent, agents and admins create talent profiles.")
    talent = Talent(**data)
    if user.role == Role.TALENT:
        if db.session.scalar(select(Talent.id).where(Talent.user_id == user.id)):
            raise ApiError(Codes.TALENT_EXISTS)
        talent.user_id = user.id
    elif user.role == Role.AGENT:
        talent.agent_id = user.id
    talent.refresh_derived()
    db.session.add(talent)
    db.session.commit()
    talent_cache.forget(talent.id, talent.user_id)
    return talent


def update(talent_id, user, changes):
    """Edit a profile the user manages (only admins verify or feature a talent); returns its snapshot.

    An edit that derives nothing from the rest of the row (availability, day rate, featured) is one
    statement that checks, writes and returns the profile (`_write_only`, on a connection of its own,
    outside the session). Any other reads the row with its media first, recomputes the derived columns and
    writes what changed: two round trips. Either UPDATE commits on its own (autocommit: no BEGIN or
    COMMIT, and the row is locked only while it runs, so edits of one profile do not queue behind each
    other's requests); then one Redis round trip drops this talent's cached profile and moves on the
    topics of the columns that changed. An edit that changes nothing writes nothing and drops nothing."""
    privileged = sorted(ADMIN_FIELDS & changes.keys())
    if privileged and user.role != Role.ADMIN:
        raise ApiError(Codes.AUTH_FORBIDDEN, "Only admins verify or feature a talent.",
                       details={"fields": {name: ["Only admins set this."] for name in privileged}})
    if changes and not changes.keys() & READ_FIRST:
        return _write_only(talent_id, user, changes)
    each_statement_commits()
    talent = get_live(talent_id)
    if not can_manage(talent, user):
        raise ApiError(Codes.AUTH_FORBIDDEN)
    for name, value in changes.items():
        setattr(talent, name, value)
    if talent.playing_age_min is not None and talent.playing_age_max is not None \
            and talent.playing_age_min > talent.playing_age_max:
        raise ApiError(Codes.VALIDATION, details={"fields": {"playing_age_min": [
            "Must not be above playing_age_max."]}})
    talent.refresh_derived()
    if not db.session.is_modified(talent):
        # the same values again (a retried or repeated save): nothing to write, and nothing cached is stale,
        # so no cached list is dropped (a flush would still read the row's generated columns back)
        return snapshot(talent)
    written = {attr.key: attr.value for attr in inspect(talent).attrs if attr.history.has_changes()}
    db.session.expunge(talent)  # its changes go in one Core UPDATE, not through the unit of work's flush
    table = Talent.__table__
    talent.updated_at = db.session.execute(table.update().where(table.c.id == talent_id).values(written)
                                           .returning(table.c.updated_at)).scalar_one()
    db.session.commit()
    # only the lists that read a changed column miss
    talent_cache.forget(talent_id, talent.user_id, {*written, "updated_at"})
    return snapshot(talent)


def _write_only(talent_id, user, changes):
    """An edit that derives nothing, in one statement (`_write_only_statement`); the profile as written."""
    names = tuple(sorted(changes))
    anyone = user is not None and user.role == Role.ADMIN
    params = {"talent_id": talent_id, "editor_id": None if user is None else user.id,
              **{f"new_{name}": changes[name] for name in names}}
    rows = at_once(_write_only_statement(names, anyone), params)  # it commits on its own: no session
    if not rows:
        # nothing written: the same values again (a repeated save), or a profile that is gone (404) or not
        # the user's (403); the profile says which, from the cache the sign-in check read it from
        seen = talent_cache.cached_profile(talent_id) or profile(talent_id)
        if not can_manage(seen, user):
            raise ApiError(Codes.AUTH_FORBIDDEN)
        return {**seen, **changes}
    first = rows[0]._asdict()
    record = {name: first[name] for name in SNAPSHOT_COLUMNS}
    record["age"] = age_on(record["date_of_birth"])
    record["media"] = media_snapshots(rows)
    changed = {name for name in names if first[f"old_{name}"] != first[name]}
    talent_cache.forget(talent_id, record["user_id"], {*changed, "updated_at"})
    return record


@lru_cache(maxsize=64)
def _write_only_statement(names, anyone):
    """The UPDATE of the columns `names` of a live profile that `:editor_id` manages (`anyone`: an admin)
    whose values differ from `:new_<name>`, returning the row (with its values before, in PostgreSQL 18's
    `old`) joined to its media: built once per shape, as building it costs more than running it."""
    table = Talent.__table__
    sent = {name: bindparam(f"new_{name}", type_=table.c[name].type) for name in names}
    editor = bindparam("editor_id")  # not `user_id`: a parameter named as a column would be SET
    edited = (table.update()
              .where(table.c.id == bindparam("talent_id"), table.c.deleted_at.is_(None),
                     true() if anyone else or_(table.c.user_id == editor, table.c.agent_id == editor),
                     or_(*(table.c[name].is_distinct_from(value) for name, value in sent.items())))
              .values(sent)
              .returning(*(table.c[name] for name in SNAPSHOT_COLUMNS),
                         *(literal_column(f"old.{name}", table.c[name].type).label(f"old_{name}") for name in names))
              .cte("edited"))
    return (select(edited, *media_columns()).outerjoin(TalentMedia, TalentMedia.talent_id == edited.c.id)
            .order_by(TalentMedia.id))


def delete(talent_id, user):
    """Soft delete (the talent or an admin): gone from every list and search, restorable."""
    talent = get_live(talent_id)
    if not (user.role == Role.ADMIN or user.id == talent.user_id):
        raise ApiError(Codes.AUTH_FORBIDDEN)
    talent.deleted_at = datetime.now(timezone.utc)
    embeddings.forget(talent.id)
    db.session.commit()
    talent_cache.forget(talent.id, talent.user_id)


def restore(talent_id):
    """Bring a soft-deleted profile back (admins)."""
    talent = db.session.get(Talent, talent_id)
    if talent is None:
        raise ApiError(Codes.TALENT_NOT_FOUND)
    talent.deleted_at = None
    db.session.commit()
    talent_cache.forget(talent.id, talent.user_id)
    return talent


def featured_page(args):
    """Admin-featured talent first, then verified and complete profiles, the recently updated first, as
    (JSON entries, total, exact)."""
    _, entries, total, exact = _cached_page(lambda: (_featured(), {}), {"featured": True, **args}, FEATURED_TOPICS,
                                            args)
    return entries, total, exact


@lru_cache(maxsize=1)
def _featured():
    return (select(Talent).where(Talent.deleted_at.is_(None))
            .order_by(Talent.is_featured.desc(), Talent.profile_score.desc(), Talent.updated_at.desc(),
                      Talent.id.desc()))


def _years_ago(years):
    today = date.today()
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def born_between(age_min, age_max):
    """(born on or before, born after): the birth dates of the ages `age_min` to `age_max` today (None: unbounded)."""
    return (None if age_min is None else _years_ago(age_min),
            None if age_max is None else _years_ago(age_max + 1))


def age_clause(age_min, age_max, born=None):
    """Playing age range overlaps [age_min, age_max]; without one, the real age lies in it (`born`: the dates
    `born_between` gives, worked out from the ages unless given; bind parameters may stand for all four)."""
    born_by, born_after = born or born_between(age_min, age_max)
    playing, real = [], []
    if age_min is not None:
        playing.append(Talent.playing_age_max >= age_min)
        real.append(Talent.date_of_birth <= born_by)
    if age_max is not None:
        playing.append(Talent.playing_age_min <= age_max)
        real.append(Talent.date_of_birth > born_after)
    has_playing = and_(Talent.playing_age_min.is_not(None), Talent.playing_age_max.is_not(None))
    return or_(and_(has_playing, *playing), and_(~has_playing, *real))


def _lower(values):
    return sorted({value.strip().lower() for value in values or [] if value.strip()})


def filter_key(kind, value):
    """One entry of `Talent.filter_keys` (see migration 0014): `c:mumbai`, `s:acting`, `g:female`..."""
    return f"{kind}:{str(value).strip().lower()}"


def language_key(wanted):
    """`Marathi` -> `l:marathi` (speaks it); `Marathi:fluent` -> `l:marathi:fluent` (fluent or better)."""
    name, _, level = wanted.partition(":")
    return filter_key("l", name) + (f":{level.strip().lower()}" if level.strip() else "")


def filter_keys(filters, skip=()):
    """The `filter_keys` a talent must all have for the city, state, skills and languages filters
    (those not in `skip`), the city folded into the skills and languages (`compact`)."""
    keys = [filter_key(kind, filters[name]) for name, kind in (("city", "c"), ("state", "st"))
            if filters.get(name) and name not in skip]
    keys += [filter_key("s", skill) for skill in _lower(filters.get("skills"))]
    keys += sorted({language_key(wanted) for wanted in filters.get("languages") or [] if wanted.strip()})
    return compact(keys)


def compact(keys):
    """`keys` with the city folded into each skill and language (`c:mumbai/s:acting`, a key of its own):
    the index then intersects the short lists of a city's actors, not all of a city and all actors."""
    city = next((key for key in keys if key.startswith("c:")), None)
    paired = [key for key in keys if key.startswith(("s:", "l:"))]
    if city is None or not paired:
        return list(keys)
    return [key for key in keys if key != city and key not in paired] + [f"{city}/{key}" for key in paired]


# The dictionary words nearest to each word of `q` (phonetic keys, trigram distance on the GiST index).
_WORDS = text("""
    SELECT query.n, query.key, found.word, similarity(found.word, query.key) AS likeness,
           cardinality(casting_words(:q)) AS words
    FROM unnest(casting_words(:q)) WITH ORDINALITY AS query(key, n)
    CROSS JOIN LATERAL (SELECT word FROM talent_words ORDER BY word <-> query.key LIMIT :limit) AS found""")


def edits(one, other):
    """Letters to change, add, drop or swap (adjacent) to turn `one` into `other` (optimal string alignment)."""
    previous, row = None, list(range(len(other) + 1))
    for i, letter in enumerate(one, 1):
        current = [i] + [0] * len(other)
        for j, theirs in enumerate(other, 1):
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (letter != theirs))
            if previous is not None and j > 1 and letter == other[j - 2] and one[i - 2] == theirs:
                current[j] = min(current[j], previous[j - 2] + 1)
        previous, row = row, current
    return row[-1]


def alike(key, word, likeness):
    """How alike two phonetic keys are (0 when not alike enough for `q`): trigram similarity, or, as
    trigrams judge short words harshly, one edit in a word of five letters or more (two from nine)."""
    if likeness >= WORD_SIMILARITY:
        return likeness
    allowed = 2 if len(key) >= 9 else 1 if len(key) >= 5 else 0
    # One or two edits leave a word of five letters or more at least this trigram-alike: the rest
    # (nearly all of the 64) are not worth the edit distance.
    if not allowed or likeness < 0.15 or abs(len(key) - len(word)) > allowed:
        return 0
    distance = edits(key, word)
    return max(likeness, 1 - distance / max(len(key), len(word))) if distance <= allowed else 0


def word_matches(q):
    """For each word of `q` (at least two letters), the known words that may stand for it, with their
    likeness (1 for the same phonetic key): `[{word: likeness}]`, one dict per word of `q`."""
    found, words = {}, 0  # no rows: no word in `q`, or none known at all; either way nothing matches
    for n, key, word, likeness, words in db.session.execute(_WORDS, {"q": q, "limit": WORD_CANDIDATES}):
        likeness = alike(key, word, float(likeness))
        if likeness:
            found.setdefault(n, {})[word] = round(likeness, 3)
    return [found.get(n, {}) for n in range(1, words + 1)]


def text_match(q):
    """(WHERE clause, relevance) for `q`: each of its words (or a word like it: a typo, a missing or
    swapped letter, another transliteration) is among the talent's words; the likeness of the best
    such word, summed over the words of `q`, ranks."""
    matches = word_matches(q)
    if not matches or not all(matches):
        return false(), literal(0.0)
    clauses, relevance = [], literal(0.0)
    for words in matches:
        clauses.append(Talent.search_words.overlap(sorted(words)))
        by_likeness = {}
        for word, likeness in words.items():
            by_likeness.setdefault(likeness, []).append(word)
        relevance = relevance + case(*((Talent.search_words.overlap(sorted(group)), likeness)
                                       for likeness, group in sorted(by_likeness.items(), reverse=True)),
                                     else_=0.0)
    return and_(*clauses), relevance


# The filters checked on the rows the keys (or the newest-first index) find, each against a bound value: each
# value of the first three is a third or more of all talent, far too long a list to intersect.
_CHECKED = {"gender": lambda value: Talent.gender == value,
            "availability_status": lambda value: Talent.availability_status == value,
            "is_verified": lambda value: Talent.is_verified == value,
            "height_min": lambda value: Talent.height_cm >= value,
            "height_max": lambda value: Talent.height_cm <= value,
            "experience_min": lambda value: Talent.experience_years >= value}
_TYPES = {"gender": Talent.gender.type, "availability_status": Talent.availability_status.type,
          "is_verified": Talent.is_verified.type, "born_by": Date(), "born_after": Date(), "keys": ARRAY(Text),
          "skills_any": ARRAY(Text)}  # any other bound value is an integer


def _form(filters, skip=()):
    """(the names of the filters a list or search has, their values): the select is built once per set of
    names (`_filtered`) and run with the values bound. `skip`: filters a vector search checks elsewhere."""
    values = {"keys": filter_keys(filters, skip=skip),
              "skills_any": [filter_key("s", skill) for skill in _lower(filters.get("skills_any"))]}
    values.update((name, filters.get(name)) for name in _CHECKED if name not in skip)
    values.update((name, filters.get(name)) for name in ("age_min", "age_max"))
    values = {name: value for name, value in values.items() if value is not None and value != []}
    if "age_min" in values or "age_max" in values:
        values["born_by"], values["born_after"] = born_between(values.get("age_min"), values.get("age_max"))
    return frozenset(values), values


def _bound(name):
    return bindparam(name, type_=_TYPES.get(name, Integer))


@lru_cache(maxsize=256)
def _filtered(names):
    """The select of live talent with the filters `names` (their values bound, as `_form` names them).

    City, state, skills and languages are one `filter_keys @> ARRAY[...]` (one GIN index scan for any
    mix of them); the rest is checked on the rows that index finds, or on the newest rows first when the
    planner judges the filters broad."""
    query = select(Talent).where(Talent.deleted_at.is_(None))
    if "keys" in names:
        query = query.where(Talent.filter_keys.contains(_bound("keys")))
    if "skills_any" in names:
        query = query.where(Talent.filter_keys.overlap(_bound("skills_any")))
    query = query.where(*(check(_bound(name)) for name, check in _CHECKED.items() if name in names))
    if "age_min" in names or "age_max" in names:
        query = query.where(age_clause(_bound("age_min") if "age_min" in names else None,
                                       _bound("age_max") if "age_max" in names else None,
                                       (_bound("born_by"), _bound("born_after"))))
    return query


@lru_cache(maxsize=256)
def _listed(names, sort):
    """`_filtered(names)` in the order of `sort` (a tuple of validated keys), then newest first."""
    return _filtered(names).order_by(*sort_clauses(Talent, sort), Talent.created_at.desc(), Talent.id.desc())


def search_statement(filters, vector=None, exact=False):
    """(the select for a list or search, the values to run it with): every filter combines; `q` is
    typo-tolerant and ranks; with `vector`, only talent with an embedding, nearest first (after the `sort`
    keys, if any): by the HNSW index's half-precision distance, or the full-precision one with `exact` or
    `sort`. Without `q` or a vector, the select is built once per set of filters (`_form`)."""
    # A vector search checks city and gender on the embedding row (their copies there), not here.
    on_vector = {key: filters.get(key).strip().title() if key == "city" and filters.get(key) else filters.get(key)
                 for key in ("city", "gender")} if vector is not None else {}
    names, values = _form(filters, skip=on_vector)
    sort = tuple(filters.get("sort") or ())
    if not filters.get("q") and vector is None:
        return _listed(names, sort), values
    query, order = _filtered(names), sort_clauses(Talent, sort)
    if filters.get("q"):
        matched, relevance = text_match(filters["q"])
        query = query.where(matched)
        if not order and vector is None:
            order = [relevance.desc()]
    if vector is not None:
        # Nearest first and nothing after it, so the HNSW index can give the order (exact ties are rare).
        query, distance = embeddings.rank(query, vector, filters.get("similar_to"), on_vector,
                                          exact=exact or bool(order))
        return query.order_by(*order, distance), values
    return query.order_by(*order, Talent.created_at.desc(), Talent.id.desc()), values


def search(filters, vector=None, exact=False):
    """`search_statement`'s select with its values in it (to run or explain on its own)."""
    query, values = search_statement(filters, vector, exact)
    return query.params(values)
