"""Auditions: who sees and runs them, slots, bulk invites, RSVPs that never overbook, results with history."""
from datetime import timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import orjson
from rq import Retry
from sqlalchemy import and_, bindparam, false, func, literal_column, or_, select, update
from sqlalchemy.orm import aliased, joinedload, selectinload

from casting.kernel import throttle
from casting.auditions import reminders, tasks
from casting.auditions.models import (Audition, AuditionSlot, AuditionStatus, Invitation, InvitationEvent,
                                      InvitationStatus)
from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import at_once, begin_locking, db
from casting.kernel.jobs import enqueue
from casting.kernel.jsonprovider import iso
from casting.kernel.pagination import page
from casting import productions
from casting.productions.models import CastingRole, Production
from casting import safety
from casting.safety.models import FlagTarget
from casting.kernel.sorting import order_by
from casting.talents.models import Talent
from casting.users.models import Role, User

S = InvitationStatus
MOVES = {
    S.INVITED: {S.ACCEPTED, S.DECLINED, S.RESCHEDULE_REQUESTED},
    S.ACCEPTED: {S.DECLINED, S.RESCHEDULE_REQUESTED, S.ATTENDED, S.NO_SHOW, S.SHORTLISTED, S.CALLBACK,
                 S.SELECTED, S.REJECTED},
    S.RESCHEDULE_REQUESTED: {S.ACCEPTED, S.DECLINED},
    S.DECLINED: {S.ACCEPTED},
    S.ATTENDED: {S.SHORTLISTED, S.CALLBACK, S.SELECTED, S.REJECTED},
    S.SHORTLISTED: {S.CALLBACK, S.SELECTED, S.REJECTED},
    S.CALLBACK: {S.SELECTED, S.REJECTED},
    S.NO_SHOW: set(), S.SELECTED: set(), S.REJECTED: set(),
}
RSVP = {"accept": S.ACCEPTED, "decline": S.DECLINED, "reschedule": S.RESCHEDULE_REQUESTED}
MAX_INVITES = 500
MAX_SLOTS = 500


def count_auditions(production_id):
    return db.session.scalar(select(func.count()).where(Audition.production_id == production_id))


def is_owner(audition, user):
    owner_id = db.session.scalar(select(Production.owner_id).where(Production.id == audition.production_id))
    return user.role == Role.ADMIN or owner_id == user.id


def _own_invitation(audition, user):
    return db.session.scalar(select(Invitation).join(Talent, Talent.id == Invitation.talent_id)
                             .where(Invitation.audition_id == audition.id, Talent.user_id == user.id))


def visible(audition_id, user):
    """An audition its production's owner (or an admin) or an invited talent may see; 404 for anyone else.

    Invited talent stop seeing it while its production is held for review or its owner is suspended.
    """
    audition = db.session.get(Audition, audition_id)
    if audition is None or not (is_owner(audition, user) or _invited_and_shown(audition, user)):
        raise ApiError(Codes.AUDITION_NOT_FOUND)
    return audition


def _invited_and_shown(audition, user):
    return _own_invitation(audition, user) is not None and productions.is_shown(
        db.session.get(Production, audition.production_id))


def owned(audition_id, user):
    """An audition `user` may run: its production's owner or an admin (403 for others, and for a suspended
    owner: no invites, schedules or results)."""
    audition = visible(audition_id, user)
    if not is_owner(audition, user):
        raise ApiError(Codes.AUTH_FORBIDDEN)
    safety.ensure_active(user)
    return audition


LISTED = (Audition.id, Audition.production_id, Audition.is_verified, Audition.role_id, Audition.title,
          Audition.mode, Audition.location, Audition.meeting_url, Audition.instructions, Audition.scheduled_date,
          Audition.tape_due_at, Audition.duration_minutes, Audition.timezone, Audition.status, Audition.created_at)
LOCATION_KEYS = ("city", "state", "country")


