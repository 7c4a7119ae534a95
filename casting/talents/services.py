"""Talent profiles: who may create and edit them, what others see, and the search every list uses."""
from datetime import date, datetime, timezone

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import defer

from casting.errors import ApiError, Codes
from casting.extensions import db
from casting.jsonprovider import dumps_bytes
from casting.pagination import page
from casting.sorting import sort_clauses
from casting.talents import cache as talent_cache
from casting.talents import embeddings
from casting.media.storage import storage
from casting.talents.models import MediaKind, Talent
from casting.talents.schemas import TalentSchema
from casting.users.models import Role

ADMIN_FIELDS = {"is_verified", "is_featured"}
_PUBLIC_SCHEMA = TalentSchema(exclude=("date_of_birth",))
COUNT_BOUND = 1000  # a vector search counts its matches up to here (CONTRACT §3 `total_exact`)
# What a vector search may have and still be counted on the embedding rows alone (any other filter is
# checked on the talent row, so the count joins it).
EMBEDDING_SIDE = {"embedding", "similar_to", "city", "gender", "page", "per_page"}
PUBLIC_FIELDS = ("id", "user_id", "stage_name", "bio", "gender", "age", "playing_age_min", "playing_age_max",
                 "height_cm", "location", "skills", "languages", "experience_years", "availability_status",
                 "day_rate_inr", "is_verified", "is_featured", "created_at", "updated_at")


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


def _render_json(ids):
    return {record["id"]: _json_entry(record) for record in profiles(ids)}


def json_view(entry, viewer):
    """A profile's cached JSON as `viewer` may see it: with the date of birth for those who manage it."""
    user_id, agent_id, born, body = entry.split(b"|", 3)
    if viewer is not None and (viewer.role == Role.ADMIN or str(viewer.id).encode() in (user_id, agent_id)):
        return b'{"date_of_birth":' + (b'"' + born + b'"' if born else b"null") + b"," + body[1:]
    return body


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
    return (b'{"items":[' + b",".join(json_view(entry, viewer) for entry in entries) + b'],"meta":'
            + dumps_bytes(meta) + b"}")


def get_live(talent_id, lock=False):
    """A talent that is not deleted (404 otherwise); with `lock`, its row is locked and freshly read."""
    options = {"with_for_update": True, "populate_existing": True} if lock else {}
    talent = db.session.get(Talent, talent_id, **options)
    if talent is None or talent.deleted_at is not None:
        raise ApiError(Codes.TALENT_NOT_FOUND)
    return talent


def _load_snapshots(ids):
    """Snapshots of the live talents among `ids`, by id (the search-only columns are not read)."""
    found = db.session.scalars(select(Talent).where(Talent.id.in_(ids), Talent.deleted_at.is_(None))
                               .options(defer(Talent.search_text), defer(Talent.skill_keys),
                                        defer(Talent.language_keys)))
    return {talent.id: snapshot(talent) for talent in found}


def own_profile(user):
    """The signed-in talent's own profile (404 if they have none yet)."""
    talent_id = db.session.scalar(select(Talent.id).where(Talent.user_id == user.id, Talent.deleted_at.is_(None)))
    if talent_id is None:
        raise ApiError(Codes.TALENT_NOT_FOUND, "You have no talent profile yet.")
    return profile(talent_id)


def profiles(ids):
    """Snapshots of the live talents among `ids`, in order, through the one-hour profile cache."""
    return talent_cache.cached_profiles(ids, _load_snapshots)


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

    def counted():
        """Every filter is on the embedding row (a row there is a live talent's): count there alone."""
        return embeddings.matching({"city": filters.get("city"), "gender": filters.get("gender")},
                                   filters.get("similar_to"))
    return _cached_page(lambda: search(filters, vector), filters, filters, vector=vector is not None,
                        rerank=rerank, counted=counted if embedding_side_only else None)


def _cached_page(make_query, cache_key, args, vector=False, rerank=None, counted=None):
    """One page of the select `make_query()` makes (only on a miss) as (ids, JSON entries, total, exact).

    With `rerank` (the query vector), the page comes from the index's candidates in exact order;
    `counted` makes a cheaper select of the same rows to count, if there is one."""
    def compute():
        query = make_query()
        offset = (args["page"] - 1) * args["per_page"]
        if rerank is not None:
            page_query = embeddings.reranked(query, rerank, offset, args["per_page"])
        else:
            page_query = query.with_only_columns(Talent.id).limit(args["per_page"]).offset(offset)
        counting = query.order_by(None).with_only_columns(Talent.id) if counted is None else counted()
        if vector:
            embeddings.scan_settings()
            counting = counting.limit(COUNT_BOUND + 1)
        total = db.session.scalar(select(func.count()).select_from(counting.subquery()))
        return list(db.session.scalars(page_query)), total, total <= COUNT_BOUND or not vector

    return talent_cache.cached_page_json(cache_key, compute, _render_json)


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
    talent_cache.forget(talent.id)
    return talent


