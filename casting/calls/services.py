"""Casting calls: opening a role to submissions, finding work, applying, reviewing, and telling people.

Who sees what. A call is public (to anyone signed in) while it is shown: neither it, its role nor its
production held by the scam shield, the production not a draft and its owner not suspended; its
production's owner and admins always see it. Submissions are seen by the production's owner (and
admins) who review them, and by the applicant: the talent themselves or the agent who represents them
(`Talent.agent_id`). Nobody else learns a submission exists (404).

A call takes submissions while it is open and before its deadline; both are checked, with the cap, in
the one statement that inserts the submission, so a burst at the deadline or at the cap never lets one
too many in: a capped call's row is locked and counted in it, a call without a cap only share-locked
(its submissions run side by side, and are counted by their job). The periodic sweep marks calls past
their deadline closed and tells those still waiting, once.
"""
from datetime import datetime, timedelta, timezone
from functools import cache
from types import SimpleNamespace

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Float, Integer, Text, and_, bindparam, false, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from casting import auditions
from casting.auth import keep_for
from casting.calls import fit, tasks
from casting.calls.models import (CallStatus, CastingCall, DigestSubscription, Eligibility, Submission,
                                  SubmissionNote, SubmissionStatus)
from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db, in_transaction, redis
from casting.kernel.idempotency import statements
from casting.kernel.jobs import enqueue
from casting.kernel.jsonprovider import dumps_bytes
from casting.productions import matching
from casting import productions
from casting.productions.models import CastingRole, Production, ProductionStatus
from casting import safety
from casting.safety.models import FlagTarget
from casting.kernel.sorting import order_by, sort_clauses
from casting.talents import cache as talent_cache
from casting.talents.models import MediaKind, Talent, TalentEmbedding, TalentMedia, media_columns, media_snapshots
from casting.talents import age_clause, can_manage, profile
from casting.users.models import Role

S = SubmissionStatus
WAITING = (S.SUBMITTED, S.VIEWED, S.SHORTLISTED)  # still waiting to hear: told once when the call closes
REVIEW_MOVES = {  # what the casting team may mark, from what
    S.VIEWED: {S.SUBMITTED},
    S.SHORTLISTED: {S.SUBMITTED, S.VIEWED, S.DECLINED},
    S.DECLINED: {S.SUBMITTED, S.VIEWED, S.SHORTLISTED},
}
WITHDRAWABLE = {S.SUBMITTED, S.VIEWED, S.SHORTLISTED}
MAX_BULK = 500
MAX_DEADLINE_DAYS = 365
VERSION_KEY = "casting:calls:version"  # bumped by every write that changes which calls are open
FOR_ME_SECONDS = 60


def _now():
    return datetime.now(timezone.utc)


def _bump():
    redis.incr(VERSION_KEY)


def _submissions_version_key(call_id):
    return f"casting:calls:submissions-version:{call_id}"


def _bump_submissions(call_id):
    """A write that changes what a call's submission list shows: its cached pages are not served again."""
    redis.incr(_submissions_version_key(call_id))


def submissions_versions(user_id, path):
    """What a cached page of a call's submissions depends on (`cached_response`): its versions."""
    return [_submissions_version_key(path["call_id"]), talent_cache.VERSION_KEY]


# which calls are shown, and to whom

def shown():
    """SQL (over a query joined to the call's role and production): a call anyone signed in may see."""
    return and_(CastingCall.held_at.is_(None), CastingRole.held_at.is_(None),
                Production.status != ProductionStatus.DRAFT, productions.shown())


def open_now():
    """SQL: a call taking submissions now (the deadline is checked here, not only by the sweep)."""
    return and_(CastingCall.status == CallStatus.OPEN, CastingCall.deadline > func.now())


def is_open(call):
    return call.status == CallStatus.OPEN and call.deadline > _now()


def _joined():
    return (select(CastingCall).join(CastingRole, CastingRole.id == CastingCall.role_id)
            .join(Production, Production.id == CastingCall.production_id)
            .options(contains_eager(CastingCall.role), contains_eager(CastingCall.production)))


def _manages(call, user):
    return user.role == Role.ADMIN or call.production.owner_id == user.id


def _is_shown(call):
    return (call.held_at is None and call.role.held_at is None and call.production.status != ProductionStatus.DRAFT
            and productions.is_shown(call.production))


def visible(call_id, user):
    """A call `user` may see; a hidden one is as good as missing (404). One query, whether shown included."""
    found = db.session.execute(_joined().add_columns(shown().label("shown")).where(CastingCall.id == call_id)).first()
    if found is None or not (found[1] or _manages(found[0], user)):
        raise ApiError(Codes.CALL_NOT_FOUND)
    return found[0]


def _managed(call_id, user):
    """A call `user` manages, checked in one query (what a cached read needs); others go through `owned`
    for the same 404 or 403 as every other route."""
    call = db.session.scalar(select(CastingCall).join(Production, Production.id == CastingCall.production_id)
                             .where(CastingCall.id == call_id, Production.owner_id == user.id)
                             if user.role != Role.ADMIN else select(CastingCall).where(CastingCall.id == call_id))
    if call is None:
        return owned(call_id, user)
    safety.ensure_active(user)
    return call