def _isoformat_sql(column):
    """SQL that writes a timestamptz as Python's `isoformat` does: microseconds only when there are some, and
    the offset of the session's time zone (the one psycopg's datetimes carry)."""
    return (f"to_char({column}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN extract(microseconds FROM {column})::bigint"
            f" % 1000000 <> 0 THEN to_char({column}, '.US') ELSE '' END || to_char({column}, 'TZH:TZM')")


# Each listed audition's slots as the JSON `AuditionSchema` writes (keys sorted, compact, by start), made by
# PostgreSQL in the page's own statement: a page of 20 auditions carries hundreds of slots, which cost the
# service far more as rows to decode and write. Fixed SQL: no value from a request goes in it.
SLOTS_JSON = literal_column(
    "(SELECT '[' || coalesce(string_agg('{\"booked\":' || s.booked || ',\"capacity\":' || s.capacity"  # nosec B608
    f" || ',\"end_at\":\"' || {_isoformat_sql('s.end_at')} || '\",\"id\":' || s.id"
    f" || ',\"start_at\":\"' || {_isoformat_sql('s.start_at')} || '\"}}', ',' ORDER BY s.start_at), '') || ']'"
    " FROM audition_slots AS s WHERE s.audition_id = auditions.id)").label("slots")


def _seen():
    """SQL: an audition the non-admin `:user_id` sees, as `visible` decides: their production's, or one they are
    invited to whose production is shown."""
    user_id = bindparam("user_id")
    owns = Audition.production_id.in_(select(Production.id).where(Production.owner_id == user_id))
    invited = Audition.id.in_(select(Invitation.audition_id).join(Talent, Talent.id == Invitation.talent_id)
                              .where(Talent.user_id == user_id))
    shown = Audition.production_id.in_(select(Production.id).where(productions.shown()))
    return or_(owns, invited & shown)


@lru_cache(maxsize=2)
def _one(admin):
    """The select of `:audition_id` as the list reads it, if the caller sees it (anyone, for an admin)."""
    query = select(*LISTED, SLOTS_JSON).where(Audition.id == bindparam("audition_id"))
    return query if admin else query.where(_seen())


def audition_json(audition_id, user):
    """One audition `user` sees (404 otherwise), as `AuditionSchema` writes it: `listing_page`'s row, in one
    prepared select where `visible`, the ORM and the schema took six statements."""
    row = db.session.execute(_one(user.role == Role.ADMIN), {"audition_id": audition_id, "user_id": user.id}
                             ).mappings().first()
    if row is None:
        raise ApiError(Codes.AUDITION_NOT_FOUND)
    return _listed(row)


def _listed(row):
    """An audition row of `LISTED` and its `slots` as `AuditionSchema` writes it."""
    return {**{name: value for name, value in row.items() if name != "total"},
            "mode": row["mode"].value, "status": row["status"].value,
            "location": None if row["location"] is None else {
                key: row["location"][key] for key in LOCATION_KEYS if key in row["location"]},
            "scheduled_date": iso(row["scheduled_date"]), "tape_due_at": iso(row["tape_due_at"]),
            "created_at": iso(row["created_at"]), "slots": orjson.Fragment(row["slots"])}


@lru_cache(maxsize=64)
def listing(admin, sort, date_from, date_to):
    """(page, count) selects of the auditions a caller sees (a non-admin's page rows carry the total): casting
    teams their productions', talent the ones they are invited to, admins all; `date_from`/`date_to`
    (whether given) bound `scheduled_date`, `sort` orders (newest first by default). Built once per shape,
    with bound parameters (`user_id`, `date_from`, `date_to`, `limit`, `offset`), so SQLAlchemy works out
    their cache keys once, not per request.

    Whose auditions these are is two hashed id sets (productions you own; auditions you are invited to,
    from the invitations' talent index): measured faster than a union of index lookups for a casting
    director with a thousand auditions, and as fast for a talent.
    """
    query = select(*LISTED, SLOTS_JSON)
    if not admin:
        query = query.where(_seen())
    if date_from:
        query = query.where(Audition.scheduled_date >= bindparam("date_from"))
    if date_to:
        query = query.where(Audition.scheduled_date <= bindparam("date_to"))
    counted = select(func.count()).select_from(query.with_only_columns(Audition.id).subquery())
    if not admin:  # a caller's own auditions are read whole by the filter anyway: count them as they are read
        query = query.add_columns(func.count().over().label("total"))
    ordered = query.order_by(*order_by(Audition, list(sort), (Audition.created_at.desc(),)))
    return ordered.limit(bindparam("limit")).offset(bindparam("offset")), counted


