"""`create_app`: the Flask app from config, extensions, blueprints, CLI and error handlers."""
from pathlib import Path

from flask.sessions import SessionInterface
from redis import Redis
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from casting import (admin, audit, auditions, auth, calls, exports, health, media, messaging, meta, notifications,
                     productions, safety, talents, tapes, users, webhooks)
from casting.kernel.admission import register_admission_control
from casting.kernel.embedded import connect_pending_database, is_pending, pending_redis_connection, resolve_urls
from casting.kernel.errors import register_error_handlers, register_jwt_errors
from casting.kernel.extensions import api, cache, cors, db, jwt, limiter, migrate, ping_when_idle, socketio
from casting.kernel.idempotency import prune_idempotency_keys
from casting.kernel.jobs import register_periodic
from casting.kernel.jsonprovider import OrjsonProvider
from casting.kernel.logs import configure_logging
from casting.kernel.numbers import register_converters
from casting.kernel.observability import configure_tracing, log_slow_queries, register_observability
from casting.kernel.openapi import SWAGGER_UI_ASSETS, docs_asset, spec_options
from casting.kernel.web import CastingFlask, register_request_hooks
from casting.messaging.fanout import CHANNEL, ChatManager, WebSocketOnly

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# The domains, each wired by its own init_app (routes, socket handlers, safety targets, inbound handlers,
# periodic jobs), in the order their sections appear in the OpenAPI document.
DOMAINS = (health, auth, users, audit, admin, talents, productions, calls, auditions, exports, media, messaging, meta,
           safety, tapes, webhooks, notifications)


def _engine_options(config):
    """SQLAlchemy pool settings from the environment; PgBouncer mode turns off prepared statements."""
    connect_args = {"application_name": "casting-api"}
    if config["DB_PGBOUNCER"]:
        connect_args["prepare_threshold"] = None
    elif config["DB_STATEMENT_TIMEOUT_MS"]:  # PgBouncer refuses startup options: set it on the database role there
        connect_args["options"] = f"-c statement_timeout={config['DB_STATEMENT_TIMEOUT_MS']}"
    return {"pool_size": config["DB_POOL_SIZE"], "max_overflow": config["DB_MAX_OVERFLOW"],
            "pool_timeout": config["DB_POOL_TIMEOUT"], "pool_recycle": config["DB_POOL_RECYCLE"],
            "pool_pre_ping": config["DB_POOL_PRE_PING"] and not config["DB_POOL_PING_IDLE_MS"],
            "connect_args": connect_args,
            "hide_parameters": True}  # a query's values never reach an error message, a log or a trace


def redis_options(config, url=None):
    """Options every Redis client gets: for a `rediss://` URL, the certificate checks REDIS_SSL_* ask for.

    Managed Redis (Heroku's among them) presents a self-signed certificate: REDIS_SSL_CERT_REQS=none
    encrypts without verifying it, REDIS_SSL_CA_CERTS verifies it against the provider's CA instead.
    `url` is REDIS_URL unless given (QUEUE_REDIS_URL, CACHE_REDIS_URL).
    """
    url = url or config["REDIS_URL"]
    if is_pending(url):
        return {"connection_class": pending_redis_connection()}  # the embedded Redis, attached on first use
    if not url.startswith("rediss://"):
        return {}
    options = {"ssl_cert_reqs": config["REDIS_SSL_CERT_REQS"]}
    if config["REDIS_SSL_CA_CERTS"]:
        options["ssl_ca_certs"] = config["REDIS_SSL_CA_CERTS"]
    return options


def _redis_client(config, url):
    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3, health_check_interval=30,
                          **redis_options(config, url))


