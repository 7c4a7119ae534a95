"""`create_app`: the Flask app from config, extensions, blueprints, CLI and error handlers."""
from pathlib import Path

from flask.sessions import SessionInterface
from redis import Redis
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from casting.embedded import connect_pending_database, is_pending, pending_redis_connection, resolve_urls
from casting.auth.principal import RATE_LIMIT_HEADERS
from casting.auth.sessions import register_jwt_callbacks
from casting.errors import register_error_handlers, register_jwt_errors
from casting.extensions import api, cache, cors, db, jwt, limiter, migrate, socketio
from casting.jsonprovider import OrjsonProvider
from casting.logs import configure_logging
from casting.messaging.fanout import CHANNEL, ChatManager, WebSocketOnly
from casting.numbers import register_converters
from casting.observability import configure_tracing, log_slow_queries, register_observability
from casting.openapi import SWAGGER_UI_ASSETS, docs_asset, spec_options
from casting.web import CastingFlask, register_request_hooks

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _engine_options(config):
    """SQLAlchemy pool settings from the environment; PgBouncer mode turns off prepared statements."""
    connect_args = {"application_name": "casting-api"}
    if config["DB_PGBOUNCER"]:
        connect_args["prepare_threshold"] = None
    return {"pool_size": config["DB_POOL_SIZE"], "max_overflow": config["DB_MAX_OVERFLOW"],
            "pool_timeout": config["DB_POOL_TIMEOUT"], "pool_recycle": config["DB_POOL_RECYCLE"],
            "pool_pre_ping": config["DB_POOL_PRE_PING"], "connect_args": connect_args,
            "hide_parameters": True}  # a query's values never reach an error message, a log or a trace


def redis_options(config):
    """Options every Redis client gets: for a `rediss://` URL, the certificate checks REDIS_SSL_* ask for.

    Managed Redis (Heroku's among them) presents a self-signed certificate: REDIS_SSL_CERT_REQS=none
    encrypts without verifying it, REDIS_SSL_CA_CERTS verifies it against the provider's CA instead.
    """
    if is_pending(config["REDIS_URL"]):
        return {"connection_class": pending_redis_connection()}  # the embedded Redis, attached on first use
    if not config["REDIS_URL"].startswith("rediss://"):
        return {}
    options = {"ssl_cert_reqs": config["REDIS_SSL_CERT_REQS"]}
    if config["REDIS_SSL_CA_CERTS"]:
        options["ssl_ca_certs"] = config["REDIS_SSL_CA_CERTS"]
    return options


def _bind_urls(app, lazy):
    resolve_urls(app.config, lazy=lazy)
    redis_url = app.config["REDIS_URL"]
    tls = redis_options(app.config)
    # The app's own client: RQ's queues and workers, presence, health and the services use it, and the
    # rate limiter shares its pool (the limiter is process-wide and merges options across apps).
    client = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=3, health_check_interval=30,
                            **tls)
    app.extensions["redis"] = client
    app.config.update(
        SQLALCHEMY_DATABASE_URI=app.config["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(app.config),
        CACHE_REDIS_URL=redis_url, CACHE_OPTIONS=dict(tls),
        RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_STORAGE_OPTIONS={"connection_pool": client.connection_pool},
        API_SPEC_OPTIONS=spec_options(app.config))


class StatelessSessions(SessionInterface):
    """No cookie session: the API is stateless (bearer tokens), so no request opens or signs one.
    Socket.IO keeps each socket's own session server-side, as before."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None


def _init_extensions(app):
    origins = app.config["CORS_ORIGINS"]
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    jwt.init_app(app)
    cache.init_app(app)
    limiter.init_app(app)
    # The default limit is counted with the caller's principal in one round trip (casting.auth.principal);
    # the limiter's own per-request check would find nothing to do, at a measurable cost per request.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.session_interface = StatelessSessions()
    if origins:
        cors.init_app(app, resources={r"/api/*": {"origins": origins}},
                      expose_headers=["X-Request-ID", "Retry-After", *RATE_LIMIT_HEADERS], max_age=600)
    api.init_app(app)
    app.add_url_rule(f"{SWAGGER_UI_ASSETS}<path:filename>", "docs_assets", limiter.exempt(docs_asset))
    queue = ChatManager(app.config["REDIS_URL"], channel=CHANNEL, redis_options=redis_options(app.config))
    socketio.init_app(app, async_mode="gevent", client_manager=queue,
                      cors_allowed_origins=origins or [], transports=["websocket"])
    app.wsgi_app = WebSocketOnly(app.wsgi_app)


def _register_blueprints(app):
    import casting.models  # noqa: F401 - the metadata must know every table
    from casting.admin.routes import blp as admin_blp
    from casting.auditions.routes import blp as auditions_blp, calendar_blp
    from casting.auth.routes import blp as auth_blp
    from casting.calls.routes import blp as calls_blp
    from casting.exports.routes import blp as exports_blp
    from casting.health.routes import blp as health_blp
    from casting.media.routes import blp as media_blp
    from casting.messaging.routes import blp as messaging_blp
    from casting.meta.routes import blp as meta_blp
    from casting.notifications.routes import dev_blp
    from casting.productions.routes import blp as productions_blp
    from casting.safety.routes import blp as safety_blp
    from casting.talents.routes import blp as talents_blp
    from casting.tapes.routes import blp as tapes_blp, parts_blp as tape_parts_blp
    from casting.webhooks.routes import blp as webhooks_blp

    for blueprint in (health_blp, auth_blp, admin_blp, talents_blp, productions_blp, calls_blp, auditions_blp,
                      calendar_blp, exports_blp, media_blp, messaging_blp, meta_blp, safety_blp, tapes_blp,
                      tape_parts_blp, webhooks_blp):
        api.register_blueprint(blueprint)
    if app.config["APP_ENV"] == "development":
        api.register_blueprint(dev_blp)
    from casting.messaging import asyncapi

    app.add_url_rule("/api/asyncapi.json", "asyncapi", limiter.exempt(asyncapi.serve))  # beside openapi.json


def _under_the_command_line():
    """True while the `flask` command line builds the app (for `--help`, or to find a command)."""
    import click

    return click.get_current_context(silent=True) is not None


def create_app(config=None):
    """Build the app. `config` is a config object (default: from APP_ENV and the environment).

    Built by the `flask` command line, the app attaches the embedded servers (no DATABASE_URL or
    REDIS_URL) only when a command first connects: `--help` and commands that need no database
    start none. A web process, a worker started by gunicorn and the tests attach them at once.
    """
    from config import load_config

    config = config or load_config()
    config.validate()
    app = CastingFlask(__name__, instance_path=config.INSTANCE_PATH)
    app.json = OrjsonProvider(app)
    app.config.from_object(config)
    register_converters(app)
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    import casting.messaging.events  # noqa: F401 - Socket.IO handlers, before init_app binds them
    _bind_urls(app, lazy=_under_the_command_line())
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    _init_extensions(app)
    register_error_handlers(app, limiter)
    register_jwt_errors(jwt)
    register_jwt_callbacks(jwt)
    register_request_hooks(app)  # before the blueprints: it adds the `secret` path converter their routes use
    register_observability(app)
    _register_blueprints(app)

    from casting.cli import register_cli

    register_cli(app)
    with app.app_context():
        if is_pending(app.config["DATABASE_URL"]):
            event.listen(db.engine, "do_connect", connect_pending_database)
        log_slow_queries(db.engine, app.config["SLOW_QUERY_MS"])
        configure_tracing(app, db.engine)
    return app