def listing_page(user, args):
    """A page of `listing` as `AuditionSchema` writes it, read as plain rows in one prepared select: the
    page, its total (for a non-admin, a window over their matches, which the filter reads whole anyway) and
    each audition's slots already JSON (`SLOTS_JSON`), with no ORM objects and no per-field schema work; an
    admin's page, or one past the end, counts in a second select. A test holds it equal to the schema's output."""
    paged, counted = listing(user.role == Role.ADMIN, tuple(args.get("sort") or ()),
                             bool(args.get("date_from")), bool(args.get("date_to")))
    offset = (args["page"] - 1) * args["per_page"]
    values = {"user_id": user.id, "date_from": args.get("date_from"), "date_to": args.get("date_to"),
              "limit": args["per_page"], "offset": offset}
    rows = db.session.execute(paged, values).mappings().all()
    if rows and "total" in rows[0]:
        total = rows[0]["total"]
    else:  # an admin's list (a window would read every audition; the page alone, its 20), or past the end
        total = db.session.scalar(counted, values) if rows or offset else 0
    return page([_listed(row) for row in rows], total, args["page"], args["per_page"])


def invitations(audition_id, user, args):
    """An audition's invitations: all of them for its owner (and admins), their own for an invited talent."""
    audition = visible(audition_id, user)
    query = select(Invitation).where(Invitation.audition_id == audition.id)
    if not is_owner(audition, user):
        query = query.join(Talent, Talent.id == Invitation.talent_id).where(Talent.user_id == user.id)
    if args.get("status") is not None:
        query = query.where(Invitation.status == args["status"])
    return query.options(selectinload(Invitation.slot), selectinload(Invitation.history)).order_by(
        *order_by(Invitation, args.get("sort"), (Invitation.created_at.desc(),)))


def create(user, data):
    production = productions.owned(data["production_id"], user)
    if data.get("role_id") is not None:
        role = db.session.get(CastingRole, data["role_id"])
        if role is None or role.production_id != production.id:
            raise ApiError(Codes.ROLE_NOT_FOUND)
    audition = Audition(**data)
    db.session.add(audition)
    _screen(audition, user, audition.title, audition.instructions)
    db.session.commit()
    return audition


def _screen(audition, user, *texts):
    """Put what the scam shield finds in an audition's words in the admin queue."""
    if verdict := safety.screen(user, *texts):
        db.session.flush()
        safety.flag_automatically(FlagTarget.AUDITION, audition.id, user.id, verdict)


CLOSED = (AuditionStatus.COMPLETED, AuditionStatus.CANCELLED)


def update_audition(audition_id, user, changes):
    """Edit an audition; closing it (completed or cancelled) tells everyone still waiting."""
    audition = owned(audition_id, user)
    was = audition.status
    for name, value in changes.items():
        setattr(audition, name, value)
    _screen(audition, user, changes.get("title"), changes.get("instructions"))
    db.session.commit()
    if was not in CLOSED and audition.status in CLOSED:
        enqueue("default", tasks.tell_waiting, audition.id)
    return audition


def role_cast(role):
    """A role filled or closed: the talent still waiting in its auditions hear it."""
    for audition_id in db.session.scalars(select(Audition.id).where(Audition.role_id == role.id)):
        enqueue("default", tasks.tell_waiting, audition_id)