def _bind_urls(app, lazy):
    resolve_urls(app.config, lazy=lazy)
    redis_url = app.config["REDIS_URL"]
    # The app's own client: sessions, principals, rate limits, counters, presence, health and the services
    # use it, and the rate limiter shares its pool (the limiter is process-wide and merges options across
    # apps). RQ's queues, job records and schedule may live on a Redis of their own (QUEUE_REDIS_URL, which
    # must never evict), and the cache on another (CACHE_REDIS_URL, which may): see docs/operations.md.
    client = _redis_client(app.config, redis_url)
    queue_url = app.config["QUEUE_REDIS_URL"] or redis_url
    cache_url = app.config["CACHE_REDIS_URL"] or redis_url
    app.extensions["redis"] = client
    app.extensions["queue_redis"] = client if queue_url == redis_url else _redis_client(app.config, queue_url)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=app.config["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(app.config),
        CACHE_REDIS_URL=cache_url, CACHE_OPTIONS=dict(redis_options(app.config, cache_url)),
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
    # Its after_request adds headers we turn off (RATELIMIT_HEADERS_ENABLED) for limits it no longer counts.
    app.after_request_funcs[None] = [hook for hook in app.after_request_funcs[None]
                                     if getattr(hook, "func", None) is not type(limiter)._Limiter__inject_headers]
    app.session_interface = StatelessSessions()
    if origins:
        cors.init_app(app, resources={r"/api/*": {"origins": origins}},
                      expose_headers=["X-Request-ID", "Retry-After", *auth.RATE_LIMIT_HEADERS], max_age=600)
    api.init_app(app)
    app.add_url_rule(f"{SWAGGER_UI_ASSETS}<path:filename>", "docs_assets", limiter.exempt(docs_asset))
    queue = ChatManager(app.config["REDIS_URL"], channel=CHANNEL,
                        redis_options={**redis_options(app.config), "socket_connect_timeout": 3})
    socketio.init_app(app, async_mode="gevent", client_manager=queue,
                      cors_allowed_origins=origins or [], transports=["websocket"])
    app.wsgi_app = WebSocketOnly(SocketIOPathOnly(app.wsgi_app))


class SocketIOPathOnly:
    """Socket.IO's WSGI middleware for its own path only; every other request goes straight to the app.

    The middleware copies each request's environ and, under gunicorn, defines a class per request
    before it looks at the path: a measurable share of a cached read's CPU, for nothing."""

    def __init__(self, middleware):
        self.middleware, self.path, self.app = middleware, middleware.engineio_path, middleware.wsgi_app

    def __call__(self, environ, start_response):
        if (environ.get("PATH_INFO") or "").startswith(self.path):
            return self.middleware(environ, start_response)
        return self.app(environ, start_response)


def _check_models():
    """Every table in the metadata (Alembic and the tests read it), every relationship resolved now: a
    missing model fails here, at start, not on a first query."""
    from sqlalchemy.orm import configure_mappers

    from casting.models import MODELS

    missing = [model.__name__ for model in MODELS if model.__table__.name not in db.metadata.tables]
    if missing:
        raise RuntimeError(f"models outside the metadata: {', '.join(missing)}")
    configure_mappers()


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
    _bind_urls(app, lazy=_under_the_command_line())
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    _init_extensions(app)
    register_error_handlers(app, limiter)
    register_jwt_errors(jwt)
    # before the domains: it adds the `secret` path converter their routes use
    register_request_hooks(app, auth.check_request, auth.rate_limit_headers, auth.signed_in_principal)
    register_periodic(app, prune_idempotency_keys)
    register_observability(app)
    _check_models()
    for domain in DOMAINS:
        domain.init_app(app)

    from casting.cli import register_cli

    register_cli(app)
    with app.app_context():
        if is_pending(app.config["DATABASE_URL"]):
            event.listen(db.engine, "do_connect", connect_pending_database)
        if app.config["DB_POOL_PRE_PING"] and app.config["DB_POOL_PING_IDLE_MS"]:
            ping_when_idle(db.engine, app.config["DB_POOL_PING_IDLE_MS"] / 1000)
        log_slow_queries(db.engine, app.config["SLOW_QUERY_MS"])
        configure_tracing(app, db.engine)
    register_admission_control(app)  # outermost: a refused request costs no more than its headers
    return app