def owned(call_id, user):
    """A call `user` may change or review: its production's owner or an admin (403 for other viewers)."""
    call = visible(call_id, user)
    if not _manages(call, user):
        raise ApiError(Codes.AUTH_FORBIDDEN)
    safety.ensure_active(user)
    return call


def reported_call(reporter, call_id):
    call = db.session.scalar(_joined().where(CastingCall.id == call_id))
    return call.production.owner_id if call is not None and _is_shown(call) else None


# the casting team: opening, editing and closing a call

def _check_deadline(deadline):
    now = _now()
    if deadline <= now or deadline > now + timedelta(days=MAX_DEADLINE_DAYS):
        raise ApiError(Codes.VALIDATION, details={"fields": {"deadline": [
            f"Must be in the future, at most {MAX_DEADLINE_DAYS} days ahead."]}})


def _screen(call, user, *texts):
    """Hold a call the scam shield flags until an admin reviews it (as productions and roles are)."""
    verdict = safety.screen(user, *texts)
    if verdict:
        safety.hold(call, FlagTarget.CALL, user, verdict)


def create(user, data):
    """Open a role to submissions (its production's owner or an admin); one call per role."""
    found = db.session.get(CastingRole, data["role_id"])
    if found is None:
        raise ApiError(Codes.ROLE_NOT_FOUND)
    role = productions.role(found.production_id, found.id, user, manage=True)
    _check_deadline(data["deadline"])
    if db.session.scalar(select(CastingCall.id).where(CastingCall.role_id == role.id)):
        raise ApiError(Codes.CALL_EXISTS)
    call = CastingCall(production_id=role.production_id, created_by=user.id, **data)
    db.session.add(call)
    _screen(call, user, call.details, *(call.questions or []))
    try:
        db.session.commit()
    except IntegrityError:  # a second call for the role, sent at the same moment
        db.session.rollback()
        raise ApiError(Codes.CALL_EXISTS) from None
    _bump()
    return visible(call.id, user)


def edit(call_id, user, changes):
    """Edit a call, or close (or reopen, before its deadline) it; closing tells everyone still waiting."""
    call = owned(call_id, user)
    db.session.refresh(call, with_for_update=True)  # waits for submissions in flight; later ones see the edit
    was_open = is_open(call)
    status = changes.pop("status", None)
    for name, value in changes.items():
        setattr(call, name, value)
    if "deadline" in changes:
        _check_deadline(call.deadline)
    if "submission_cap" in changes:  # from here on counted as each is taken (or by `recount`): count them now
        call.submission_count = db.session.scalar(select(func.count()).select_from(Submission).where(
            Submission.call_id == call.id, Submission.status != S.WITHDRAWN))
    if status == CallStatus.CLOSED and call.status == CallStatus.OPEN:
        call.status, call.closed_at = CallStatus.CLOSED, _now()
    elif status == CallStatus.OPEN and call.status == CallStatus.CLOSED:
        if call.deadline <= _now():
            raise ApiError(Codes.CALL_CLOSED, "The deadline has passed: set a new one to reopen the call.",
                           details={"reason": "deadline"})
        call.status, call.closed_at = CallStatus.OPEN, None
    _screen(call, user, changes.get("details"), *(changes.get("questions") or []))
    db.session.commit()
    _bump()
    _bump_submissions(call.id)
    if was_open and not is_open(call):
        enqueue("default", tasks.tell_waiting, call.id)
    return call


def _close(*conditions):
    """Close the open calls that meet `conditions`, committed: their ids. Their rows are locked FOR UPDATE
    first, which waits for the submissions in flight (they share-lock the row) and turns later ones away."""
    locked = select(CastingCall.id).where(CastingCall.status == CallStatus.OPEN, *conditions).with_for_update()
    closed = db.session.scalars(update(CastingCall).where(CastingCall.id.in_(locked.scalar_subquery()))
                                .values(status=CallStatus.CLOSED, closed_at=func.now())
                                .returning(CastingCall.id)).all()
    db.session.commit()
    return closed


def role_closed(role):
    """A role filled or closed: its call closes too, and those still waiting hear it once."""
    closed = _close(CastingCall.role_id == role.id)
    for call_id in closed:
        _bump()
        _bump_submissions(call_id)
        enqueue("default", tasks.tell_waiting, call_id)


def close_past_deadline():
    """Mark open calls whose deadline has passed closed; their waiting applicants are told. Returns the ids."""
    closed = _close(CastingCall.deadline <= func.now())
    if closed:
        _bump()
    for call_id in closed:
        _bump_submissions(call_id)
        enqueue("default", tasks.tell_waiting, call_id)
    return closed


# finding work

def _text_filter(column, value):
    return func.lower(column) == value.strip().lower()


