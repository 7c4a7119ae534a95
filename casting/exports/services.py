"""Bulk export of talent for training: NDJSON, keyset-paged inside, constant memory whatever the size."""
import json

from sqlalchemy import func, select

from casting.audit import record
from casting.kernel.extensions import db
from casting.talents.models import Talent, TalentEmbedding, age_on
from casting.talents import PUBLIC_FIELDS
from casting.users.models import User

BATCH = 1000


def _columns(with_pii, with_embeddings):
    columns = [getattr(Talent, name) for name in PUBLIC_FIELDS if name != "age"] + [Talent.date_of_birth]
    if with_pii:
        columns += [User.email, User.phone]
    if with_embeddings:
        columns += [TalentEmbedding.model.label("embedding_model"), TalentEmbedding.embedding]
    return columns


def _line(row, with_pii, with_embeddings):
    values = dict(row._mapping)
    born = values.pop("date_of_birth")
    values["age"] = age_on(born)
    if with_pii:
        values["date_of_birth"] = born
    if with_embeddings:
        model, vector = values.pop("embedding_model"), values.pop("embedding")
        values["embedding"] = None if vector is None else {"model": model, "vector": vector}
    return json.dumps(values, default=_plain, ensure_ascii=False) + "\n"


def _plain(value):
    return value.value if hasattr(value, "value") else value.isoformat()


def talent_lines(api_key, client, updated_since=None, with_embeddings=False):
    """NDJSON lines of every live talent (optionally changed since a time), by id; PII only for `pii` keys;
    with `with_embeddings`, each talent's stored embedding (or null).

    The export is audit-logged before the first line. Rows are read as plain tuples a batch at a
    time, each batch after the last id seen, so memory does not grow with the table.
    """
    return export_lines("pii" in api_key.scopes, updated_since, with_embeddings, api_key_id=api_key.id,
                        ip=client.ip)


def export_lines(with_pii, updated_since=None, with_embeddings=False, api_key_id=None, progress=None, ip=None):
    """`talent_lines` for a service key (`api_key_id`) or an operator (`flask export talents`, no key).

    `progress(talents, total)`, if given, is called after every batch, `total` being counted first.
    """
    record("talent_export", api_key_id=api_key_id, target_type="talent",
           details={"updated_since": updated_since.isoformat() if updated_since else None, "pii": with_pii,
                    "embeddings": with_embeddings, "via": "api" if api_key_id else "cli"},
           commit=True, ip=ip)
    query = select(*_columns(with_pii, with_embeddings)).where(Talent.deleted_at.is_(None))
    live = select(func.count()).select_from(Talent).where(Talent.deleted_at.is_(None))
    if with_pii:
        query = query.outerjoin(User, User.id == Talent.user_id)
    if with_embeddings:
        query = query.outerjoin(TalentEmbedding, TalentEmbedding.talent_id == Talent.id)
    if updated_since is not None:
        query = query.where(Talent.updated_at >= updated_since)
        live = live.where(Talent.updated_at >= updated_since)
    total = db.session.scalar(live) if progress else 0
    last_id = 0
    while True:
        rows = db.session.execute(query.where(Talent.id > last_id).order_by(Talent.id).limit(BATCH)).all()
        if not rows:
            return
        for row in rows:
            yield _line(row, with_pii, with_embeddings)
        last_id = rows[-1].id
        db.session.rollback()  # end the batch's transaction: no snapshot is held open across the stream
        if progress:
            progress(len(rows), total)
