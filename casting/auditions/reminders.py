"""Reminders before a confirmed slot: RQ jobs scheduled at booking, dropped when the slot is given up.

A job's id names the invitation, the slot and the lead time, so planning again replaces rather than
doubles it; the job checks at run time that the slot is still the talent's and has not started (and
that no later reminder is due already: a late job never sends two at once), and the notification's
idempotency key makes a second run a no-op: never twice, never late, never for a slot no longer theirs.
PostgreSQL is the record: `rebuild` plans again whatever Redis lost (`casting.auditions.repair`).
"""
import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app

from casting.auditions.models import Audition, AuditionSlot, Invitation, InvitationStatus
from casting.auditions.tasks import tell
from casting.kernel.extensions import db
from casting.kernel.jobs import get_queue
from casting.productions.models import Production
from casting.talents.models import Talent

log = logging.getLogger(__name__)


def job_id(invitation_id, slot_id, minutes):
    return f"audition-reminder-{invitation_id}-{slot_id}-{minutes}"


def notification_key(invitation_id, slot_id, minutes):
    return f"reminder:{invitation_id}:{slot_id}:{minutes}"


def plan(invitation_id, slot_id, start_at, only=None):
    """Schedule the reminders for a booked slot (those whose time has not passed; of `only`'s lead
    times, when given)."""
    queue = get_queue("default")
    now = datetime.now(timezone.utc)
    with queue.connection.pipeline() as pipe:  # every lead time in one round trip
        for minutes in current_app.config["AUDITION_REMINDER_MINUTES"]:
            when = start_at - timedelta(minutes=minutes)
            if when > now and (only is None or minutes in only):
                queue.enqueue_at(when, send_reminder, invitation_id, slot_id, minutes,
                                 job_id=job_id(invitation_id, slot_id, minutes), pipeline=pipe)
        pipe.execute()


def due_lead(start_at, now, leads):
    """The lead time (minutes) whose reminder is due at `now` for a slot at `start_at`: the shortest
    whose time has passed, or None (none yet, or the slot has started)."""
    if start_at <= now:
        return None
    passed = [minutes for minutes in leads if start_at - timedelta(minutes=minutes) <= now]
    return min(passed) if passed else None


def cancel(invitation_id, slot_id):
    """Drop the reminders of a slot the talent no longer holds, in one round trip: out of the schedule, out
    of the queue (one that fell due meanwhile) and their records. Their ids are known, so none is read
    first; one a worker has already started finds the slot no longer theirs and sends nothing."""
    queue = get_queue("default")
    scheduled = queue.scheduled_job_registry
    with queue.connection.pipeline() as pipe:
        for minutes in current_app.config["AUDITION_REMINDER_MINUTES"]:
            reminder = job_id(invitation_id, slot_id, minutes)
            scheduled.remove(reminder, pipeline=pipe)
            queue.remove(reminder, pipeline=pipe)
            pipe.delete(queue.job_class.key_for(reminder))
        pipe.execute()


def send_reminder(invitation_id, slot_id, minutes):
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.slot_id != slot_id or invitation.status != InvitationStatus.ACCEPTED:
        log.info("reminder dropped: the slot is no longer theirs", extra={"invitation_id": invitation_id})
        return
    talent = db.session.get(Talent, invitation.talent_id)
    audition = db.session.get(Audition, invitation.audition_id)
    slot = db.session.get(AuditionSlot, slot_id)
    if due_lead(slot.start_at, datetime.now(timezone.utc), current_app.config["AUDITION_REMINDER_MINUTES"]) != minutes:
        log.info("reminder dropped: too late (the slot has started, or a later reminder is due)",
                 extra={"invitation_id": invitation_id, "minutes": minutes})
        return
    local = slot.start_at.astimezone(ZoneInfo(audition.timezone))
    params = {"talent_name": talent.stage_name,
              "production": db.session.get(Production, audition.production_id).title,
              "time": local.strftime("%d %b %Y, %I:%M %p"),
              "venue": (audition.location or {}).get("city") or audition.meeting_url or "online"}
    tell(talent, "audition_reminder", params, notification_key(invitation_id, slot_id, minutes))
