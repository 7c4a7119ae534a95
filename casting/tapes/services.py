"""Self-tapes: starting and resuming an upload, completing it, attaching it, and who may see or watch it."""
import math
import uuid
from datetime import datetime, time as day_time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import exists, or_, select

from casting.auditions.models import Audition, AuditionMode, AuditionStatus, Invitation, InvitationStatus
from casting.calls.models import CastingCall, Submission, SubmissionStatus
from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db
from casting.kernel.jobs import enqueue
from casting.media import file_storage as storage
from casting.productions.models import Production
from casting.talents.models import Talent
from casting.talents import can_manage, get_live
from casting.tapes.models import Tape, TapeStatus
from casting.tapes.uploads import uploads
from casting.users.models import Role

ATTACHABLE = {TapeStatus.QUEUED, TapeStatus.PROCESSING, TapeStatus.READY}
TAKES_TAPES = {InvitationStatus.INVITED, InvitationStatus.ACCEPTED, InvitationStatus.RESCHEDULE_REQUESTED}
CLOSED_SUBMISSIONS = {SubmissionStatus.WITHDRAWN, SubmissionStatus.DECLINED}


def _now():
    return datetime.now(timezone.utc)


# who

def _talent_for(user, talent_id):
    """The talent a new tape is for: your own profile (talent), one you represent (agent), any (admin)."""
    if talent_id is None:
        if user.role != Role.TALENT:
            raise ApiError(Codes.VALIDATION, details={"fields": {"talent_id": ["Name the talent the tape is of."]}})
        talent_id = db.session.scalar(
            select(Talent.id).where(Talent.user_id == user.id, Talent.deleted_at.is_(None)))
        if talent_id is None:
            raise ApiError(Codes.TALENT_NOT_FOUND, "You have no talent profile yet.")
    talent = get_live(talent_id)
    if not can_manage(talent, user):
        raise ApiError(Codes.AUTH_FORBIDDEN, "Only the talent, their agent or an admin uploads their tapes.")
    return talent


def _team_clause(user):
    """SQL: tapes attached to an audition or a call of a production `user` owns."""
    return or_(
        exists().where(Invitation.tape_id == Tape.id, Invitation.audition_id == Audition.id,
                       Audition.production_id == Production.id, Production.owner_id == user.id),
        exists().where(Submission.self_tape_id == Tape.id, Submission.call_id == CastingCall.id,
                       CastingCall.production_id == Production.id, Production.owner_id == user.id))


def _manager_clause(user):
    return Tape.talent_id.in_(select(Talent.id).where(or_(Talent.user_id == user.id, Talent.agent_id == user.id)))


def visible(tape_id, user):
    """(tape, manages?) for a tape `user` may see and watch: the talent, their agent, an admin, or the casting
    team of an audition or call it was sent to; 404 for anyone else."""
    tape = db.session.get(Tape, tape_id)
    if tape is None:
        raise ApiError(Codes.TAPE_NOT_FOUND)
    talent = db.session.get(Talent, tape.talent_id)
    if can_manage(talent, user):
        return tape, True
    if db.session.scalar(select(_team_clause(user)).where(Tape.id == tape.id).select_from(Tape)):
        return tape, False
    raise ApiError(Codes.TAPE_NOT_FOUND)


def managed(tape_id, user, lock=False):
    """A tape `user` may change: the talent's, their agent's or an admin's (403 for the casting team)."""
    tape, manages = visible(tape_id, user)
    if not manages:
        raise ApiError(Codes.AUTH_FORBIDDEN, "Only the talent or their agent changes a tape.")
    if lock:
        db.session.refresh(tape, with_for_update=True)
    return tape


