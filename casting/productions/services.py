"""Productions and roles: who may see and change them, and the status moves they may make."""
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import joinedload, undefer

from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db
from casting.productions import matching
from casting.productions.models import CastingRole, Production, ProductionStatus, RoleStatus
from casting import safety
from casting.safety.models import FlagTarget
from casting.kernel.sorting import order_by, sort_clauses
from casting.talents import cache as talent_cache
from casting.talents import profiles, profiles_json
from casting.users.models import Role, User

PRODUCTION_MOVES = {
    ProductionStatus.DRAFT: {ProductionStatus.CASTING, ProductionStatus.CLOSED},
    ProductionStatus.CASTING: {ProductionStatus.CLOSED},
    ProductionStatus.CLOSED: {ProductionStatus.CASTING},
}
ROLE_MOVES = {
    RoleStatus.OPEN: {RoleStatus.FILLED, RoleStatus.CLOSED},
    RoleStatus.FILLED: {RoleStatus.OPEN, RoleStatus.CLOSED},
    RoleStatus.CLOSED: {RoleStatus.OPEN},
}
MAKERS = {Role.CASTING_DIRECTOR, Role.PRODUCER, Role.ADMIN}
_dependents = []
_role_closed = []


def register_dependent(name, count):
    """Refuse deleting a production while `count(production_id)` > 0 (auditions register here)."""
    if (name, count) not in _dependents:
        _dependents.append((name, count))


def on_role_closed(listener):
    """Call `listener(role)` after a role becomes filled or closed (auditions tell their waiting talent)."""
    if listener not in _role_closed:
        _role_closed.append(listener)
    return listener


def _move(noun, current, wanted, moves):
    """Check a status change against `moves`; 409 naming the allowed moves if it is not one."""
    if wanted is None or wanted == current:
        return
    if wanted not in moves[current]:
        raise ApiError(Codes.PRODUCTION_BAD_MOVE, f"A {noun} that is {current.value} cannot become {wanted.value}.",
                       details={"from": current.value, "to": wanted.value,
                                "allowed": sorted(status.value for status in moves[current])})


def _check_dates(production):
    if production.shoot_start and production.shoot_end and production.shoot_start > production.shoot_end:
        raise ApiError(Codes.VALIDATION, details={"fields": {"shoot_end": ["Must not be before shoot_start."]}})


def _check_ages(role):
    if role.age_min is not None and role.age_max is not None and role.age_min > role.age_max:
        raise ApiError(Codes.VALIDATION, details={"fields": {"age_min": ["Must not be above age_max."]}})


def shown():
    """SQL: a production that may be shown beyond its owner (not held for review, its owner not suspended)."""
    return and_(Production.held_at.is_(None),
                ~exists().where(User.id == Production.owner_id, User.suspended_at.is_not(None)))


def listing(user, args):
    """Productions `user` may see, newest first, filtered. Others' drafts are private; held productions and
    those of suspended accounts are hidden from everyone but their owner and admins."""
    query = select(Production)
    if user.role != Role.ADMIN:
        query = query.where(or_(Production.owner_id == user.id,
                                and_(Production.status != ProductionStatus.DRAFT, shown())))
    if args.get("mine"):
        query = query.where(Production.owner_id == user.id)
    for name in ("status", "type"):
        if args.get(name) is not None:
            query = query.where(getattr(Production, name) == args[name])
    return query.order_by(*order_by(Production, args.get("sort"), (Production.created_at.desc(),)))


def is_shown(production):
    return production.held_at is None and db.session.get(User, production.owner_id).suspended_at is None


def visible(production_id, user):
    """A production `user` may see; someone else's draft, held or suspended one is as good as missing (404)."""
    production = db.session.get(Production, production_id)
    mine = production is not None and (user.role == Role.ADMIN or production.owner_id == user.id)
    if production is None or not (mine or (production.status != ProductionStatus.DRAFT and is_shown(production))):
        raise ApiError(Codes.PRODUCTION_NOT_FOUND)
    return production


def owned(production_id, user):
    """A production `user` may change: its owner or an admin (403 for others who can see it, and for a
    suspended owner)."""
    production = visible(production_id, user)
    if user.role != Role.ADMIN and production.owner_id != user.id:
        raise ApiError(Codes.AUTH_FORBIDDEN)
    safety.ensure_active(user)
    return production


def _screen(item, target_type, user, *texts):
    """Hold what the scam shield flags until an admin reviews it."""
    verdict = safety.screen(user, *texts)
    if verdict:
        safety.hold(item, target_type, user, verdict)


def create(user, data):
    if user.role not in MAKERS:
        raise ApiError(Codes.AUTH_FORBIDDEN, "Only casting directors, producers and admins create productions.")
    safety.ensure_active(user)
    production = Production(owner_id=user.id, **data)
    _check_dates(production)
    db.session.add(production)
    _screen(production, FlagTarget.PRODUCTION, user, production.title, production.description)
    db.session.commit()
    return production


def update(production_id, user, changes):
    production = owned(production_id, user)
    _move("production", production.status, changes.get("status"), PRODUCTION_MOVES)
    for name, value in changes.items():
        setattr(production, name, value)
    _check_dates(production)
    _screen(production, FlagTarget.PRODUCTION, user, changes.get("title"), changes.get("description"))
    db.session.commit()
    return production


