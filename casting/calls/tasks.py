"""Jobs of casting calls: applicants hear of their submissions, the deadline sweep, the daily digest.

Messages go through the notifications layer (its flood guard and retries); every message has an
idempotency key, so a job that runs twice tells nobody twice.
"""
import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from casting.auditions import tell
from casting.calls.models import CastingCall, DigestSubscription, Submission
from casting.kernel.extensions import db
from casting.kernel.jobs import periodic
from casting.notifications import NotificationError, notify, Recipient
from casting.productions.models import CastingRole, Production
from casting.talents.models import Talent
from casting.users.models import User
from casting.kernel.web import public_url

log = logging.getLogger(__name__)
DIGEST_ROLES = 5  # named in one digest message


def _context(call_id):
    call = db.session.get(CastingCall, call_id)
    return call, db.session.get(CastingRole, call.role_id).name, db.session.get(Production, call.production_id).title


def _rows(*conditions):
    return db.session.execute(select(Submission, Talent).join(Talent, Talent.id == Submission.talent_id)
                              .where(*conditions).order_by(Submission.id)).all()


def submission_received(submission_id):
    """After a submission: its call's count (a call without a cap), its match score for "best match", then
    the applicant hears it arrived."""
    from casting.calls import services  # here, not above: the services enqueue these tasks
    submission = db.session.get(Submission, submission_id)
    if submission is not None:
        services.recount(submission.call_id)
    services.score_submission(submission_id)
    tell_applicants([submission_id], "call_submission_received")


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