def _local(moment, zone):
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def schedule(audition_id, user, plan):
    """Cut the window into slots. Slots that start as before keep their bookings; talent whose slot is
    gone go back to the front of the waitlist (in the order they were booked)."""
    audition = owned(audition_id, user)
    zone = ZoneInfo(plan.get("timezone") or audition.timezone)
    start, end = _local(plan["start_at"], zone), _local(plan["end_at"], zone)
    step = timedelta(minutes=plan["slot_minutes"])
    starts = []
    while start + step <= end:
        starts.append(start)
        start += step
    if not starts or len(starts) > MAX_SLOTS:
        raise ApiError(Codes.VALIDATION, details={"fields": {"end_at": [
            f"The window must hold between 1 and {MAX_SLOTS} slots of slot_minutes."]}})
    db.session.execute(select(Audition).where(Audition.id == audition.id).with_for_update())
    kept = {slot.start_at: slot for slot in audition.slots}
    for slot_start in starts:
        slot = kept.pop(slot_start, None) or AuditionSlot(start_at=slot_start, end_at=slot_start + step)
        slot.end_at, slot.capacity = slot_start + step, plan["capacity_per_slot"]
        if slot.id is None:
            audition.slots.append(slot)
    displaced = db.session.scalars(select(Invitation).where(Invitation.slot_id.in_([s.id for s in kept.values()]))
                                   .order_by(Invitation.updated_at)).all() if kept else []
    given_up = [(invitation.id, invitation.slot_id) for invitation in displaced]
    for invitation in displaced:
        invitation.slot_id = None
    for slot in kept.values():
        audition.slots.remove(slot)
    db.session.flush()
    _waitlist_first(audition.id, displaced)
    given_up += _overbooked_to_waitlist(audition)
    audition.timezone = str(zone)
    audition.scheduled_date = starts[0].astimezone(zone).date()
    if audition.status == AuditionStatus.DRAFT:
        audition.status = AuditionStatus.SCHEDULED
    db.session.commit()
    for invitation_id, slot_id in given_up:
        reminders.cancel(invitation_id, slot_id)
    if given_up:
        enqueue("default", tasks.tell_moved, given_up)
    _fill_from_waitlist(audition.id)
    return audition


def _waitlist_first(audition_id, invitations):
    """Put `invitations` ahead of everyone already waiting."""
    if not invitations:
        return
    db.session.execute(update(Invitation).where(Invitation.audition_id == audition_id,
                                                Invitation.waitlist_position.is_not(None))
                       .values(waitlist_position=Invitation.waitlist_position + len(invitations)))
    for position, invitation in enumerate(invitations, start=1):
        invitation.waitlist_position = position


def _overbooked_to_waitlist(audition):
    """Recount each slot's bookings; if a smaller capacity leaves too many, the latest go to the waitlist.

    Returns the (invitation id, slot id) pairs given up.
    """
    given_up = []
    for slot in audition.slots:
        holders = db.session.scalars(select(Invitation).where(Invitation.slot_id == slot.id)
                                     .order_by(Invitation.updated_at)).all()
        _waitlist_first(audition.id, holders[slot.capacity:])
        for invitation in holders[slot.capacity:]:
            given_up.append((invitation.id, slot.id))
            invitation.slot_id = None
        slot.booked = min(len(holders), slot.capacity)
    return given_up


