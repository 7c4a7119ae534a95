"""The audit log: one call, `record()`, from every place that changes who can do what."""
from sqlalchemy import select

from casting.audit.models import AuditEvent
from casting.kernel.extensions import db
from casting.kernel.requestid import request_id
from casting.kernel.sorting import order_by


def record(action, actor_id=None, target_type=None, target_id=None, details=None, api_key_id=None,
           commit=False, ip=None):
    """Add an audit event to the current transaction (or commit it on its own with `commit=True`); `ip` is
    the client address the caller was given (none for the system's own steps)."""
    event = AuditEvent(action=action, actor_id=actor_id, actor_api_key_id=api_key_id,
                       target_type=target_type, target_id=None if target_id is None else str(target_id),
                       ip=ip,
                       request_id=request_id(), details=details or {})
    db.session.add(event)
    if commit:
        db.session.commit()
    return event


def search(filters):
    """Audit events matching `filters` (action, actor_id, target_type, target_id, since, until), newest first
    unless `sort` says otherwise."""
    query = select(AuditEvent)
    for name in ("action", "actor_id", "target_type", "target_id"):
        if filters.get(name) is not None:
            query = query.where(getattr(AuditEvent, name) == filters[name])
    if filters.get("since"):
        query = query.where(AuditEvent.at >= filters["since"])
    if filters.get("until"):
        query = query.where(AuditEvent.at < filters["until"])
    return query.order_by(*order_by(AuditEvent, filters.get("sort")))