def listing(user, args):
    """Your tapes (talent, agents: of the talent you represent), or those sent to one audition or call (its
    team), newest first."""
    query = select(Tape)
    if args.get("audition_id") is not None:
        audition = _team_audition(args["audition_id"], user)
        query = query.join(Invitation, Invitation.tape_id == Tape.id).where(Invitation.audition_id == audition.id)
    elif args.get("call_id") is not None:
        call = _team_call(args["call_id"], user)
        query = query.join(Submission, Submission.self_tape_id == Tape.id).where(
            Submission.call_id == call.id, Submission.status.not_in(CLOSED_SUBMISSIONS))
    elif user.role != Role.ADMIN:
        query = query.where(_manager_clause(user))
    if args.get("talent_id") is not None:
        query = query.where(Tape.talent_id == args["talent_id"])
    if args.get("status") is not None:
        query = query.where(Tape.status == args["status"])
    return query.order_by(Tape.created_at.desc(), Tape.id.desc())


def _team_audition(audition_id, user):
    from casting.auditions import owned

    return owned(audition_id, user)


def _team_call(call_id, user):
    from casting.calls import owned

    return owned(call_id, user)


# uploading

def start(user, data):
    """A new tape and its multipart upload; the parts' URLs come with it."""
    config = current_app.config
    if data["size_bytes"] > config["VIDEO_MAX_BYTES"]:
        raise ApiError(Codes.TAPE_TOO_LARGE, details={"max_bytes": config["VIDEO_MAX_BYTES"]})
    talent = _talent_for(user, data.get("talent_id"))
    part_size = config["VIDEO_PART_BYTES"]
    tape = Tape(talent_id=talent.id, uploaded_by=user.id, status=TapeStatus.UPLOADING, progress=0,
                filename=data["filename"], size_bytes=data["size_bytes"], part_size=part_size,
                part_count=max(1, math.ceil(data["size_bytes"] / part_size)),
                upload_key=f"tapes/{talent.id}/{uuid.uuid4().hex}/upload")
    flow = uploads()
    tape.upload_id = flow.start(tape, data.get("content_type") or "application/octet-stream")
    db.session.add(tape)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        if tape.upload_id:
            flow.abort(tape)
        raise
    return tape


def expected_sizes(tape):
    """Each part's size, by number: `part_size` each, the last one what is left."""
    last = tape.size_bytes - (tape.part_count - 1) * tape.part_size
    return {number: tape.part_size if number < tape.part_count else last for number in range(1, tape.part_count + 1)}


def upload_state(tape):
    """What a client needs to go on: the parts received (number, size, ETag) and URLs for the others."""
    if tape.status != TapeStatus.UPLOADING:
        raise ApiError(Codes.TAPE_BAD_STATE, "This tape's upload is over.", details={"status": tape.status.value})
    flow = uploads()
    sizes = expected_sizes(tape)
    received = [part for part in flow.parts(tape) if sizes.get(part["number"]) == part["size"]]
    done = {part["number"] for part in received}
    return {"part_size": tape.part_size, "part_count": tape.part_count, "received": received,
            "parts": [{"number": number, "url": flow.part_url(tape, number)} for number in sizes if number not in done],
            "expires_at": tape.created_at + timedelta(hours=current_app.config["VIDEO_UPLOAD_HOURS"])}


def write_part(tape_id, number, link, body):
    """Disk storage's stand-in for S3's part URL: the link is the proof, as S3's signature is.

    `body` is the request body as the view hands it over: `body.length` (as declared, 0 when not) and
    `body.stream(bound)`, which reads no more than `bound` bytes.
    """
    flow = uploads()
    if not hasattr(flow, "write_part"):
        raise ApiError(Codes.NOT_FOUND)
    if not flow.verify(tape_id, number, link["expires"], link["signature"]):
        raise ApiError(Codes.TAPE_LINK_INVALID)
    tape = db.session.get(Tape, tape_id)
    if tape is None or tape.status != TapeStatus.UPLOADING or not 1 <= number <= tape.part_count:
        raise ApiError(Codes.TAPE_BAD_STATE, "This tape takes no such part now.")
    limit = expected_sizes(tape)[number]
    too_large = ApiError(Codes.TAPE_TOO_LARGE, "The part is larger than its place in the upload.",
                         details={"max_bytes": limit})
    if body.length > limit:
        raise too_large
    # The part's own bound, not the app-wide one for JSON and images. One byte over it: a server that ends the
    # stream itself (gunicorn) has Werkzeug refuse any read past the bound, even the one that finds the end.
    stream = body.stream(limit + 1)
    db.session.expunge(tape)
    db.session.rollback()  # no transaction held open while the bytes arrive
    try:
        return flow.write_part(tape, number, stream, limit)
    except OverflowError:
        raise too_large from None


