"""Liveness and readiness checks."""
import logging

from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db, queue_redis, redis

log = logging.getLogger(__name__)


def _check(name, probe, errors):
    try:
        probe()
        return "ok"
    except errors:
        log.warning("readiness: %s unreachable", name, exc_info=True)
        return "unreachable"


def readiness():
    """Report the database and Redis; raise a 503 envelope when either is unreachable."""
    report = {"database": _check("database", lambda: db.session.execute(text("SELECT 1")),
                                 SQLAlchemyError),
              "redis": _check("redis", lambda: redis.ping() and queue_redis.ping(), RedisError)}
    if "unreachable" in report.values():
        db.session.rollback()
        raise ApiError(Codes.UNAVAILABLE, details=report, headers={"Retry-After": "5"})
    return {"status": "ok", **report}
