"""Trust and safety: verified casting accounts, the scam shield's findings, reports, the admin queue,
suspension and reinstatement. Every step is written to the audit log.

A flag is a user's report or the shield's finding about a message, production, role, audition or user.
An admin upholds or dismisses it. A held production or role comes back when its last open flag is
dismissed; an account with SAFETY_SUSPEND_AFTER upheld flags (since its last reinstatement) is
suspended: it can no longer message or publish, and what it published is hidden.
"""
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import func, select

from casting.audit import record
from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db
from casting.safety import shield
from casting.safety.models import Flag, FlagSource, FlagStatus
from casting.kernel.sorting import order_by
from casting.users.models import Role, User
from casting.users import get_user

CASTING_SIDE = {Role.CASTING_DIRECTOR, Role.PRODUCER, Role.AGENT}
_targets = {}


def register_target(target_type, subject_of, holdable=None):
    """Let a domain's content be reported and flagged (the content domains call this; safety imports none).

    `subject_of(reporter, target_id)` is the id of the account answerable for the target when the
    reporter may see it, else None; `holdable` is the model whose `held_at` a hold sets.
    """
    _targets[target_type] = (subject_of, holdable)


def user_subject(reporter, user_id):
    return user_id if db.session.get(User, user_id) is not None else None


def _now():
    return datetime.now(timezone.utc)


def ensure_active(user):
    """403 for a suspended account (it may not message or publish)."""
    if user.suspended_at is not None:
        raise ApiError(Codes.ACCOUNT_SUSPENDED)


def screen(author, *texts):
    """The shield's verdict on what a casting-side `author` writes for talent, or None."""
    if author.role not in CASTING_SIDE:
        return None
    return shield.verdict(*(text for text in texts if text))


def flag_automatically(target_type, target_id, subject_id, verdict):
    """Queue the shield's finding (one open flag per target: a later finding updates it). Caller commits."""
    flag = db.session.scalar(select(Flag).where(Flag.source == FlagSource.SHIELD, Flag.status == FlagStatus.OPEN,
                                                Flag.target_type == target_type, Flag.target_id == target_id))
    if flag is None:
        flag = Flag(source=FlagSource.SHIELD, target_type=target_type, target_id=target_id, subject_id=subject_id)
        db.session.add(flag)
    flag.findings = {"reasons": verdict["reasons"], "rules": verdict["rules"]}
    record("shield_flag", target_type=target_type.value, target_id=target_id, details={"rules": verdict["rules"]})
    return flag


def hold(item, target_type, author, verdict):
    """Hold a production or role the shield flagged from search and matching until an admin reviews it."""
    item.held_at = item.held_at or _now()
    db.session.flush()
    flag_automatically(target_type, item.id, author.id, verdict)


# verification

def verify(admin, user_id, note, client):
    user = get_user(user_id)
    if user.role not in CASTING_SIDE:
        raise ApiError(Codes.NOT_VERIFIABLE)
    user.verified_at, user.verified_by, user.verification_note = _now(), admin.id, note
    record("verify", actor_id=admin.id, target_type="user", target_id=user.id, ip=client.ip)
    db.session.commit()
    return user


def unverify(admin, user_id, client):
    user = get_user(user_id)
    if user.verified_at is not None:
        user.verified_at = user.verified_by = user.verification_note = None
        record("unverify", actor_id=admin.id, target_type="user", target_id=user.id, ip=client.ip)
        db.session.commit()
    return user


def reinstate(admin, user_id, client):
    user = get_user(user_id)
    if user.suspended_at is not None:
        user.suspended_at, user.reinstated_at = None, _now()
        record("reinstate", actor_id=admin.id, target_type="user", target_id=user.id, ip=client.ip)
        db.session.commit()
    return user


# reports

def _subject(reporter, target_type, target_id):
    """The account answerable for a target the reporter can see; 404 for anything else."""
    subject_of, _ = _targets[target_type]
    subject_id = subject_of(reporter, target_id)
    if subject_id is None:
        raise ApiError(Codes.REPORT_TARGET_NOT_FOUND)
    return subject_id