def listing(user, args):
    """Calls matching the filters: open ones for everyone (with `mine`, your productions' calls, any status)."""
    query = _joined()
    if args.get("mine"):
        query = query.where(Production.owner_id == user.id)
    else:
        query = query.where(open_now(), shown())
    if args.get("q"):
        words = f"%{args['q'].strip().lower()}%"
        query = query.where(or_(func.lower(CastingRole.name).like(words), func.lower(Production.title).like(words),
                                func.lower(func.coalesce(CastingRole.description, "")).like(words)))
    if args.get("city"):
        query = query.where(or_(_text_filter(CastingRole.city, args["city"]),
                                and_(CastingRole.city.is_(None),
                                     _text_filter(Production.location["city"].astext, args["city"]))))
    if args.get("language"):
        query = query.where(or_(_text_filter(Production.language, args["language"]),
                                CastingRole.languages.contains([{"name": args["language"].strip().title()}])))
    for name, column in (("category", CastingCall.category), ("production_type", Production.type),
                         ("gender", CastingRole.gender), ("remote", CastingCall.remote),
                         ("self_tape", CastingCall.self_tape)):
        if args.get(name) is not None:
            query = query.where(column == args[name])
    if args.get("pay_min") is not None:
        query = query.where(CastingRole.pay_inr >= args["pay_min"])
    if args.get("pay_max") is not None:
        query = query.where(CastingRole.pay_inr <= args["pay_max"])
    if args.get("deadline_before") is not None:
        query = query.where(CastingCall.deadline <= args["deadline_before"])
    if args.get("deadline_after") is not None:
        query = query.where(CastingCall.deadline >= args["deadline_after"])
    sort = args.get("sort") or []
    clauses = [CastingRole.pay_inr.desc().nulls_last() if key == "-pay_inr" else
               CastingRole.pay_inr.asc().nulls_last() if key == "pay_inr" else
               sort_clauses(CastingCall, [key])[0] for key in sort]
    return query.order_by(*clauses, CastingCall.deadline.asc(), CastingCall.id.desc())


def _for_me_talent(user, talent_id):
    """(talent, embedding or None) of the talent roles-for-me is about, in one statement: your own profile, or
    (an agent) one you represent."""
    query = (select(Talent, TalentEmbedding.embedding)
             .outerjoin(TalentEmbedding, TalentEmbedding.talent_id == Talent.id).where(Talent.deleted_at.is_(None)))
    if talent_id is None:
        found = db.session.execute(query.where(Talent.user_id == user.id)).first()
        if found is None:
            raise ApiError(Codes.TALENT_NOT_FOUND, "Create your talent profile first: roles are matched to it.")
        return found
    if user.role != Role.ADMIN:
        query = query.where(or_(Talent.user_id == user.id, Talent.agent_id == user.id))
    found = db.session.execute(query.where(Talent.id == talent_id)).first()
    if found is None:
        raise ApiError(Codes.TALENT_NOT_FOUND)
    return found


@cache
def _for_me():
    """(select of open, shown call ids whose role the talent of `fit.values` meets, score column, likeness
    column): built once, as building the scoring costs more than running it."""
    score = func.round(func.cast(fit.score_expression(), db.Numeric), 4).label("score")
    base = (select(CastingCall.id).join(CastingRole, CastingRole.id == CastingCall.role_id)
            .join(Production, Production.id == CastingCall.production_id)
            .where(open_now(), shown(), fit.fits()))
    return base, score, fit.likeness().label("like")


@cache
def _for_me_page():
    """(page, count) selects of roles for me (`fit.values`, `:limit`, `:offset`); the page's rows carry the
    total, as every fitting call is scored for the order anyway."""
    base, score, like = _for_me()
    page = (base.add_columns(score, like, func.count().over())
            .order_by(score.desc(), CastingCall.deadline.asc(), CastingCall.id.desc())
            .limit(bindparam("limit")).offset(bindparam("offset")))
    return page, select(func.count()).select_from(base.subquery())


def new_roles_for(talent, since, limit):
    """(how many, "role in production, ...") of the open calls for `talent` opened since `since`, best
    first; None when there are none (the digest)."""
    base, score, _ = _for_me()
    base = base.where(CastingCall.created_at > since)
    bound = fit.values(talent, fit.talent_vector(talent.id))
    total = db.session.scalar(select(func.count()).select_from(base.subquery()), bound)
    if not total:
        return None
    names = db.session.execute(base.with_only_columns(CastingRole.name, Production.title, score)
                               .order_by(score.desc(), CastingCall.id.desc()).limit(limit), bound).all()
    return total, "; ".join(f"{role} in {production}" for role, production, _ in names)


def roles_for_me(user, args, dump):
    """Roles for me as a page: (call, score, reasons) items for the talent, best fit first, among the open
    calls whose hard requirements they meet; `dump(items, total)` serialises a page.

    The route keeps the page for a minute under the calls' version (bumped by every call write) and the
    profile's (`routes._for_me_versions`): a new call or an edit of the profile shows in the next read.
    """
    talent, vector = _for_me_talent(user, args.get("talent_id"))
    paged, counted = _for_me_page()
    offset = (args["page"] - 1) * args["per_page"]
    bound = {**fit.values(talent, vector), "limit": args["per_page"], "offset": offset}
    rows = db.session.execute(paged, bound).all()
    if rows:
        total = rows[0][-1]
    else:  # past the end, or none
        total = db.session.scalar(counted, bound) if offset else 0
    calls = {call.id: call for call in db.session.scalars(  # the reasons read whether a role has an embedding
        _joined().where(CastingCall.id.in_([row[0] for row in rows]))
        .options(contains_eager(CastingCall.role).undefer(CastingRole.embedding)))}
    snapshot = profile(talent.id)
    items = [(calls[call_id], float(score), matching.reasons(
        calls[call_id].role, snapshot, None if like is None else float(like), voice="talent"))
        for call_id, score, like, _ in rows if call_id in calls]
    keep_for(FOR_ME_SECONDS)
    return dumps_bytes(dump(items, total))


