"""Embeddings from the ML service, and the vector side of talent search (pgvector, HNSW, cosine).

A talent's vector lives in `talent_embeddings` (one row per talent, the model that made it beside
it) under an HNSW index with `vector_cosine_ops`. A search that ranks by similarity runs with
iterative index scans (`hnsw.iterative_scan = strict_order`): when the other filters throw away
what the index found, the scan goes on until the page is full, in exact distance order, so pages
follow one another without gaps or repeats. Selective filters let the planner skip the index and
rank the few matching rows exactly.
"""
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from casting.errors import ApiError, Codes
from casting.extensions import db
from casting.talents import cache as talent_cache
from casting.talents.models import Talent, TalentEmbedding


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
    db.session.commit()
    talent_cache.forget(talent_id)
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


def rank(query, vector, exclude=None):
    """`query` (a select of talents) narrowed to those with an embedding, nearest to `vector` first."""
    query = query.join(TalentEmbedding, TalentEmbedding.talent_id == Talent.id)
    if exclude is not None:
        query = query.where(Talent.id != exclude)
    return query, TalentEmbedding.embedding.cosine_distance(vector)


def scan_settings():
    """For this transaction: HNSW scans go on past `ef_search` until a filtered page is full, in order."""
    db.session.execute(select(func.set_config("hnsw.iterative_scan", "strict_order", True),
                              func.set_config("hnsw.ef_search", str(current_app.config["HNSW_EF_SEARCH"]), True)))