def delete(production_id, user):
    """Delete a production and its roles, unless something (auditions) depends on it."""
    production = owned(production_id, user)
    in_use = {name: count(production.id) for name, count in _dependents}
    in_use = {name: number for name, number in in_use.items() if number}
    if in_use:
        raise ApiError(Codes.PRODUCTION_IN_USE, details=in_use)
    db.session.delete(production)
    db.session.commit()


def _sees_held(production, user):
    return user.role == Role.ADMIN or production.owner_id == user.id


def roles(production_id, user, args):
    """A production's roles (held ones only for its owner and admins), in the order they were added unless
    `sort` says otherwise."""
    production = visible(production_id, user)
    query = select(CastingRole).where(CastingRole.production_id == production_id)
    if not _sees_held(production, user):
        query = query.where(CastingRole.held_at.is_(None))
    return query.order_by(*sort_clauses(CastingRole, args.get("sort")), CastingRole.id)


def role(production_id, role_id, user, manage=False, load=()):
    """A role of a production `user` may see (or, with `manage`, change), read with its production (and the
    loader options `load`) in one statement."""
    found = _role_with_production(production_id, role_id, load)
    production = owned(production_id, user) if manage else visible(production_id, user)  # read with the role
    if found is None or (found.held_at is not None and not _sees_held(production, user)):
        raise ApiError(Codes.ROLE_NOT_FOUND)
    return found


def role_for_service(production_id, role_id, load=()):
    """A role of any production, for a service API key (the ML service), read as `role` reads it; 404s as for
    users (a second statement only then, to tell a missing production from a missing role)."""
    found = _role_with_production(production_id, role_id, load)
    if found is None:
        raise ApiError(Codes.ROLE_NOT_FOUND if db.session.get(Production, production_id) else
                       Codes.PRODUCTION_NOT_FOUND)
    return found


def _role_with_production(production_id, role_id, load):
    return db.session.scalars(select(CastingRole).options(joinedload(CastingRole.production), *load)
                              .where(CastingRole.id == role_id, CastingRole.production_id == production_id)).first()


def create_role(production_id, user, data):
    production = owned(production_id, user)
    created = CastingRole(production_id=production.id, **data)
    _check_ages(created)
    db.session.add(created)
    _screen(created, FlagTarget.ROLE, user, created.name, created.description)
    db.session.commit()
    return created


def update_role(production_id, role_id, user, changes):
    found = role(production_id, role_id, user, manage=True)
    was = found.status
    _move("role", found.status, changes.get("status"), ROLE_MOVES)
    for name, value in changes.items():
        setattr(found, name, value)
    _check_ages(found)
    _screen(found, FlagTarget.ROLE, user, changes.get("name"), changes.get("description"))
    db.session.commit()
    if was == RoleStatus.OPEN and found.status != RoleStatus.OPEN:
        for listener in _role_closed:
            listener(found)
    return found


def delete_role(production_id, role_id, user):
    db.session.delete(role(production_id, role_id, user, manage=True))
    db.session.commit()


def matches(production_id, role_id, user, args):
    """A page of (the talent's JSON as `user` may see it, score, reasons) for the role, best first, with the
    total (counted up to COUNT_BOUND) and whether it is exact (owner or admin; `user` None: the ML service's
    key, which may ask for any role).

    The ranking is cached like talent lists, under the topics of the talent columns it reads (an edit of one
    of them shows at once; of another, such as a day rate, only in the profiles shown), and keyed by the
    role's last change, so editing the role (or its embedding) re-ranks.
    """
    load = [undefer(CastingRole.embedding)]
    if user is None:
        found = role_for_service(production_id, role_id, load)
    else:
        found = role(production_id, role_id, user, manage=True, load=load)
    if found.held_at is not None or found.production.held_at is not None:
        raise ApiError(Codes.PRODUCTION_HELD)

    def compute():
        offset = (args["page"] - 1) * args["per_page"]
        rows = matching.top(found, offset, args["per_page"])
        if len(rows) < args["per_page"] and (rows or offset == 0):
            total, exact = offset + len(rows), True
        else:
            total, exact = matching.counted(found)
        return [(talent_id, float(score), None if like is None else float(like))
                for talent_id, score, like in rows], total, exact

    key = {"matches": found.id, "changed": found.updated_at.isoformat(), **args}
    scored, total, exact = talent_cache.cached_page(key, matching.TOPICS, compute)
    snapshots = {snapshot["id"]: snapshot for snapshot in profiles([talent_id for talent_id, _, _ in scored])}
    shown = profiles_json(list(snapshots), user)
    items = [(shown[talent_id], score, matching.reasons(found, snapshots[talent_id], like))
             for talent_id, score, like in scored if talent_id in shown]
    return items, total, exact


def reported_production(reporter, production_id):
    production = db.session.get(Production, production_id)
    if production is None or production.status == ProductionStatus.DRAFT or not is_shown(production):
        return None
    return production.owner_id


def reported_role(reporter, role_id):
    found = db.session.get(CastingRole, role_id)
    return None if found is None or found.held_at else reported_production(reporter, found.production_id)