# applying

def _call_and_talent(run, call_id, user, talent_id):
    """(call, talent or None) in one Core statement (`run`: see `statements`): what applying needs of the
    call (of the role its name, of the production its title and owner; 404 when hidden from `user`) and
    the talent the submission is for with their media: your own profile (talent) or the one an agent
    names. Plain objects (`SimpleNamespace`), not ORM rows: the talent's media are snapshots."""
    by = "user_id" if user.role == Role.TALENT else "id" if user.role == Role.AGENT and talent_id is not None else None
    rows = run(_applying(by), {"call_id": call_id, "key": user.id if by == "user_id" else talent_id}).all()
    if not rows or not (rows[0].shown or user.role == Role.ADMIN or rows[0].owner_id == user.id):
        raise ApiError(Codes.CALL_NOT_FOUND)
    first = rows[0]
    call = SimpleNamespace(**{name: getattr(first, name) for name in _CALL_COLUMNS},
                           role=SimpleNamespace(name=first.role_name),
                           production=SimpleNamespace(title=first.title, owner_id=first.owner_id))
    if first.talent_id is None:
        return call, None
    return call, SimpleNamespace(id=first.talent_id, user_id=first.talent_user_id, agent_id=first.talent_agent_id,
                                 is_verified=first.talent_is_verified, media=media_snapshots(rows))


_CALL_COLUMNS = ("id", "role_id", "production_id", "status", "deadline", "eligibility", "requires_headshot",
                 "portfolio_min", "requires_cover_note", "questions", "submission_cap")


@cache
def _applying(by):
    """`_call_and_talent`'s statement, built once: the call by `call_id` (one row per medium of the talent),
    and the live talent whose `by` column (`id` or `user_id`) is the `key` parameter, if any."""
    talent = and_(getattr(Talent, by) == bindparam("key"), Talent.deleted_at.is_(None)) if by else false()
    return (select(*(getattr(CastingCall, name) for name in _CALL_COLUMNS), CastingRole.name.label("role_name"),
                   Production.title, Production.owner_id, shown().label("shown"),
                   Talent.id.label("talent_id"), Talent.user_id.label("talent_user_id"),
                   Talent.agent_id.label("talent_agent_id"), Talent.is_verified.label("talent_is_verified"),
                   *media_columns())
            .join(CastingRole, CastingRole.id == CastingCall.role_id)
            .join(Production, Production.id == CastingCall.production_id)
            .outerjoin(Talent, talent).outerjoin(TalentMedia, TalentMedia.talent_id == Talent.id)
            .where(CastingCall.id == bindparam("call_id")).order_by(TalentMedia.id))


def _applicant(call, user, talent_id, talent):
    """The talent a submission is for (read with the call): your own profile (talent) or one you represent
    (agent); 403 or 422 when it is not one you may submit."""
    if user.role == Role.TALENT:
        if talent is None or (talent_id is not None and talent_id != talent.id):
            raise ApiError(Codes.CALL_NOT_ELIGIBLE, "Submit your own talent profile (create it first).")
    elif user.role == Role.AGENT:
        if talent_id is None:
            raise ApiError(Codes.VALIDATION, details={"fields": {"talent_id": ["Agents name the talent they submit."]}})
        if talent is None or talent.agent_id != user.id:
            raise ApiError(Codes.CALL_NOT_ELIGIBLE, "Agents submit only talent they represent.",
                           details={"talent_id": talent_id})
    else:
        raise ApiError(Codes.CALL_NOT_ELIGIBLE, "Talent and their agents submit to casting calls.")
    if call.eligibility == Eligibility.VERIFIED and not talent.is_verified:
        raise ApiError(Codes.CALL_NOT_ELIGIBLE, "This call takes verified talent only.",
                       details={"eligibility": "verified"})
    if call.eligibility == Eligibility.AGENTS and user.role != Role.AGENT:
        raise ApiError(Codes.CALL_NOT_ELIGIBLE, "This call takes submissions from agents only.",
                       details={"eligibility": "agents"})
    return talent


def _picks(call, talent, data):
    """The headshot and portfolio picks, checked against the talent's own media and what the call asks."""
    media = {item["id"]: item for item in talent.media}
    missing = {}
    headshot_id = data.get("headshot_id")
    if headshot_id is None and call.requires_headshot:
        headshot_id = next((item["id"] for item in talent.media if item["kind"] == MediaKind.HEADSHOT), None)
    if headshot_id is not None and (headshot_id not in media or media[headshot_id]["kind"] != MediaKind.HEADSHOT):
        missing["headshot_id"] = ["Not a headshot of this talent."]
    elif headshot_id is None and call.requires_headshot:
        missing["headshot_id"] = ["This call asks for a headshot: upload one to the profile first."]
    portfolio = data.get("portfolio_ids") or []
    strangers = [media_id for media_id in portfolio if media_id not in media
                 or media[media_id]["kind"] != MediaKind.PORTFOLIO]
    if strangers:
        missing["portfolio_ids"] = [f"Not portfolio images of this talent: {', '.join(map(str, strangers))}."]
    elif len(portfolio) < call.portfolio_min:
        missing["portfolio_ids"] = [f"This call asks for at least {call.portfolio_min} portfolio pick(s)."]
    if call.requires_cover_note and not (data.get("cover_note") or "").strip():
        missing["cover_note"] = ["This call asks for a cover note."]
    answers = data.get("answers") or []
    if len(answers) != len(call.questions) or not all(answer.strip() for answer in answers):
        missing["answers"] = [f"Answer each of the call's {len(call.questions)} question(s), in order."]
    if missing:
        raise ApiError(Codes.CALL_INCOMPLETE, details={"fields": missing})
    return headshot_id, portfolio