def invite(audition_id, user, talent_ids):
    """Invite up to 500 talent; returns (invited count, skipped with reasons). Messages go out from a job.

    A fixed number of round trips whatever the count: the ids already invited, the rest's profiles, one
    pipelined Redis call for the senders' caps, one multi-row INSERT each for invitations and history.

    Besides the talent who cannot be invited at all, an unverified sender skips those who accept
    verified contacts only (`verified_contacts_only`), and any sender skips a talent they have
    invited `INVITE_LIMIT_PER_TALENT` times already (`invite_limit`).
    """
    audition = owned(audition_id, user)
    already = set(db.session.scalars(select(Invitation.talent_id).where(Invitation.audition_id == audition.id,
                                                                        Invitation.talent_id.in_(talent_ids))))
    choosy = User.only_verified_contacts if not user.is_verified and user.role != Role.ADMIN else false()
    asked = set(talent_ids) - already
    found = {talent_id: (deleted_at, refuses) for talent_id, deleted_at, refuses in db.session.execute(
        select(Talent.id, Talent.deleted_at, func.coalesce(choosy, False))
        .outerjoin(User, User.id == func.coalesce(Talent.user_id, Talent.agent_id))
        .where(Talent.id.in_(asked)))} if asked else {}
    reasons, seen = [], set()
    for talent_id in talent_ids:
        reasons.append(_not_invited(talent_id, found, already, seen))
        seen.add(talent_id)
    capped = throttle.hit_many("INVITE_LIMIT_PER_TALENT", "invite", [
        f"{user.id}:{talent_id}" for talent_id, reason in zip(talent_ids, reasons) if reason is None])
    skipped, wanted = [], []
    for talent_id, reason in zip(talent_ids, reasons):
        reason = reason or ("invite_limit" if f"{user.id}:{talent_id}" in capped else None)
        if reason:
            skipped.append({"talent_id": talent_id, "reason": reason})
        else:
            wanted.append(talent_id)
    invitations = [Invitation(audition_id=audition.id, talent_id=talent_id) for talent_id in wanted]
    for invitation in invitations:
        invitation.history.append(InvitationEvent(to_status=S.INVITED, by_user_id=user.id))
    db.session.add_all(invitations)
    db.session.flush()
    invited = [invitation.id for invitation in invitations]  # read before the commit expires them
    db.session.commit()
    if invited:
        # retried if its worker dies (RQ requeues an abandoned job with retries left); the repair sweep backs it up
        enqueue("default", tasks.send_invites, invited, retry=Retry(max=3, interval=[10, 60, 300]))
    return len(invited), skipped


def _not_invited(talent_id, found, already, seen):
    """Why `talent_id` is skipped before the sender's cap for them is counted, or None."""
    if talent_id in seen:
        return "duplicate"
    if talent_id in already:
        return "already_invited"
    if talent_id not in found:
        return "not_found"
    deleted_at, verified_only = found[talent_id]
    if deleted_at is not None:
        return "deleted"
    if verified_only:
        return "verified_contacts_only"
    return None


def _move(invitation, to_status, user, note=None):
    if to_status not in MOVES[invitation.status]:
        raise ApiError(Codes.AUDITION_BAD_MOVE, f"An invitation that is {invitation.status.value} cannot become "
                       f"{to_status.value}.", details={"from": invitation.status.value, "to": to_status.value,
                                                       "allowed": sorted(s.value for s in MOVES[invitation.status])})
    invitation.history.append(InvitationEvent(from_status=invitation.status, to_status=to_status,
                                              by_user_id=user.id if user else None, note=note))
    invitation.status = to_status


def _book(audition_id, slot_id=None):
    """Take one place in `slot_id`, or the earliest slot with room; the slot's (id, start_at), or None if all
    are full.

    One conditional UPDATE per try: two RSVPs can never both take the last place.
    """
    candidates = select(AuditionSlot.id).where(AuditionSlot.audition_id == audition_id,
                                               AuditionSlot.booked < AuditionSlot.capacity)
    if slot_id is not None:
        candidates = candidates.where(AuditionSlot.id == slot_id)
    for candidate in db.session.scalars(candidates.order_by(AuditionSlot.start_at)).all():
        taken = db.session.execute(update(AuditionSlot).where(AuditionSlot.id == candidate,
                                                              AuditionSlot.booked < AuditionSlot.capacity)
                                   .values(booked=AuditionSlot.booked + 1)
                                   .returning(AuditionSlot.id, AuditionSlot.start_at)).one_or_none()
        if taken:
            return taken
    return None


def _release(invitation):
    if invitation.slot_id is not None:
        db.session.execute(update(AuditionSlot).where(AuditionSlot.id == invitation.slot_id)
                           .values(booked=AuditionSlot.booked - 1))
        invitation.slot_id = None
    invitation.waitlist_position = None


def _next_position(audition_id):
    """The next place on the waitlist; the audition row is locked so two RSVPs never share a place."""
    db.session.execute(select(Audition.id).where(Audition.id == audition_id).with_for_update())
    return (db.session.scalar(select(func.max(Invitation.waitlist_position))
                              .where(Invitation.audition_id == audition_id)) or 0) + 1


