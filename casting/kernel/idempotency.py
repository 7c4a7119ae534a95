"""`Idempotency-Key`: a client retrying a creating request after a lost answer gets the first answer.

Every POST whose documented success is `201 Created` or `202 Accepted` takes the header from a signed-in
caller (`creates`; the OpenAPI document says so on the same operations). The first request with a key
runs as usual; the record of the key (caller, key, a SHA-256 of the method, path, query, content type and
body) is written *in the same transaction* as the first thing the request commits, so either both the
effect and the record are in PostgreSQL or neither is: a process killed after its commit cannot let a
retry create the thing twice. Its answer (status, body: encrypted like other personal data) is added
once the response is built. A retry with the same key:

- same request, answer recorded: that answer again (`Idempotent-Replayed: true`);
- same request, applied but its answer not recorded (still running, or its process died): `409 REQUEST_007`;
- a different request: `422 REQUEST_006`.

A request that committed nothing (refused, invalid) leaves no record: retrying it runs it again. Keys are
kept `IDEMPOTENCY_HOURS` and per caller: two users' same key never meet.
"""
import hashlib
import logging
import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from flask import current_app, g, has_request_context, request
from sqlalchemy import DateTime, Integer, String, UniqueConstraint, delete, event, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db, in_transaction, own_connection
from casting.kernel.jobs import periodic
from casting.kernel.pii import EncryptedString

log = logging.getLogger(__name__)
HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # printable ASCII, no spaces: a UUID is the usual choice
CREATED = (201, 202)
CONSTRAINT = "uq_idempotency_keys_principal"
REPLAYED = "Idempotent-Replayed"


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key", name=CONSTRAINT),)

    id: Mapped[int] = mapped_column(primary_key=True)
    principal: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[str | None] = mapped_column(EncryptedString)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


def creates(method, handler):
    """True for the operations that take an Idempotency-Key: a POST whose documented success is 201 or 202,
    unless its answer holds a secret (`secret_answer`)."""
    if method.upper() != "POST" or getattr(handler, "idempotency_exempt", False):
        return False
    return any(int(status) in CREATED for status in getattr(handler, "_apidoc", {}).get("success_status_codes", ()))


def secret_answer(view):
    """Mark a creating view whose answer holds a secret shown once (an API key, a feed URL): it is never
    stored for a replay, so it takes no Idempotency-Key. Put it above the other decorators."""
    view.idempotency_exempt = True
    return view


def handler_of(view, method):
    """The function that answers `method` on a route's view (a MethodView's method, or the view itself)."""
    return getattr(getattr(view, "view_class", None), method.lower(), view)


def _view_creates():
    return creates(request.method, handler_of(current_app.view_functions.get(request.endpoint), request.method))


def _fingerprint():
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1"), request.mimetype):
        digest.update(part.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def check(signed_in_principal):
    """before_request (after the principal is known): replay, refuse, or let the request run, keyed.
    `signed_in_principal()` is the auth domain's (payload, principal) of the caller, or None."""
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST":
        return None
    found = signed_in_principal()
    if found is None or not _view_creates():
        return None  # only signed-in callers' creating requests are keyed; the header is ignored elsewhere
    if not re.match(KEY_PATTERN, key):
        raise ApiError(Codes.VALIDATION, details={"fields": {HEADER: [
            "1 to 255 printable ASCII characters without spaces (a UUID, say)."]}})
    principal, fingerprint = f"user:{found[0]['sub']}", _fingerprint()
    record = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.principal == principal,
                                                            IdempotencyKey.key == key))
    if record is not None and record.created_at < _oldest():
        db.session.delete(record)  # expired: the key starts afresh
        db.session.commit()
        record = None
    if record is None:
        g.idempotency = (principal, key, fingerprint)
        return None
    stored, status, body, content_type = record.fingerprint, record.status_code, record.body, record.content_type
    db.session.rollback()
    if stored != fingerprint:
        raise ApiError(Codes.IDEMPOTENCY_KEY_REUSED)
    if status is None:
        raise ApiError(Codes.IDEMPOTENCY_IN_FLIGHT, headers={"Retry-After": "1"})
    response = current_app.response_class(body or "", status=status, content_type=content_type)
    response.headers[REPLAYED] = "true"
    return response


@contextmanager
def statements():
    """Where a creating request whose whole effect is one statement runs its few Core statements: yields
    `run(statement, params)` (a Result). Unless an Idempotency-Key's record must commit with that effect,
    on a pooled connection of their own in autocommit (`own_connection`), each committing on its own:
    the reads before the write each see committed data, and the write must check what it relies on.
    With a key, in the session's transaction (the connection asked afresh each time, so a rollback in
    between begins a new one), committed with the key's record by the caller's `db.session.commit()`."""
    if alone():
        with own_connection() as connection:
            yield connection.execute
    else:
        yield lambda statement, params: db.session.connection().execute(statement, params)


def alone():
    """Whether a write may commit on its own now (`casting.kernel.extensions.at_once`): no Idempotency-Key's
    record must commit with it, and the session has no transaction of its own under way."""
    return (not has_request_context() or g.get("idempotency") is None) and not in_transaction()


def _oldest():
    return datetime.now(timezone.utc) - timedelta(hours=current_app.config["IDEMPOTENCY_HOURS"])


def _record_with_first_commit(session):
    """Session `before_commit`: the key's record joins the request's first commit (flushed with it)."""
    if not has_request_context():
        return
    keyed = g.get("idempotency")
    if keyed is None or g.get("idempotency_recorded"):
        return
    principal, key, fingerprint = keyed
    session.add(IdempotencyKey(principal=principal, key=key, fingerprint=fingerprint))
    g.idempotency_recorded = True


event.listen(Session, "before_commit", _record_with_first_commit)


def remember(response):
    """after_request: store the answer of a request whose effect was committed with its key.

    A 5xx is not stored: its record stays without an answer (a retry gets 409, never a second effect)."""
    keyed = g.get("idempotency")
    if keyed is None or not g.get("idempotency_recorded") or response.status_code >= 500 or response.is_streamed:
        return response
    principal, key, _ = keyed
    try:
        with db.engine.begin() as connection:
            connection.execute(update(IdempotencyKey).where(
                IdempotencyKey.principal == principal, IdempotencyKey.key == key).values(
                status_code=response.status_code, content_type=response.content_type,
                body=response.get_data(as_text=True)))
    except Exception:  # the effect stands; a retry is told it was applied (409) instead of replaying it
        log.warning("could not record the answer of an idempotent request", exc_info=True)
    return response


def in_flight_conflict(error):
    """True when an IntegrityError is a second request with the same key committing after the first."""
    return CONSTRAINT in str(getattr(error, "orig", error))


@periodic("REPAIR_MINUTES")
def prune_idempotency_keys():
    """Forget keys older than IDEMPOTENCY_HOURS."""
    deleted = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < _oldest())).rowcount
    db.session.commit()
    return deleted