def _refused(run, call, capped):
    """The 409 for a call that took no submission: closed, past its deadline, or full (read afresh). Returns
    when it is still open and was given a cap or none since it was read (`capped` was the other way)."""
    call.status, call.deadline, call.submission_cap = run(
        select(CastingCall.status, CastingCall.deadline, CastingCall.submission_cap)
        .where(CastingCall.id == bindparam("call_id")), {"call_id": call.id}).one()
    if not is_open(call):
        raise ApiError(Codes.CALL_CLOSED, details={"reason": "closed" if call.status == CallStatus.CLOSED
                                                   else "deadline", "deadline": call.deadline.isoformat()})
    if capped == (call.submission_cap is not None):
        raise ApiError(Codes.CALL_FULL, details={"submission_cap": call.submission_cap})


def _place(run, call, talent, user, headshot_id, portfolio, data, capped):
    """Insert the submission in one statement: the new row's (id, created_at, updated_at), or None when the
    call took none (closed, past its deadline, full, or given a cap or none since it was read).

    A `capped` call's row is locked (FOR UPDATE) inside the statement, to check that it is open, before
    its deadline and under its cap, and to count the submission: nothing is counted without its row, nor
    inserted beyond the cap, and submissions to it take turns. A call without a cap is only share-locked
    (FOR KEY SHARE, as the foreign key would), so a burst of submissions to it runs side by side and
    commits together; its count is stored afterwards by `recount`. Closing or editing a call locks its
    row FOR UPDATE, which waits for those in flight and makes the later ones see the change. A second
    submission of the talent (or two sent at once by them and their agent) meets the unique constraint:
    the statement fails as a whole.
    """
    try:
        return run(_placing(capped), {"call_id": call.id, **{f"new_{name}": value for name, value in {
            "talent_id": talent.id, "submitted_by": user.id, "status": S.SUBMITTED, "headshot_id": headshot_id,
            "portfolio_ids": portfolio, "cover_note": data.get("cover_note"), "answers": data.get("answers") or [],
            "match_score": 0.0}.items()}}).first()
    except IntegrityError as error:  # this talent's second submission (or two sent at once, by them and their agent)
        db.session.rollback()  # with an Idempotency-Key, the transaction the statement failed in
        if "one_submission_per_talent" not in str(error.orig):
            raise
        raise ApiError(Codes.SUBMISSION_EXISTS, details={"talent_id": talent.id}) from None


@cache
def _placing(capped):
    """`_place`'s statement for a call with a cap or without, built once: a Core INSERT (PostgreSQL's ON
    CONFLICT form is never cached). The new row's values are `new_*` parameters: a parameter named like a
    column would be SET by the UPDATE."""
    place = select(CastingCall.id).where(CastingCall.id == bindparam("call_id"), open_now())
    if capped:
        place = place.where(CastingCall.submission_count < CastingCall.submission_cap).with_for_update()
    else:
        place = place.where(CastingCall.submission_cap.is_(None)).with_for_update(read=True, key_share=True)
    place = place.cte("place")
    columns = {"talent_id": Integer, "submitted_by": Integer, "status": Submission.status.type,
               "headshot_id": Integer, "portfolio_ids": JSONB, "cover_note": Text, "answers": JSONB,
               "match_score": Float}
    inserted = (insert(Submission).from_select(["call_id", *columns], select(
                    place.c.id, *(bindparam(f"new_{name}", type_=type_) for name, type_ in columns.items())))
                .returning(Submission.id, Submission.call_id, Submission.created_at, Submission.updated_at)
                .cte("inserted"))
    placed = select(inserted.c.id, inserted.c.created_at, inserted.c.updated_at)
    if not capped:
        return placed
    counted = (update(CastingCall).where(CastingCall.id == inserted.c.call_id)
               .values(submission_count=CastingCall.submission_count + 1).returning(CastingCall.id).cte("counted"))
    return placed.add_cte(counted)


def recount(call_id):
    """Store the live count of a call without a cap (its submissions are not counted as they are placed):
    run by the drain after submissions (`tasks.submissions_received`) and after a withdrawal. The row is
    locked FOR NO KEY UPDATE, which lets submissions in (they share-lock it FOR KEY SHARE), and counted
    after the lock is held, so the last recount sees every submission committed before it. A capped call
    is counted as it takes each one."""
    if db.session.scalar(select(CastingCall.submission_cap.is_(None)).where(CastingCall.id == call_id)
                         .with_for_update(key_share=True)):
        live = db.session.scalar(select(func.count()).select_from(Submission).where(
            Submission.call_id == call_id, Submission.status != S.WITHDRAWN))
        db.session.execute(update(CastingCall).where(CastingCall.id == call_id).values(submission_count=live))
    db.session.commit()


