"""PII at rest: Fernet encryption (rotatable keys) and a keyed HMAC blind index for look-ups.

`PII_KEYS` lists Fernet keys, newest first: new values are encrypted with the first, and every key
decrypts. `flask keys rotate-pii` re-encrypts every value under the first key, after which the old
keys can be dropped. `PII_INDEX_KEY` keys the blind index, so equal values can be found without
storing them in clear.
"""
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app
from sqlalchemy import Text, func, select, type_coerce, update
from sqlalchemy.types import TypeDecorator


@lru_cache(maxsize=8)
def _fernet(keys):
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet():
    return _fernet(tuple(current_app.config["PII_KEYS"]))


def encrypt(value):
    return fernet().encrypt(value.encode()).decode()


def decrypt(token):
    return fernet().decrypt(token.encode()).decode()


def rotate(token):
    """The same value, encrypted under the newest key."""
    return fernet().rotate(token.encode()).decode()


def blind_index(value):
    """A keyed HMAC of an already normalised value: equal values, equal index; nothing readable."""
    key = current_app.config["PII_INDEX_KEY"].encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


class EncryptedString(TypeDecorator):
    """A string stored as Fernet ciphertext; Python code sees the clear value."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)


def encrypted_columns():
    """Every (table, [columns]) of the models that holds EncryptedString values."""
    from casting.kernel.extensions import db

    for table in db.metadata.sorted_tables:
        columns = [column for column in table.columns if isinstance(column.type, EncryptedString)]
        if columns:
            yield table, columns


def rotate_all(batch_size=500, progress=None):
    """Re-encrypt every PII value under the newest key, in small committed batches; returns the count.

    Readers keep working throughout: every key in PII_KEYS decrypts, whichever has been applied.
    `progress(rows, total)`, if given, is called after every batch with the rows it went through, out
    of all the rows of the tables that hold PII (counted first).
    """
    from casting.kernel.extensions import db

    tables = list(encrypted_columns())
    total = sum(db.session.scalar(select(func.count()).select_from(table)) for table, _ in tables) if progress else 0
    rotated = 0
    for table, columns in tables:
        raw = [type_coerce(column, Text).label(column.name) for column in columns]
        last_id = 0
        while rows := db.session.execute(select(table.c.id, *raw).where(table.c.id > last_id)
                                         .order_by(table.c.id).limit(batch_size)).all():
            for row in rows:
                values = {column.name: type_coerce(rotate(getattr(row, column.name)), Text)
                          for column in columns if getattr(row, column.name) is not None}
                if values:
                    db.session.execute(update(table).where(table.c.id == row.id).values(values))
                    rotated += len(values)
            db.session.commit()
            last_id = rows[-1].id
            if progress:
                progress(len(rows), total)
    return rotated