@lru_cache(maxsize=1)
def _rsvp_glance():
    """The caller's invitation to `:audition_id` with its slot, one row per event of its history (no row: no such
    audition), whether the audition may be shown and whether `:slot_id` is one of its slots: what an RSVP is
    checked against, and what the same answer again is answered with. Built once (its cache key worked out
    once); run through psycopg itself (`at_once`): no session, no ORM."""
    mine = and_(Invitation.audition_id == Audition.id, Invitation.talent_id.in_(
        select(Talent.id).where(Talent.user_id == bindparam("user_id"))))
    asked = aliased(AuditionSlot)
    slot_of_audition = (select(asked.id).where(asked.id == bindparam("slot_id"), asked.audition_id == Audition.id)
                        .correlate(Audition).exists())
    return (select(Invitation.id, Invitation.audition_id, Invitation.talent_id, Invitation.status,
                   Invitation.waitlist_position, AuditionSlot.id.label("slot_id"),
                   AuditionSlot.start_at.label("slot_start_at"), AuditionSlot.end_at.label("slot_end_at"),
                   InvitationEvent.from_status, InvitationEvent.to_status, InvitationEvent.by_user_id,
                   InvitationEvent.at, InvitationEvent.note, productions.shown().label("shown"),
                   slot_of_audition.label("slot_of_audition"))
            .select_from(Audition).join(Production, Production.id == Audition.production_id)
            .outerjoin(Invitation, mine).outerjoin(AuditionSlot, AuditionSlot.id == Invitation.slot_id)
            .outerjoin(InvitationEvent, InvitationEvent.invitation_id == Invitation.id)
            .where(Audition.id == bindparam("audition_id")).order_by(Invitation.id, InvitationEvent.id))


def _invitation_snapshot(rows):
    """The invitation of `_rsvp_glance`'s rows as `InvitationSchema` reads it (None: not invited)."""
    first = rows[0] if rows else None
    if first is None or first.id is None:
        return None
    slot = None if first.slot_id is None else {
        "id": first.slot_id, "start_at": first.slot_start_at, "end_at": first.slot_end_at}
    history = [{"from_status": row.from_status, "to_status": row.to_status, "by_user_id": row.by_user_id,
                "at": row.at, "note": row.note} for row in rows if row.id == first.id and row.to_status is not None]
    return {"id": first.id, "audition_id": first.audition_id, "talent_id": first.talent_id, "status": first.status,
            "slot_id": first.slot_id, "slot": slot, "waitlist_position": first.waitlist_position, "history": history}


def rsvp(audition_id, user, answer):
    """The invited talent answers from the app (404 for those who may not see the audition, 403 for the
    others who are not invited). The audition, whether it may be shown and the caller's invitation with its
    slot and history (what the answer shows) come in one statement that commits on its own: the same answer
    again is answered from it in one round trip, and a change locks the invitation in a transaction of its
    own."""
    rows = at_once(_rsvp_glance(), {"audition_id": audition_id, "user_id": user.id,
                                    "slot_id": answer.get("slot_id")})
    invitation = _invitation_snapshot(rows)
    if invitation is None or not rows[0].shown:
        visible(audition_id, user)  # a 404 unless they may see it anyway (its owner)
        if invitation is None:
            raise ApiError(Codes.AUTH_FORBIDDEN, "Only invited talent answer an invitation.")
    if answer.get("slot_id") is not None and not rows[0].slot_of_audition:
        raise ApiError(Codes.VALIDATION, details={"fields": {"slot_id": ["Not a slot of this audition."]}})
    wanted = RSVP[answer["response"]]
    if _unchanged(invitation["status"], invitation["slot_id"], wanted, answer):
        return invitation
    return _change_answer(audition_id, invitation["id"], user, wanted, answer)