def score_submissions(call_id, submission_ids):
    """Store each submission's match score for the call's role (0 when the talent misses a hard requirement),
    for "best match": one ranking query for them all, one commit, one version bump.

    Run by the drain that follows submissions, so applying stays one short transaction at a deadline rush.
    """
    submissions = db.session.scalars(select(Submission).where(Submission.call_id == call_id,
                                                              Submission.id.in_(submission_ids))).all()
    if not submissions:
        return
    role = db.session.scalar(select(CastingRole).join(CastingCall, CastingCall.role_id == CastingRole.id)
                             .where(CastingCall.id == call_id))
    talent_ids = {submission.talent_id for submission in submissions}
    scores = {row[0]: float(row[1]) for row in db.session.execute(matching.ranked(role).where(
        Talent.id.in_(talent_ids)))}
    for submission in submissions:
        submission.match_score = scores.get(submission.talent_id, 0.0)
    db.session.commit()
    _bump_submissions(call_id)


def submit(call_id, user, data):
    """Submit a talent to a call; one submission per talent per call, whoever sends it.

    Two Core statements (`statements`): the call with the talent and their media, and `_place`, on a
    connection of their own, each committing on its own, since the last is the whole effect; with an
    Idempotency-Key, the same statements in the session's transaction with the key's record. The answer is
    built from what was read and what the INSERT returned (no reload), and the submission's Redis work (the
    list's version, its place in the drain that scores it and tells the applicant) goes in one pipelined
    round trip (`tasks.placed`).
    """
    with statements() as run:
        call, talent = _call_and_talent(run, call_id, user, data.get("talent_id"))
        if not is_open(call):
            raise ApiError(Codes.CALL_CLOSED, details={"reason": "closed" if call.status == CallStatus.CLOSED
                                                       else "deadline", "deadline": call.deadline.isoformat()})
        talent = _applicant(call, user, data.get("talent_id"), talent)
        safety.ensure_active(user)
        headshot_id, portfolio = _picks(call, talent, data)
        capped = call.submission_cap is not None
        row = _place(run, call, talent, user, headshot_id, portfolio, data, capped)
        if row is None:
            _refused(run, call, capped)
            row = _place(run, call, talent, user, headshot_id, portfolio, data, not capped)  # its cap changed
            if row is None:
                _refused(run, call, not capped)
    submission_id, created_at, updated_at = row
    submission = SimpleNamespace(id=submission_id, call_id=call.id, talent_id=talent.id, submitted_by=user.id,
                                 status=S.SUBMITTED, headshot_id=headshot_id, portfolio_ids=portfolio,
                                 cover_note=data.get("cover_note"), answers=data.get("answers") or [],
                                 self_tape_id=None, created_at=created_at, updated_at=updated_at, withdrawn_at=None)
    if in_transaction():  # an Idempotency-Key's: the submission commits with its record
        db.session.commit()
    tasks.placed(submission_id, lambda pipe: pipe.incr(_submissions_version_key(call_id)))
    return present([submission], user, False, calls=[call], media=talent.media)[0]


def _applicant_clause(user):
    """SQL: submissions `user` sent or is answerable for (their own talent, or talent they represent)."""
    return Submission.talent_id.in_(select(Talent.id).where(or_(Talent.user_id == user.id,
                                                                Talent.agent_id == user.id)))


def submission_for(submission_id, user):
    """(submission, reviewer?) for a submission `user` may see: the call's team, or its applicant."""
    submission = db.session.get(Submission, submission_id)
    if submission is None:
        raise ApiError(Codes.SUBMISSION_NOT_FOUND)
    call = db.session.scalar(_joined().where(CastingCall.id == submission.call_id))
    if _manages(call, user):
        return submission, True
    talent = db.session.get(Talent, submission.talent_id)
    if user.role != Role.ADMIN and user.id in (talent.user_id, talent.agent_id):
        return submission, False
    raise ApiError(Codes.SUBMISSION_NOT_FOUND)


def withdraw(submission_id, user):
    """The applicant takes a submission back, while the call is open and before its deadline."""
    submission, reviewer = submission_for(submission_id, user)
    if reviewer and not can_manage(db.session.get(Talent, submission.talent_id), user):
        raise ApiError(Codes.AUTH_FORBIDDEN, "Only the applicant withdraws a submission.")
    db.session.refresh(submission, with_for_update=True)
    call = db.session.get(CastingCall, submission.call_id)
    if not is_open(call):
        db.session.rollback()
        raise ApiError(Codes.CALL_CLOSED, details={"reason": "closed" if call.status == CallStatus.CLOSED
                                                   else "deadline", "deadline": call.deadline.isoformat()})
    if submission.status not in WITHDRAWABLE:
        db.session.rollback()
        raise ApiError(Codes.SUBMISSION_BAD_MOVE, f"A submission that is {submission.status.value} cannot be "
                       "withdrawn.", details={"from": submission.status.value, "to": S.WITHDRAWN.value})
    submission.status, submission.withdrawn_at = S.WITHDRAWN, _now()
    db.session.execute(update(CastingCall).where(CastingCall.id == call.id, CastingCall.submission_cap.is_not(None))
                       .values(submission_count=func.greatest(CastingCall.submission_count - 1, 0)))
    db.session.commit()
    recount(call.id)  # a call without a cap
    _bump_submissions(call.id)
    return submission