def update(talent_id, user, changes):
    """Edit a profile the user manages (only admins verify or feature a talent); returns its snapshot.

    One transaction: read the row and its media, UPDATE ... RETURNING updated_at, commit; then one
    Redis round trip drops this talent's cached profile and moves the list version on."""
    talent = get_live(talent_id)
    if not can_manage(talent, user):
        raise ApiError(Codes.AUTH_FORBIDDEN)
    privileged = sorted(ADMIN_FIELDS & changes.keys())
    if privileged and user.role != Role.ADMIN:
        raise ApiError(Codes.AUTH_FORBIDDEN, "Only admins verify or feature a talent.",
                       details={"fields": {name: ["Only admins set this."] for name in privileged}})
    for name, value in changes.items():
        setattr(talent, name, value)
    if talent.playing_age_min is not None and talent.playing_age_max is not None \
            and talent.playing_age_min > talent.playing_age_max:
        raise ApiError(Codes.VALIDATION, details={"fields": {"playing_age_min": [
            "Must not be above playing_age_max."]}})
    talent.refresh_derived()
    db.session.flush()
    record = snapshot(talent)  # taken before the commit expires the row: no second read for the response
    db.session.commit()
    talent_cache.forget(talent_id)
    return record


def delete(talent_id, user):
    """Soft delete (the talent or an admin): gone from every list and search, restorable."""
    talent = get_live(talent_id)
    if not (user.role == Role.ADMIN or user.id == talent.user_id):
        raise ApiError(Codes.AUTH_FORBIDDEN)
    talent.deleted_at = datetime.now(timezone.utc)
    embeddings.forget(talent.id)
    db.session.commit()
    talent_cache.forget(talent.id)


def restore(talent_id):
    """Bring a soft-deleted profile back (admins)."""
    talent = db.session.get(Talent, talent_id)
    if talent is None:
        raise ApiError(Codes.TALENT_NOT_FOUND)
    talent.deleted_at = None
    db.session.commit()
    talent_cache.forget(talent.id)
    return talent


def featured_page(args):
    """Admin-featured talent first, then verified and complete profiles, the recently updated first, as
    (JSON entries, total, exact)."""
    def query():
        return (select(Talent).where(Talent.deleted_at.is_(None))
                .order_by(Talent.is_featured.desc(), Talent.profile_score.desc(), Talent.updated_at.desc(),
                          Talent.id.desc()))
    _, entries, total, exact = _cached_page(query, {"featured": True, **args}, args)
    return entries, total, exact


def _years_ago(years):
    today = date.today()
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def age_clause(age_min, age_max):
    """Playing age range overlaps [age_min, age_max]; without one, the real age lies in it."""
    playing, real = [], []
    if age_min is not None:
        playing.append(Talent.playing_age_max >= age_min)
        real.append(Talent.date_of_birth <= _years_ago(age_min))
    if age_max is not None:
        playing.append(Talent.playing_age_min <= age_max)
        real.append(Talent.date_of_birth > _years_ago(age_max + 1))
    has_playing = and_(Talent.playing_age_min.is_not(None), Talent.playing_age_max.is_not(None))
    return or_(and_(has_playing, *playing), and_(~has_playing, *real))


def _lower(values):
    return sorted({value.strip().lower() for value in values or [] if value.strip()})


def search(filters, vector=None, exact=False):
    """The select for a list or search: every filter combines; `q` is typo-tolerant and ranks; with
    `vector`, only talent with an embedding, nearest first (after the `sort` keys, if any): by the
    HNSW index's half-precision distance, or the full-precision one with `exact` or `sort`."""
    query = select(Talent).where(Talent.deleted_at.is_(None))
    place = {key: filters[key].strip().title() for key in ("city", "state") if filters.get(key)}
    # A vector search checks city and gender on the embedding row (their copies there), not here.
    on_vector = {key: place.pop(key, None) if key == "city" else filters.get(key)
                 for key in ("city", "gender")} if vector is not None else {}
    if place:
        query = query.where(Talent.location.contains(place))
    if filters.get("skills"):
        query = query.where(Talent.skill_keys.contains(_lower(filters["skills"])))
    if filters.get("skills_any"):
        query = query.where(or_(*(Talent.skill_keys.contains([skill]) for skill in _lower(filters["skills_any"]))))
    if filters.get("languages"):
        query = query.where(Talent.language_keys.contains(_lower(filters["languages"])))
    for name in ("gender", "availability_status", "is_verified"):
        if filters.get(name) is not None and name not in on_vector:
            query = query.where(getattr(Talent, name) == filters[name])
    if filters.get("age_min") is not None or filters.get("age_max") is not None:
        query = query.where(age_clause(filters.get("age_min"), filters.get("age_max")))
    if filters.get("height_min") is not None:
        query = query.where(Talent.height_cm >= filters["height_min"])
    if filters.get("height_max") is not None:
        query = query.where(Talent.height_cm <= filters["height_max"])
    if filters.get("experience_min") is not None:
        query = query.where(Talent.experience_years >= filters["experience_min"])
    order = sort_clauses(Talent, filters.get("sort"))
    if filters.get("q"):
        q = filters["q"].strip().lower()
        query = query.where(Talent.search_text.op("%>")(q))
        if not order and vector is None:
            order = [func.word_similarity(q, Talent.search_text).desc()]
    if vector is not None:
        # Nearest first and nothing after it, so the HNSW index can give the order (exact ties are rare).
        query, distance = embeddings.rank(query, vector, filters.get("similar_to"), on_vector,
                                          exact=exact or bool(order))
        return query.order_by(*order, distance)
    return query.order_by(*order, Talent.created_at.desc(), Talent.id.desc())