def answer_invitation(audition, invitation, user, answer):
    """Accept (a slot, or the waitlist), decline, or ask to reschedule, from a WhatsApp button.

    The same answer again (a double tap on WhatsApp, a retried request) changes nothing: seen on the
    invitation as read, it is answered from that, with no lock and no write."""
    wanted = RSVP[answer["response"]]
    if answer.get("slot_id") is not None and not any(slot.id == answer["slot_id"] for slot in audition.slots):
        raise ApiError(Codes.VALIDATION, details={"fields": {"slot_id": ["Not a slot of this audition."]}})
    if _unchanged(invitation.status, invitation.slot_id, wanted, answer):
        return invitation
    return _change_answer(audition.id, invitation.id, user, wanted, answer)


def _change_answer(audition_id, invitation_id, user, wanted, answer):
    """Move the invitation to `wanted`: locked in a transaction of its own (read again, with its slot and
    history, under the lock), its slot booked or released, its reminders planned or dropped."""
    begin_locking()
    invitation = db.session.get(Invitation, invitation_id, with_for_update={"of": Invitation}, populate_existing=True,
                                options=[joinedload(Invitation.slot), joinedload(Invitation.history)])
    same_answer = wanted == invitation.status
    if _unchanged(invitation.status, invitation.slot_id, wanted, answer):
        db.session.commit()  # answered the same meanwhile: nothing to change
        return invitation
    if not same_answer:
        _move(invitation, wanted, user, answer.get("note"))
    held = invitation.slot_id
    with db.session.no_autoflush:  # the invitation's changes go in one UPDATE at the commit
        taken = _book(audition_id, answer.get("slot_id")) if wanted == S.ACCEPTED else None
        if same_answer and taken is None:
            db.session.rollback()
            raise ApiError(Codes.SLOT_FULL)  # asked to move to a full slot: keep the one they have
        _release(invitation)
    invitation.slot_id = None if taken is None else taken.id
    if wanted == S.ACCEPTED and taken is None:
        invitation.waitlist_position = _next_position(audition_id)
    db.session.commit()
    if held is not None:
        reminders.cancel(invitation_id, held)
    if taken is not None:
        reminders.plan(invitation_id, taken.id, taken.start_at)
    if wanted == S.RESCHEDULE_REQUESTED:
        enqueue("default", tasks.tell_team, invitation_id, len(invitation.history))
    if held is not None and (taken is None or taken.id != held):
        _fill_from_waitlist(audition_id)  # a place came free
    db.session.refresh(invitation)
    return invitation


def _unchanged(status, slot_id, wanted, answer):
    """True when the invitation already holds this answer (and the slot asked for, if any)."""
    return wanted == status and (wanted != S.ACCEPTED or answer.get("slot_id") in (None, slot_id))


def _fill_from_waitlist(audition_id):
    """Give freed places to the waitlist, first come first served."""
    while True:
        waiting = db.session.scalar(select(Invitation).where(Invitation.audition_id == audition_id,
                                                             Invitation.waitlist_position.is_not(None))
                                    .order_by(Invitation.waitlist_position).limit(1).with_for_update(skip_locked=True))
        if waiting is None:
            return
        slot = _book(audition_id)
        if slot is None:
            db.session.rollback()
            return
        waiting_id = waiting.id
        waiting.slot_id, waiting.waitlist_position = slot.id, None
        db.session.commit()
        reminders.plan(waiting_id, slot.id, slot.start_at)


def record_results(audition_id, user, results):
    """The casting team records outcomes; each is a move in the invitation's history."""
    audition = owned(audition_id, user)
    by_talent = {invitation.talent_id: invitation for invitation in db.session.scalars(
        select(Invitation).where(Invitation.audition_id == audition.id,
                                 Invitation.talent_id.in_([result["talent_id"] for result in results]))
        .with_for_update())}
    missing = [result["talent_id"] for result in results if result["talent_id"] not in by_talent]
    if missing:
        raise ApiError(Codes.INVITATION_NOT_FOUND, details={"talent_ids": missing})
    for result in results:
        invitation = by_talent[result["talent_id"]]
        _move(invitation, S(result["outcome"]), user, result.get("notes"))
        if result.get("notes") is not None:
            invitation.notes = result["notes"]
        if result.get("rating") is not None:
            invitation.rating = result["rating"]
    db.session.commit()
    return [by_talent[result["talent_id"]] for result in results]