def my_submissions(user, args):
    """Your submissions (talent) or your represented talent's (agents), newest first."""
    query = select(Submission).where(_applicant_clause(user))
    if args.get("status") is not None:
        query = query.where(Submission.status == args["status"])
    return query.order_by(*order_by(Submission, args.get("sort"), (Submission.created_at.desc(),)))


# reviewing

def _submissions_query(call, args):
    """A call's submissions for its team, filtered and sorted (newest first by default)."""
    query = select(Submission).where(Submission.call_id == call.id)
    talent_filters = []
    if args.get("city"):
        talent_filters.append(Talent.location.contains({"city": args["city"].strip().title()}))
    if args.get("age_min") is not None or args.get("age_max") is not None:
        talent_filters.append(age_clause(args.get("age_min"), args.get("age_max")))
    if args.get("verified") is not None:
        talent_filters.append(Talent.is_verified.is_(args["verified"]))
    if talent_filters:
        query = query.join(Talent, Talent.id == Submission.talent_id).where(*talent_filters)
    if args.get("status") is not None:
        query = query.where(Submission.status == args["status"])
    else:
        query = query.where(Submission.status != S.WITHDRAWN)
    if args.get("has_self_tape") is not None:
        query = query.where(Submission.self_tape_id.is_not(None) if args["has_self_tape"]
                            else Submission.self_tape_id.is_(None))
    return query.order_by(*order_by(Submission, args.get("sort"), (Submission.created_at.desc(),)))


def submissions_json(call_id, user, args, dump):
    """A page of a call's submissions for its team; `dump(page)` serialises it. The route keeps it until a
    write to the call's submissions (or any profile), at most until the photo links' signing window ends
    (or the call's deadline, when its `is_open` changes)."""
    from casting.kernel.pagination import paginate

    safety.ensure_active(user)
    call = _managed(call_id, user)
    result = paginate(_submissions_query(call, args), args)
    result["items"] = present(result["items"], user, reviewer=True)
    seconds = talent_cache.json_seconds(True)
    if is_open(call):
        seconds = min(seconds, int((call.deadline - _now()).total_seconds()))
    keep_for(seconds)
    return dumps_bytes(dump(result))


def review(call_id, user, submission_ids, status):
    """Mark submissions viewed, shortlisted or declined in bulk: (updated count, skipped with reasons).

    Shortlisted and declined talent hear it (once each); a submission already there is skipped as
    `unchanged`, one that cannot make the move (withdrawn, invited) as `not_allowed`.
    """
    call = owned(call_id, user)
    found = {submission.id: submission for submission in db.session.scalars(
        select(Submission).where(Submission.call_id == call.id, Submission.id.in_(submission_ids))
        .with_for_update())}
    moved, skipped, seen = [], [], set()
    for submission_id in submission_ids:
        submission = found.get(submission_id)
        reason = ("duplicate" if submission_id in seen else "not_found" if submission is None
                  else "unchanged" if submission.status == status
                  else "not_allowed" if submission.status not in REVIEW_MOVES[status] else None)
        seen.add(submission_id)
        if reason:
            skipped.append({"submission_id": submission_id, "reason": reason})
            continue
        submission.status = status
        moved.append(submission.id)
    db.session.commit()
    _bump_submissions(call.id)
    template = {S.SHORTLISTED: "call_shortlisted", S.DECLINED: "call_declined"}.get(status)
    if template and moved:
        enqueue("default", tasks.tell_applicants, moved, template)
    return len(moved), skipped


def add_note(submission_id, user, data):
    """A private note (and/or a 1-5 rating) by the call's team; the latest rating is the submission's."""
    submission, reviewer = submission_for(submission_id, user)
    if not reviewer:
        raise ApiError(Codes.AUTH_FORBIDDEN, "Only the casting team adds notes.")
    safety.ensure_active(user)
    note = SubmissionNote(submission_id=submission.id, author_id=user.id, body=data.get("body"),
                          rating=data.get("rating"))
    db.session.add(note)
    if note.rating is not None:
        submission.rating = note.rating
    if submission.status == S.SUBMITTED:
        submission.status = S.VIEWED
    db.session.commit()
    _bump_submissions(submission.call_id)
    return note


