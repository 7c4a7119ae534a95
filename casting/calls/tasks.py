"""Jobs of casting calls: applicants hear of their submissions, the deadline sweep, the daily digest.

Messages go through the notifications layer (its flood guard and retries); every message has an
idempotency key, so a job that runs twice tells nobody twice.
"""
import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from casting.auditions import tell
from casting.calls.models import CastingCall, DigestSubscription, Submission
from casting.kernel.extensions import db, queue_redis, redis
from casting.kernel.jobs import enqueue, periodic
from casting.notifications import NotificationError, notify, Recipient
from casting.productions.models import CastingRole, Production
from casting.talents.models import Talent
from casting.users.models import User
from casting.kernel.web import public_url

log = logging.getLogger(__name__)
DIGEST_ROLES = 5  # named in one digest message
PENDING_KEY = "casting:calls:placed"  # ids of submissions placed and not yet drained (the queues' Redis)
QUEUED_KEY = "casting:calls:placed:drain-queued"  # there while a drain is queued and has not begun
QUEUED_SECONDS = 60  # a drain lost before it began is queued again by the next submission after this
DRAIN_LOCK = "casting:lock:calls:placed"
DRAIN_LOCK_SECONDS = 600
DRAIN_BATCH = 200


def _context(call_id):
    call = db.session.get(CastingCall, call_id)
    return call, db.session.get(CastingRole, call.role_id).name, db.session.get(Production, call.production_id).title


def _rows(*conditions):
    return db.session.execute(select(Submission, Talent).join(Talent, Talent.id == Submission.talent_id)
                              .where(*conditions).order_by(Submission.id)).all()


def placed(submission_id, with_commands):
    """After a submission is placed: its id joins the pending list (on the queues' Redis, which never
    evicts), and the first since the last drain began queues one (`submissions_received`), so a burst of
    submissions is one job, not one each. `with_commands(pipe)`: the caller's own commands for the app's
    Redis, sent in the same round trip when the queues live there."""
    queues, app_redis = queue_redis._get_current_object(), redis._get_current_object()
    with queues.pipeline(transaction=False) as pipe:
        pipe.rpush(PENDING_KEY, submission_id).set(QUEUED_KEY, 1, nx=True, ex=QUEUED_SECONDS)
        if queues is app_redis:
            with_commands(pipe)
        first = pipe.execute()[1]
    if queues is not app_redis:
        with app_redis.pipeline(transaction=False) as pipe:
            with_commands(pipe)
            pipe.execute()
    if first:
        enqueue("default", submissions_received)


@periodic("CALLS_SWEEP_MINUTES")
def submissions_received():
    """The submissions placed since the last drain, a batch at a time: each call counted once (a call
    without a cap), each submission's match score for "best match", then each applicant hears it arrived.

    Queued by the first submission after a drain began, and run periodically as well, for what a drain
    lost with its worker left. One drain at a time (a lock) reads a batch from the head of the list and
    trims it only once the batch is done: a drain killed midway leaves its batch for the next, and doing
    a batch again scores and counts the same and tells nobody twice (the messages' idempotency keys)."""
    queues = queue_redis._get_current_object()
    queues.delete(QUEUED_KEY)  # a submission placed from here on queues the next drain
    with queues.lock(DRAIN_LOCK, timeout=DRAIN_LOCK_SECONDS, blocking_timeout=DRAIN_LOCK_SECONDS):
        while True:
            batch = [int(submission_id) for submission_id in queues.lrange(PENDING_KEY, 0, DRAIN_BATCH - 1)]
            if not batch:
                return
            _received(batch)
            queues.ltrim(PENDING_KEY, len(batch), -1)


def _received(submission_ids):
    from casting.calls import services  # here, not above: the services enqueue these tasks
    by_call = {}
    for submission_id, call_id in db.session.execute(select(Submission.id, Submission.call_id).where(
            Submission.id.in_(submission_ids)).order_by(Submission.id)):
        by_call.setdefault(call_id, []).append(submission_id)
    for call_id, placed_ids in by_call.items():
        services.recount(call_id)
        services.score_submissions(call_id, placed_ids)
        tell_applicants(placed_ids, "call_submission_received")


def tell_applicants(submission_ids, template):
    """Tell each submission's talent (or their agent) of a step: received, shortlisted or declined; once each."""
    rows = _rows(Submission.id.in_(submission_ids))
    if not rows:
        return
    call, role, production = _context(rows[0][0].call_id)
    for submission, talent in rows:
        params = {"talent_name": talent.stage_name, "role": role, "production": production}
        if template == "call_submission_received":
            params["deadline"] = call.deadline.astimezone(timezone(timedelta(hours=5, minutes=30))).strftime(
                "%d %b %Y, %H:%M IST")
        tell(talent, template, params, f"{template}:{submission.id}")


def tell_waiting(call_id):
    """The call closed (by hand, at its deadline, or its role was cast): everyone still waiting hears it,
    once, with the auditions' closing message."""
    from casting.calls import services  # here, not above: the services enqueue these tasks
    _, role, production = _context(call_id)
    for submission, talent in _rows(Submission.call_id == call_id, Submission.status.in_(services.WAITING)):
        tell(talent, "audition_closed", {"talent_name": talent.stage_name, "production": production, "role": role},
             f"call-closed:{submission.id}")


@periodic("CALLS_SWEEP_MINUTES")
def close_calls_past_deadline():
    """Close the calls whose deadline passed (applying is refused from the deadline on regardless)."""
    from casting.calls import services  # here, not above: the services enqueue these tasks
    return len(services.close_past_deadline())


@periodic("CALLS_DIGEST_MINUTES")
def send_digests():
    """Each subscriber not told in the last day hears of the roles for them opened since they last heard.

    At most one digest a day: the idempotency key is the subscriber and the day (IST), and
    `last_sent_at` moves only when one is sent. Nothing new, no message.
    """
    now = datetime.now(timezone.utc)
    due = db.session.scalars(select(DigestSubscription).where(
        (DigestSubscription.last_sent_at.is_(None)) | (DigestSubscription.last_sent_at <= now - timedelta(hours=23)))
        .order_by(DigestSubscription.user_id)).all()
    sent = 0
    for subscription in due:
        try:
            sent += _digest_one(subscription, now)
        except Exception as error:  # one subscriber's failure never stops the others
            db.session.rollback()
            log.error("digest failed for one subscriber",
                      extra={"user_id": subscription.user_id, "error": type(error).__name__})
    return sent


def _digest_one(subscription, now):
    from casting.calls import services  # here, not above: the services enqueue these tasks
    user = db.session.get(User, subscription.user_id)
    talent = db.session.scalar(select(Talent).where(Talent.user_id == user.id, Talent.deleted_at.is_(None)))
    if talent is None or not user.is_active:
        return 0
    since = subscription.last_sent_at or subscription.created_at - timedelta(days=1)
    fresh = services.new_roles_for(talent, since, DIGEST_ROLES)
    if not fresh:
        return 0
    count, names = fresh
    day = now.astimezone(timezone(timedelta(hours=5, minutes=30))).date().isoformat()
    try:
        notify("call_digest", {"name": user.full_name, "count": str(count), "roles": names,
                               "unsubscribe_url": public_url("calls.DigestUnsubscribeViews",
                                                             token=services.unsubscribe_token(user.id))},
               Recipient.for_user(user), channel=subscription.channel, idempotency_key=f"call-digest:{user.id}:{day}")
    except NotificationError as error:
        log.warning("digest not sent", extra={"user_id": user.id, "reason": str(error)})
        return 0
    subscription.last_sent_at = now
    db.session.commit()
    return 1