def complete(tape_id, user):
    """Every part in, and the right size: the tape is queued for the worker (again: nothing new happens)."""
    tape = managed(tape_id, user, lock=True)
    if tape.status in (TapeStatus.QUEUED, TapeStatus.PROCESSING, TapeStatus.READY):
        db.session.rollback()
        return tape
    if tape.status != TapeStatus.UPLOADING:
        db.session.rollback()
        raise ApiError(Codes.TAPE_BAD_STATE, details={"status": tape.status.value})
    flow = uploads()
    sizes = expected_sizes(tape)
    parts = {part["number"]: part for part in flow.parts(tape)}
    missing = [number for number in sizes if number not in parts]
    wrong = [number for number, part in parts.items() if number in sizes and part["size"] != sizes[number]]
    if missing or wrong:
        db.session.rollback()
        raise ApiError(Codes.TAPE_UPLOAD_INCOMPLETE, details={"missing": missing[:100], "wrong_size": wrong[:100]})
    flow.complete(tape, [parts[number] for number in sorted(sizes)])
    tape.status, tape.uploaded_at = TapeStatus.QUEUED, _now()
    db.session.commit()
    from casting.tapes.tasks import process_tape

    enqueue("low", process_tape, tape.id, job_timeout=_job_timeout())
    return tape


def _job_timeout():
    return max(600, current_app.config["VIDEO_MAX_SECONDS"] * 12)


def delete(tape_id, user):
    """The talent or their agent deletes a tape: its upload and files go, and it leaves what it was sent to."""
    tape = managed(tape_id, user, lock=True)
    keys = [key for key in (tape.upload_key, tape.video_key, tape.poster_key) if key]
    if tape.status == TapeStatus.UPLOADING:
        uploads().abort(tape)
    db.session.delete(tape)
    db.session.commit()
    storage().forget(*keys)


# attaching

def deadline_of(audition):
    """When a self-tape audition's tapes are due: `tape_due_at`, else the end of its `scheduled_date` in its own
    zone; neither: while it is open."""
    if audition.tape_due_at is not None:
        return audition.tape_due_at
    if audition.scheduled_date is None:
        return None
    zone = ZoneInfo(audition.timezone)
    return datetime.combine(audition.scheduled_date + timedelta(days=1), day_time(0), tzinfo=zone)


def submit(tape_id, user, data):
    """Send a tape to a self_tape audition (its invitation) or to a casting-call submission, before its deadline;
    sending another one replaces it."""
    tape = managed(tape_id, user, lock=True)
    if tape.status not in ATTACHABLE:
        db.session.rollback()
        raise ApiError(Codes.TAPE_BAD_STATE, "Only an uploaded video can be sent (not one still uploading, "
                       "or refused).", details={"status": tape.status.value})
    if data.get("audition_id") is not None:
        _to_invitation(tape, data["audition_id"])
    else:
        _to_submission(tape, data["submission_id"])
    db.session.commit()
    return tape


def _late(deadline):
    raise ApiError(Codes.TAPE_LATE, details={"deadline": deadline.isoformat() if deadline else None})