def report(reporter, target_type, target_id, reason, client, note=None):
    """File a report (or return the reporter's open one on the same target): (flag, created)."""
    subject_id = _subject(reporter, target_type, target_id)
    if subject_id == reporter.id:
        raise ApiError(Codes.VALIDATION, details={"fields": {"target_id": ["You cannot report yourself."]}})
    existing = db.session.scalar(select(Flag).where(Flag.reporter_id == reporter.id, Flag.status == FlagStatus.OPEN,
                                                    Flag.target_type == target_type, Flag.target_id == target_id))
    if existing:
        return existing, False
    flag = Flag(source=FlagSource.REPORT, target_type=target_type, target_id=target_id, subject_id=subject_id,
                reporter_id=reporter.id, reason=reason, note=note)
    db.session.add(flag)
    db.session.flush()
    record("report", actor_id=reporter.id, target_type=target_type.value, target_id=target_id,
           details={"flag_id": flag.id, "reason": reason.value}, ip=client.ip)
    db.session.commit()
    return flag, True


# the admin queue

def flags(args):
    """Flags for the queue, newest first (or as `sort` says), filtered by status, source, target type and subject."""
    query = select(Flag)
    for name in ("status", "source", "target_type", "subject_id"):
        if args.get(name) is not None:
            query = query.where(getattr(Flag, name) == args[name])
    return query.order_by(*order_by(Flag, args.get("sort"), (Flag.created_at.desc(),)))


def resolve(admin, flag_id, outcome, client, note=None):
    """Uphold or dismiss an open flag; holds and suspensions follow from it."""
    flag = db.session.scalar(select(Flag).where(Flag.id == flag_id).with_for_update())
    if flag is None:
        raise ApiError(Codes.FLAG_NOT_FOUND)
    if flag.status != FlagStatus.OPEN:
        raise ApiError(Codes.FLAG_RESOLVED, details={"status": flag.status.value})
    flag.status, flag.resolved_at, flag.resolved_by, flag.outcome_note = FlagStatus(outcome), _now(), admin.id, note
    record("flag_" + flag.status.value, actor_id=admin.id, target_type="flag", target_id=flag.id,
           details={"target_type": flag.target_type.value, "target_id": flag.target_id}, ip=client.ip)
    db.session.flush()
    if flag.status == FlagStatus.DISMISSED:
        _release(flag, client)
    elif flag.subject_id is not None:
        _suspend_if_due(admin, flag.subject_id, client)
    db.session.commit()
    return flag


def _release(flag, client):
    """A dismissed flag lifts its target's hold, unless another open flag still stands against it."""
    _, model = _targets.get(flag.target_type, (None, None))
    open_flags = db.session.scalar(select(func.count()).where(
        Flag.target_type == flag.target_type, Flag.target_id == flag.target_id, Flag.status == FlagStatus.OPEN))
    item = db.session.get(model, flag.target_id) if model else None
    if item is not None and item.held_at is not None and not open_flags:
        item.held_at = None
        record("release", target_type=flag.target_type.value, target_id=flag.target_id, ip=client.ip)


def _suspend_if_due(admin, user_id, client):
    user = db.session.get(User, user_id, with_for_update=True)
    if user is None or user.suspended_at is not None or user.role == Role.ADMIN:
        return
    since = user.reinstated_at or datetime.min.replace(tzinfo=timezone.utc)
    upheld = db.session.scalar(select(func.count()).where(Flag.subject_id == user.id,
                                                          Flag.status == FlagStatus.UPHELD, Flag.resolved_at > since))
    if upheld >= current_app.config["SAFETY_SUSPEND_AFTER"]:
        user.suspended_at = _now()
        record("suspend", actor_id=admin.id, target_type="user", target_id=user.id, details={"upheld_flags": upheld},
               ip=client.ip)
