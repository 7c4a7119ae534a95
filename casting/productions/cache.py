"""What a cached matches page depends on besides the talent: its production and the production's roles.

Every commit that added, changed or deleted a production or a role moves that production's version
(`version_key`) once the rows are in the database, so the next read of its matches is made again: an
edited role re-ranks, a held or transferred production is checked again, a deleted one is a 404.
"""
import logging

from flask import has_app_context
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from casting.kernel.extensions import redis
from casting.productions.models import CastingRole, Production
from casting.talents import cache as talent_cache

log = logging.getLogger(__name__)
VERSION_PREFIX = "casting:productions:version:"


def version_key(production_id):
    return VERSION_PREFIX + str(production_id)


def matches_versions(user_id, path):
    """The keys a role's cached matches depend on (`cached_response`): its production's and any talent write's."""
    return [version_key(path["production_id"]), talent_cache.VERSION_KEY]


def _changed(session, flush_context):
    changed = session.info.setdefault("casting_productions", set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Production):
            changed.add(obj.id)
        elif isinstance(obj, CastingRole):
            changed.add(obj.production_id)


def _publish(session):
    changed = session.info.pop("casting_productions", None)
    if not changed or not has_app_context():
        return
    try:
        with redis.pipeline(transaction=False) as pipe:
            for production_id in changed:
                pipe.incr(version_key(production_id))
            pipe.execute()
    except RedisError:
        log.warning("could not move production versions in Redis", extra={"productions": len(changed)})


def _discard(session, previous):
    """A rolled-back transaction changed nothing (a rolled-back savepoint may have: those are kept)."""
    if not previous.nested:
        session.info.pop("casting_productions", None)


event.listen(Session, "after_flush", _changed)
event.listen(Session, "after_commit", _publish)
event.listen(Session, "after_soft_rollback", _discard)