def invite(call_id, user, data):
    """Invite shortlisted submissions to one of the production's auditions through the auditions' bulk invite
    (its WhatsApp invitations, RSVPs and reminders follow). Returns (invited count, skipped with reasons)."""
    call = owned(call_id, user)
    audition = auditions.owned(data["audition_id"], user)
    if audition.production_id != call.production_id or audition.role_id not in (None, call.role_id):
        raise ApiError(Codes.VALIDATION, details={"fields": {"audition_id": [
            "Not an audition of this call's production and role."]}})
    query = select(Submission).where(Submission.call_id == call.id)
    wanted = data.get("submission_ids")
    query = query.where(Submission.id.in_(wanted)) if wanted else query.where(Submission.status == S.SHORTLISTED)
    found = {submission.id: submission for submission in db.session.scalars(query.order_by(Submission.id))}
    skipped, chosen = [], []
    for submission_id in wanted or list(found):
        submission = found.get(submission_id)
        if submission is None:
            skipped.append({"submission_id": submission_id, "reason": "not_found"})
        elif submission.status != S.SHORTLISTED:
            skipped.append({"submission_id": submission_id, "talent_id": submission.talent_id,
                            "reason": "not_shortlisted"})
        else:
            chosen.append(submission)
    db.session.rollback()
    invited, refused = auditions.invite(audition.id, user, [submission.talent_id for submission in chosen]) \
        if chosen else (0, [])
    why = {item["talent_id"]: item["reason"] for item in refused}
    done = [submission.id for submission in chosen if submission.talent_id not in why]
    skipped += [{"submission_id": submission.id, "talent_id": submission.talent_id,
                 "reason": why[submission.talent_id]} for submission in chosen if submission.talent_id in why]
    if done:
        db.session.execute(update(Submission).where(Submission.id.in_(done), Submission.status == S.SHORTLISTED)
                           .values(status=S.INVITED))
        db.session.commit()
        _bump_submissions(call.id)
    return invited, skipped


# the daily digest of new roles for me

def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="calls-digest-unsubscribe")


def unsubscribe_token(user_id):
    return _serializer().dumps(user_id)


def digest(user):
    return db.session.get(DigestSubscription, user.id)


def set_digest(user, data):
    """Opt in (on WhatsApp or email) or out of the daily digest of new roles for you."""
    if user.role != Role.TALENT:
        raise ApiError(Codes.AUTH_FORBIDDEN, "The digest of roles for you is for talent.")
    subscription = db.session.get(DigestSubscription, user.id)
    if not data["enabled"]:
        if subscription is not None:
            db.session.delete(subscription)
        db.session.commit()
        return None
    channel = data.get("channel") or (subscription.channel if subscription else None)
    if channel is None:
        from casting.notifications import preferred_channel

        channel = preferred_channel(user)
    address = user.email if channel.value == "email" else user.phone
    if not address:
        raise ApiError(Codes.VALIDATION, details={"fields": {"channel": [
            f"Your account has no {'email' if channel.value == 'email' else 'phone'} to send the digest to."]}})
    if subscription is None:
        subscription = DigestSubscription(user_id=user.id, channel=channel)
        db.session.add(subscription)
    subscription.channel = channel
    db.session.commit()
    return subscription


def unsubscribe(token):
    """The digest's unsubscribe link: works without signing in; unknown or tampered links are a 404."""
    try:
        user_id = _serializer().loads(token)
    except BadSignature:
        raise ApiError(Codes.DIGEST_LINK_INVALID) from None
    subscription = db.session.get(DigestSubscription, user_id)
    if subscription is not None:
        db.session.delete(subscription)
        db.session.commit()


# what a response is made of

def _media_of(submissions):
    """Snapshots of the media the submissions pick, by id (one query)."""
    ids = {media_id for s in submissions for media_id in [s.headshot_id, *s.portfolio_ids] if media_id}
    return [item.snapshot() for item in db.session.scalars(select(TalentMedia).where(TalentMedia.id.in_(ids)))] \
        if ids else []


def present(submissions, viewer, reviewer, calls=None, media=None):
    """Submissions as dicts for the response schemas: picks as media links, the call in brief, and for the
    team (`reviewer`) the talent's profile, notes and rating. `calls` and `media` (TalentMedia rows): what
    the caller has loaded already (media as snapshots)."""
    from casting.talents import profiles, public_media, view
    from casting.tapes import brief

    submissions = list(submissions)
    tapes = brief([s.self_tape_id for s in submissions if s.self_tape_id])
    snapshots = {snapshot["id"]: snapshot for snapshot in profiles(sorted({s.talent_id for s in submissions}))} \
        if reviewer else {}
    if media is not None:
        picks = {item["id"]: item for item in media}
    elif reviewer:
        picks = {item["id"]: item for snapshot in snapshots.values() for item in snapshot["media"]}
    else:
        picks = {item["id"]: item for item in _media_of(submissions)}
    calls = {call.id: call for call in calls or db.session.scalars(
        _joined().where(CastingCall.id.in_({s.call_id for s in submissions})))}
    shown = []
    for submission in submissions:
        snapshot = snapshots.get(submission.talent_id)
        call = calls[submission.call_id]
        item = {name: getattr(submission, name) for name in (
            "id", "call_id", "talent_id", "submitted_by", "status", "cover_note", "answers", "self_tape_id",
            "created_at", "updated_at", "withdrawn_at")}
        item["headshot"] = public_media(picks[submission.headshot_id]) if submission.headshot_id in picks else None
        item["portfolio"] = [public_media(picks[media_id]) for media_id in submission.portfolio_ids
                             if media_id in picks]
        item["self_tape"] = tapes.get(submission.self_tape_id)
        item["call"] = {"id": call.id, "role_id": call.role_id, "role_name": call.role.name,
                        "production_title": call.production.title, "deadline": call.deadline, "is_open": is_open(call)}
        if reviewer:
            item.update(talent=view(snapshot, viewer) if snapshot else None, match_score=submission.match_score,
                        rating=submission.rating, notes=submission.notes)
        shown.append(item)
    return shown