def _to_invitation(tape, audition_id):
    invitation = db.session.scalar(select(Invitation).where(
        Invitation.audition_id == audition_id, Invitation.talent_id == tape.talent_id).with_for_update())
    if invitation is None:
        db.session.rollback()
        raise ApiError(Codes.INVITATION_NOT_FOUND)
    audition = db.session.get(Audition, audition_id)
    if audition.mode != AuditionMode.SELF_TAPE or invitation.status not in TAKES_TAPES:
        db.session.rollback()
        raise ApiError(Codes.TAPE_NOT_TAKEN, "This audition does not take a self-tape from you.",
                       details={"mode": audition.mode.value, "invitation_status": invitation.status.value})
    deadline = deadline_of(audition)
    if audition.status in (AuditionStatus.COMPLETED, AuditionStatus.CANCELLED) or (
            deadline is not None and _now() >= deadline):
        db.session.rollback()
        _late(deadline)
    invitation.tape_id = tape.id


def _to_submission(tape, submission_id):
    from casting.calls import is_open

    submission = db.session.get(Submission, submission_id, with_for_update=True)
    if submission is None or submission.talent_id != tape.talent_id:
        db.session.rollback()
        raise ApiError(Codes.SUBMISSION_NOT_FOUND)
    call = db.session.get(CastingCall, submission.call_id)
    if not call.self_tape or submission.status in CLOSED_SUBMISSIONS:
        db.session.rollback()
        raise ApiError(Codes.TAPE_NOT_TAKEN, "This casting call does not ask for a self-tape." if not call.self_tape
                       else "This submission is over.", details={"status": submission.status.value})
    if not is_open(call):
        db.session.rollback()
        _late(call.deadline)
    submission.self_tape_id = tape.id


def attachments(tape_ids):
    """Where each tape was sent, by tape id: a list of {kind, audition_id/submission_id, ..., deadline}."""
    found = {tape_id: [] for tape_id in tape_ids}
    if not tape_ids:
        return found
    for invitation, audition in db.session.execute(
            select(Invitation, Audition).join(Audition, Audition.id == Invitation.audition_id)
            .where(Invitation.tape_id.in_(tape_ids))):
        found[invitation.tape_id].append({"kind": "audition", "audition_id": audition.id,
                                          "invitation_id": invitation.id, "deadline": deadline_of(audition)})
    for submission, call in db.session.execute(
            select(Submission, CastingCall).join(CastingCall, CastingCall.id == Submission.call_id)
            .where(Submission.self_tape_id.in_(tape_ids))):
        found[submission.self_tape_id].append({"kind": "submission", "submission_id": submission.id,
                                               "call_id": call.id, "deadline": call.deadline})
    return found


# what a response is made of

def links(tape):
    """Signed, expiring links to watch the tape and see its poster (none until it is ready)."""
    files = storage()
    ready = tape.status == TapeStatus.READY
    return {"video_url": files.url(tape.video_key) if ready and tape.video_key else None,
            "poster_url": files.url(tape.poster_key) if ready and tape.poster_key else None}


def present(tapes, upload_for=()):
    """Tapes as dicts for TapeSchema: links, where each was sent, and (for `upload_for` ids) the upload."""
    tapes = list(tapes)
    sent = attachments([tape.id for tape in tapes])
    shown = []
    for tape in tapes:
        item = {column: getattr(tape, column) for column in (
            "id", "talent_id", "status", "progress", "failure_code", "failure_message", "filename", "size_bytes",
            "duration_seconds", "width", "height", "created_at", "uploaded_at", "processed_at")}
        item.update(links(tape), sent_to=sent[tape.id])
        if tape.id in upload_for and tape.status == TapeStatus.UPLOADING:
            item["upload"] = upload_state(tape)
        shown.append(item)
    return shown


def brief(tape_ids):
    """The short form lists of submissions and invitations carry, by tape id: status, length and poster."""
    tapes = db.session.scalars(select(Tape).where(Tape.id.in_(set(tape_ids)))).all() if tape_ids else []
    return {tape.id: {"id": tape.id, "status": tape.status, "duration_seconds": tape.duration_seconds,
                      **links(tape)} for tape in tapes}
