"""Embeddings from the ML service, and the vector side of talent search (pgvector, HNSW, cosine).

A talent's vector lives in `talent_embeddings` (one row per talent, the model that made it, and
copies of the talent's city and gender kept by triggers) under an HNSW index on the vector in half
precision (`halfvec_cosine_ops`: half the size of a full-precision graph). A search that ranks by
similarity takes its candidates from the index with relaxed iterative scans
(`hnsw.iterative_scan = relaxed_order`: when the filters throw away what the index found, the scan
goes on until enough candidates pass, without the cost of keeping them in exact order), a few more
than the page needs, and re-ranks them on the full-precision vectors. City and gender are checked on
the embedding row the scan has read, so a rejected candidate costs no join.

A search filtered only on city and gender whose filters are selective (the planner's estimate at
most VECTOR_EXACT_MAX vectors) skips the graph: a filtered HNSW scan hands over about 1 / selectivity
candidates per result (1,300 for a page at 1.9%), each a walk through graph neighbours, while the
half-precision copies in `talent_embedding_halves`, under the covering index
`(city, gender, talent_id) INCLUDE (embedding)`, give the matching vectors side by side to rank them
all, the first few re-ranked on the full vectors: the exact order.
"""
from datetime import datetime, timezone

from flask import current_app
from pgvector.sqlalchemy import HALFVEC, Vector
from sqlalchemy import cast, delete, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert

from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db
from casting.talents import cache as talent_cache
from casting.talents.models import Talent, TalentEmbedding, TalentEmbeddingHalf


def store(talent_id, data):
    """Put a live talent's embedding (replacing any); list caches see it at once."""
    talent = db.session.get(Talent, talent_id)
    if talent is None or talent.deleted_at is not None:
        raise ApiError(Codes.TALENT_NOT_FOUND)
    values = {"talent_id": talent_id, "model": data["model"], "embedding": data["embedding"]}
    statement = insert(TalentEmbedding).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[TalentEmbedding.talent_id],
        set_={"model": statement.excluded.model, "embedding": statement.excluded.embedding,
              "updated_at": func.now()}).returning(TalentEmbedding.model, TalentEmbedding.updated_at)
    stored = db.session.execute(statement).one()
    owner_id = talent.user_id  # read before the commit expires it
    db.session.commit()
    talent_cache.forget(talent_id, owner_id, {"embedding"})  # the vector searches miss; the other lists stay
    return {"model": stored.model, "dimension": len(data["embedding"]), "updated_at": stored.updated_at}


def store_role(role, data):
    """Put a role's embedding; `updated_at` moves, so its cached matches are ranked again."""
    role.embedding = data["embedding"]
    role.embedding_model = data["model"]
    role.embedded_at = datetime.now(timezone.utc)
    db.session.commit()
    return {"model": role.embedding_model, "dimension": len(data["embedding"]), "updated_at": role.embedded_at}


def forget(talent_id):
    """Drop a talent's vector (in the caller's transaction): a deleted talent is not searchable by it."""
    db.session.execute(delete(TalentEmbedding).where(TalentEmbedding.talent_id == talent_id))


def query_vector(filters):
    """The vector a search ranks by: `embedding`, or the embedding of the live talent `similar_to` (422 if
    it has none); None for a search without one."""
    if filters.get("embedding") is not None:
        return filters["embedding"]
    talent_id = filters.get("similar_to")
    if talent_id is None:
        return None
    vector = db.session.scalar(select(TalentEmbedding.embedding).join(Talent, Talent.id == TalentEmbedding.talent_id)
                               .where(TalentEmbedding.talent_id == talent_id, Talent.deleted_at.is_(None)))
    if vector is None:
        raise ApiError(Codes.VALIDATION, details={"fields": {"similar_to": [
            f"Talent {talent_id} does not exist or has no embedding yet."]}})
    return list(vector)


RERANK_SLACK = 5  # candidates beyond the page, so the half-precision order cannot push one out of it
# The same on the exact path: half precision moves a cosine distance by about 1e-4 (at worst 1e-3),
# while the 20th and the 40th neighbours of a query lie some 0.02 apart; the extra rows cost little.
EXACT_SLACK = 20


def _approximate(vector):
    """The distance the HNSW index orders by: cosine on half precision, as indexed."""
    dim = current_app.config["EMBEDDING_DIM"]
    query = cast(literal(vector, Vector(dim)), HALFVEC(dim))
    return cast(TalentEmbedding.embedding, HALFVEC(dim)).cosine_distance(query)


def exact_distance(vector):
    return TalentEmbedding.embedding.cosine_distance(vector)


