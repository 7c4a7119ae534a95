"""The sweep from PostgreSQL: work that should exist and does not is found and done again.

Redis holds the queued and scheduled jobs; PostgreSQL holds what they are for. A worker killed in the
middle of a bulk invite, or Redis losing its data, leaves invitations without their message and booked
slots without their reminders. Every `REPAIR_MINUTES` (and at each worker start, and on `flask jobs
repair`) this sweep looks for both and repairs them. Doing it twice is harmless: every message has an
idempotency key that `notify` checks before anything is queued or sent, and every reminder job has an id
that planning again replaces.
"""
import logging
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from itertools import islice

from flask import current_app
from sqlalchemy import String, cast, literal, select

from casting.auditions import reminders, tasks
from casting.auditions.models import Audition, AuditionSlot, AuditionStatus, Invitation, InvitationStatus
from casting.kernel.extensions import db, queue_redis
from casting.kernel.jobs import periodic
from casting.notifications.models import Notification

log = logging.getLogger(__name__)
GRACE = timedelta(seconds=60)  # what the request's own job is given first (only to save the work twice)
BATCH = 500


def _batches(rows, size=BATCH):
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield chunk


def unsent_invitations(now, grace=GRACE):
    """{audition id: [invitation ids]} of invitations still open, made within REPAIR_LOOKBACK_HOURS, whose
    invitation message was never created."""
    lookback = timedelta(hours=current_app.config["REPAIR_LOOKBACK_HOURS"])
    message = Notification.idempotency_key == literal("invite:") + cast(Invitation.id, String)
    rows = db.session.execute(
        select(Invitation.audition_id, Invitation.id)
        .join(Audition, Audition.id == Invitation.audition_id)
        .outerjoin(Notification, message)
        .where(Notification.id.is_(None), Invitation.status == InvitationStatus.INVITED,
               Invitation.created_at >= now - lookback, Invitation.created_at <= now - grace,
               Audition.status.not_in([AuditionStatus.CANCELLED, AuditionStatus.COMPLETED]))
        .order_by(Invitation.id)).all()
    found = defaultdict(list)
    for audition_id, invitation_id in rows:
        found[audition_id].append(invitation_id)
    return found


def _booked_slots(now):
    return db.session.execute(
        select(Invitation.id, Invitation.slot_id, AuditionSlot.start_at)
        .join(AuditionSlot, AuditionSlot.id == Invitation.slot_id)
        .where(Invitation.status == InvitationStatus.ACCEPTED, AuditionSlot.start_at > now)
        .order_by(Invitation.id)).all()


def _sent_keys(keys):
    sent = set()
    for chunk in _batches(keys):
        sent.update(db.session.scalars(select(Notification.idempotency_key)
                                       .where(Notification.idempotency_key.in_(chunk))))
    return sent


def _existing_jobs(job_ids):
    connection = queue_redis._get_current_object()
    found = set()
    for chunk in _batches(job_ids):
        with connection.pipeline(transaction=False) as pipe:
            for job_id in chunk:
                pipe.exists("rq:job:" + job_id)
            found.update(job_id for job_id, exists in zip(chunk, pipe.execute()) if exists)
    return found


def missing_reminders(now):
    """[(invitation id, slot id, start, minutes, due now?)] of the reminders of upcoming booked slots that
    have no job: those still to come (to schedule), and the one due now (to send, if it never went out)."""
    leads = current_app.config["AUDITION_REMINDER_MINUTES"]
    wanted = []
    for invitation_id, slot_id, start_at in _booked_slots(now):
        due = reminders.due_lead(start_at, now, leads)
        for minutes in leads:
            if start_at - timedelta(minutes=minutes) > now:
                wanted.append((invitation_id, slot_id, start_at, minutes, False))
            elif minutes == due:
                wanted.append((invitation_id, slot_id, start_at, minutes, True))
    jobs = _existing_jobs([reminders.job_id(i, s, m) for i, s, _, m, _ in wanted])
    sent = _sent_keys([reminders.notification_key(i, s, m) for i, s, _, m, due in wanted if due])
    return [row for row in wanted if reminders.job_id(*row[:2], row[3]) not in jobs
            and not (row[4] and reminders.notification_key(*row[:2], row[3]) in sent)]


def repair(now=None, grace=GRACE):
    """Send the invitations that were never messaged and plan (or send, when due) the reminders of booked
    slots that have none; returns {"invitations": n, "reminders": n}."""
    now = now or datetime.now(timezone.utc)
    unsent = unsent_invitations(now, grace)
    db.session.rollback()
    for invitation_ids in unsent.values():
        tasks.send_invites(invitation_ids)
    missing = missing_reminders(now)
    db.session.rollback()
    for invitation_id, slot_id, start_at, minutes, due in missing:
        if due:
            reminders.send_reminder(invitation_id, slot_id, minutes)
        else:
            reminders.plan(invitation_id, slot_id, start_at, only={minutes})
    counts = {"invitations": sum(map(len, unsent.values())), "reminders": len(missing)}
    if any(counts.values()):
        log.warning("repaired work lost from the queues", extra=counts)
    return counts


@periodic("REPAIR_MINUTES")
def repair_lost_work():
    """The periodic sweep (see the module)."""
    return repair()
