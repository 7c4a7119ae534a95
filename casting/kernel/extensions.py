"""Extension singletons, created unbound and bound to the app in `create_app`."""
import time
from contextlib import contextmanager

from flask import current_app
from flask_caching import Cache
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from psycopg.rows import namedtuple_row
from sqlalchemy import MetaData, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase
from werkzeug.local import LocalProxy

from casting.kernel.observability import note_statement
from casting.kernel.openapi import CastingApi

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = CastingApi()
jwt = JWTManager()
socketio = SocketIO()
limiter = Limiter(get_remote_address)
# Every route's limit (RATELIMIT_DEFAULT, or the setting `casting.kernel.throttle.rate_limit` names) is counted per
# signed-in user or, anonymous, per IP by `casting.auth.principal.check_request`, in the same Redis round
# trip as the caller's session and role (the limiter's key format and moving window): the limiter's own
# per-request check stands aside, and `limiter.exempt` still marks the routes that are not counted.
limiter.request_filter(lambda: True)
cache = Cache()
cors = CORS()
redis = LocalProxy(lambda: current_app.extensions["redis"])
# RQ's queues, job records and schedule: REDIS_URL's server unless QUEUE_REDIS_URL names another.
queue_redis = LocalProxy(lambda: current_app.extensions["queue_redis"])


def script(source):
    """The app's Redis client's Lua script for `source` (registered once; called by its SHA)."""
    scripts = current_app.extensions.setdefault("casting_scripts", {})
    if source not in scripts:
        scripts[source] = current_app.extensions["redis"].register_script(source)
    return scripts[source]


def in_transaction():
    """Whether the session has a transaction under way. Unlike `db.session().in_transaction()`, it makes no
    session when this context has none yet (a socket event's context often never needs one: making it,
    then closing it at teardown, costs more than the statement the event runs)."""
    return db.session.registry.has() and db.session().in_transaction()


def each_statement_commits():
    """From here to the session's next commit, each statement commits on its own (PostgreSQL autocommit):
    no BEGIN, COMMIT or ROLLBACK round trip, and a row an UPDATE locks is free again as soon as that
    statement ends, not after the rest of the request has run. For a service whose reads need no shared
    snapshot and whose write is one statement (`begin_locking` before anything that must lock and write
    together). It must come before the session's first statement: inside a transaction already begun it
    changes nothing, and the work runs in that transaction as before."""
    if not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def at_once(statement, params):
    """Run one statement that commits on its own (PostgreSQL autocommit) on a pooled connection of its own,
    outside the session, and return its rows (named tuples). For a write that is one statement with
    nothing else to commit beside it: no BEGIN or COMMIT round trip, and none of the session's bookkeeping
    (its transaction, its flush and expiry on commit), which costs more CPU than the statement itself.

    `statement` is a `text()` constant or a Core statement kept for reuse (compiled once per process, its
    parameters' SQLAlchemy types applied: an EncryptedString is encrypted as it would be through the ORM;
    a Core statement's result types too: an enum column comes back as its enum). It runs on the pool's
    connection through psycopg itself: SQLAlchemy's execution context and result, with the result's
    metadata rebuilt from the cursor for every statement, cost twice what psycopg does. What
    the engine's cursor hooks did for it is kept: the pool's checkout (its ping after idle, its size and
    timeout), a statement slower than SLOW_QUERY_MS logged, a connection lost in the middle thrown away
    by the pool. With OpenTelemetry tracing on, it goes through SQLAlchemy, whose spans that needs.
    The connection goes back to the pool before this returns; the session's own work is untouched."""
    engine = db.engine
    app = current_app._get_current_object()
    if app.extensions.get("casting_traced"):
        with own_connection() as connection:
            return connection.execute(statement, params).all()
    sql, binds, rows_of = _driver_sql(app, engine, statement)
    values = {name: params[name] if process is None else process(params[name]) for name, process in binds}
    fairy = engine.raw_connection()
    try:
        connection = fairy.driver_connection
        connection.autocommit = True
        started = time.perf_counter()
        try:
            with connection.cursor(row_factory=rows_of) as cursor:
                cursor.execute(sql, values)
                rows = cursor.fetchall()
        except engine.dialect.loaded_dbapi.Error as error:
            if connection.broken:
                fairy.invalidate(error)
            # as SQLAlchemy would raise it, so the app's handlers treat it alike (a database gone: 503)
            raise DBAPIError.instance(sql, None, error, engine.dialect.loaded_dbapi.Error, hide_parameters=True,
                                      connection_invalidated=connection.broken, dialect=engine.dialect) from error
        finally:
            if not connection.broken:
                connection.autocommit = False
        note_statement(sql, (time.perf_counter() - started) * 1000, app.config["SLOW_QUERY_MS"])
        return rows
    finally:
        fairy.close()


def _driver_sql(app, engine, statement):
    """(SQL for psycopg, [(parameter, its type's bind processor or None)], the row factory) of a statement,
    once: named tuples, with the result types' processors applied where a selected column has one."""
    compiled = app.extensions.setdefault("casting_at_once", {})
    found = compiled.get(statement)
    if found is None:
        dialect = engine.dialect
        done = statement.compile(dialect=dialect)
        binds = [(name, bind.type.dialect_impl(dialect).bind_processor(dialect)) for name, bind in done.binds.items()]
        results = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                   for column in getattr(statement, "selected_columns", ())]
        found = compiled[statement] = (done.string, binds, _processed_rows(results) if any(results) else namedtuple_row)
    return found


def _processed_rows(processors):
    """A psycopg row factory: named tuples whose values went through `processors` (None: as they came)."""
    def factory(cursor):
        make = namedtuple_row(cursor)
        return lambda values: make([value if process is None else process(value)
                                    for process, value in zip(processors, values)])
    return factory


@contextmanager
def own_connection():
    """A pooled Core connection in autocommit, outside the session, for a few Core statements that each
    commit on their own (`at_once` runs one `text()` statement through psycopg itself): none of the
    session's bookkeeping (its transaction, its ORM execution and commit). Back to the pool when the
    block ends."""
    engines = current_app.extensions.setdefault("casting_autocommit", {})
    engine = engines.get(db.engine)
    if engine is None:
        engine = engines[db.engine] = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        yield connection


def begin_locking():
    """After `each_statement_commits`: end it (a commit, which sends nothing, and expires the session's
    objects as any commit does), so the next statement begins a real transaction for a lock and the writes
    under it. In a real transaction already, nothing happens."""
    if db.session().in_transaction() and \
            db.session.connection().get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        db.session.commit()


def ping_when_idle(engine, idle_seconds):
    """The pool's pre-ping (DB_POOL_PRE_PING), only for a connection that sat in the pool `idle_seconds`
    or more: one back sooner (a crowd's requests take them back within milliseconds) is used as it is,
    without the `SELECT 1` round trip. A connection that fails the ping is replaced, as with SQLAlchemy's
    own pre-ping; one lost in the moments since it was last used fails its statement, and the pool then
    replaces every connection older than the failure. With `idle_seconds` 0 every check-out pings."""

    @event.listens_for(engine, "checkin")
    def _back(dbapi_connection, record):
        record.info["back_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _leaving(dbapi_connection, record, proxy):
        back_at = record.info.get("back_at")
        if back_at is None or time.monotonic() - back_at < idle_seconds:
            return  # new, or back a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError("the pooled connection failed its ping") from error