def rank(query, vector, exclude=None, where=None, exact=False):
    """`query` (a select of talents) narrowed to those with an embedding and, with `where` (a city and
    a gender, either None), to those on the embedding row's copies (so an index scan checks them on
    the row it has read), with the distance to order by: the index's (half precision) or, with `exact`,
    the full-precision one."""
    query = query.join(TalentEmbedding, TalentEmbedding.talent_id == Talent.id)
    if exclude is not None:
        query = query.where(Talent.id != exclude)
    for name, value in (where or {}).items():
        if value is not None:
            query = query.where(getattr(TalentEmbedding, name) == value)
    return query, exact_distance(vector) if exact else _approximate(vector)


def matching(where, exclude=None):
    """The ids of the embedding rows with the city and gender of `where` (either None): the live talent
    with a vector there, as a deleted talent's vector goes with it (`forget`, and a trigger)."""
    return _ids_where(TalentEmbedding, where, exclude)


def _ids_where(model, where, exclude=None):
    """SELECT the talent ids of `model` (the vectors or their half-precision copies) with `where`'s city
    and gender (either None), but `exclude`."""
    query = select(model.talent_id)
    if exclude is not None:
        query = query.where(model.talent_id != exclude)
    for name, value in _normalised(where).items():
        if value is not None:
            query = query.where(getattr(model, name) == value)
    return query


# The planner's estimate of the vectors with a city and/or a gender (constant statements, values bound).
_ESTIMATES = {
    (True, True): "EXPLAIN (FORMAT JSON) SELECT 1 FROM talent_embeddings WHERE city = :city "
                  "AND gender = CAST(:gender AS talent_gender)",
    (True, False): "EXPLAIN (FORMAT JSON) SELECT 1 FROM talent_embeddings WHERE city = :city",
    (False, True): "EXPLAIN (FORMAT JSON) SELECT 1 FROM talent_embeddings "
                   "WHERE gender = CAST(:gender AS talent_gender)",
}


def _normalised(where):
    return {name: value.strip().title() if name == "city" and value is not None else value
            for name, value in where.items()}


def ranks_exactly(where):
    """True when the vectors with `where`'s city and gender are few enough (the planner's estimate, from
    the table's statistics: no rows read) to rank them all exactly rather than walk the HNSW graph."""
    limit = current_app.config["VECTOR_EXACT_MAX"]
    where = _normalised(where)
    shape = (where.get("city") is not None, where.get("gender") is not None)
    if limit <= 0 or shape not in _ESTIMATES:
        return False
    gender = where.get("gender")
    params = {"city": where.get("city"), "gender": getattr(gender, "value", gender)}
    plan = db.session.execute(text(_ESTIMATES[shape]), params).scalar()
    return plan[0]["Plan"]["Plan Rows"] <= limit


def exact_page(where, vector, offset, limit, exclude=None):
    """The ids of one page of the talent with `where`'s city and gender, ranked exactly: all of them on
    their half-precision copies (an index-only scan of `ix_talent_embeddings_halves_exact`, then a
    top-N sort), the first `offset + limit + EXACT_SLACK` of those re-ranked on the full vectors."""
    dim = current_app.config["EMBEDDING_DIM"]
    half = TalentEmbeddingHalf
    candidates = _ids_where(half, where, exclude)
    distance = half.embedding.cosine_distance(cast(literal(vector, Vector(dim)), HALFVEC(dim)))
    candidates = candidates.order_by(distance, half.talent_id).limit(offset + limit + EXACT_SLACK).subquery()
    return (select(candidates.c.talent_id)
            .join(TalentEmbedding, TalentEmbedding.talent_id == candidates.c.talent_id)
            .order_by(exact_distance(vector), candidates.c.talent_id).offset(offset).limit(limit))


def reranked(query, vector, offset, limit):
    """The ids of one page of `query` (ordered by the index's distance): `offset + limit + RERANK_SLACK`
    candidates from the index, in full-precision order."""
    candidates = (query.with_only_columns(Talent.id.label("id"), exact_distance(vector).label("distance"))
                  .limit(offset + limit + RERANK_SLACK).subquery())
    return select(candidates.c.id).order_by(candidates.c.distance, candidates.c.id).offset(offset).limit(limit)


def scan_settings():
    """For this transaction: HNSW scans go on past `ef_search` until enough filtered candidates are found."""
    db.session.execute(select(func.set_config("hnsw.iterative_scan", "relaxed_order", True),
                              func.set_config("hnsw.ef_search", str(current_app.config["HNSW_EF_SEARCH"]), True)))
