"""Auditions as iCalendar (RFC 5545): one event per slot, with stable UIDs and rising sequence numbers so
a calendar app replaces an event when the audition changes instead of adding another."""
import hashlib
import secrets
from datetime import datetime, timezone

from icalendar import Calendar, Event
from sqlalchemy import select

from casting.auditions.models import Audition, AuditionSlot, AuditionStatus, CalendarFeed, Invitation
from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db
from casting.productions.models import Production
from casting.talents.models import Talent

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _sequence(*moments):
    """A number that grows with every change (seconds since 2026 of the latest change)."""
    return max(int((moment - EPOCH).total_seconds()) for moment in moments if moment is not None)


def _event(audition, slot, summary, changed):
    event = Event()
    event.add("uid", f"audition-{audition.id}-slot-{slot.id}@casting")
    event.add("sequence", _sequence(audition.updated_at, changed))
    event.add("dtstamp", datetime.now(timezone.utc))
    event.add("dtstart", slot.start_at)
    event.add("dtend", slot.end_at)
    event.add("summary", summary)
    if audition.location:
        event.add("location", ", ".join(filter(None, (audition.location.get("city"), audition.location.get("state")))))
    if audition.meeting_url:
        event.add("url", audition.meeting_url)
    if audition.instructions:
        event.add("description", audition.instructions)
    event.add("status", "CANCELLED" if audition.status == AuditionStatus.CANCELLED else "CONFIRMED")
    return event


def _calendar(events, name):
    calendar = Calendar()
    calendar.add("prodid", "-//Casting//Auditions//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()


def _talent_events(invitations):
    for invitation in invitations:
        if invitation.slot_id is None:
            continue
        audition = db.session.get(Audition, invitation.audition_id)
        yield _event(audition, db.session.get(AuditionSlot, invitation.slot_id), f"Audition: {audition.title}",
                     invitation.updated_at)


def _owner_events(auditions):
    for audition in auditions:
        for slot in audition.slots:
            yield _event(audition, slot, f"{audition.title} ({slot.booked}/{slot.capacity} booked)", None)


def audition_ics(audition, user, is_owner):
    """The owner gets every slot; an invited talent their own slot (nothing until they have one)."""
    if is_owner:
        return _calendar(_owner_events([audition]), audition.title)
    invitations = db.session.scalars(select(Invitation).join(Talent, Talent.id == Invitation.talent_id)
                                     .where(Invitation.audition_id == audition.id, Talent.user_id == user.id))
    return _calendar(_talent_events(invitations), audition.title)


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def open_feed(user):
    """A new subscription token for `user` (shown once; only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(user_id=user.id, token_hash=_digest(token))
    db.session.add(feed)
    db.session.commit()
    return feed, token


def revoke_feed(user, feed_id):
    feed = db.session.get(CalendarFeed, feed_id)
    if feed is None or feed.user_id != user.id:
        raise ApiError(Codes.NOT_FOUND)
    feed.revoked_at = feed.revoked_at or datetime.now(timezone.utc)
    db.session.commit()


def feed_ics(token):
    """The feed owner's calendar: their confirmed slots as talent, and every slot of their auditions."""
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _digest(token),
                                                        CalendarFeed.revoked_at.is_(None)))
    if feed is None:
        raise ApiError(Codes.NOT_FOUND)
    invitations = db.session.scalars(select(Invitation).join(Talent, Talent.id == Invitation.talent_id)
                                     .where(Talent.user_id == feed.user_id, Invitation.slot_id.is_not(None)))
    owned = db.session.scalars(select(Audition).where(
        Audition.status != AuditionStatus.DRAFT,
        Audition.production_id.in_(select(Production.id).where(Production.owner_id == feed.user_id))))
    return _calendar([*_talent_events(invitations), *_owner_events(owned)], "Casting auditions")
