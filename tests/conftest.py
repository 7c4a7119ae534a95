"""Fixtures: real PostgreSQL and Redis (embedded by default), a fresh app per test, clean state."""
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
import pytest
from redis import Redis
from sqlalchemy.engine import make_url

from casting import create_app
from tests.support import RecordingServer, recreate_database, skip_durability
from casting.kernel.embedded import EmbeddedPostgres, EmbeddedRedis
from casting.kernel.extensions import db
from config import TestConfig, database_url

ROOT = Path(__file__).resolve().parent.parent
# Under `pytest -n N` (pytest-xdist) each worker (gw0, gw1...) has servers, a database and a Redis database
# of its own, so workers never clean up each other's state.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_INSTANCE = Path(os.environ.get("TEST_INSTANCE_PATH", ROOT / "instance" / f"test{'-' + WORKER if WORKER else ''}"))
TEST_REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "15")) - (int(WORKER.removeprefix("gw")) if WORKER else 0)
TEST_PASSWORD = "monsoon-kathak-audition"


@pytest.fixture(scope="session")
def server_urls():
    """The servers the tests use: those DATABASE_URL/REDIS_URL name, or embedded ones."""
    embedded = []
    base_db = database_url(os.environ.get("DATABASE_URL"))
    base_redis = os.environ.get("REDIS_URL")
    if not base_db:
        embedded.append(EmbeddedPostgres(TEST_INSTANCE))
        base_db = database_url(embedded[-1].attach())
        skip_durability(base_db)
    if not base_redis:
        embedded.append(EmbeddedRedis(TEST_INSTANCE))
        base_redis = embedded[-1].attach()
    name = make_url(base_db).database + "_test" + (f"_{WORKER}" if WORKER else "")
    redis_url = urlunsplit(urlsplit(base_redis)._replace(path=f"/{TEST_REDIS_DB}"))
    urls = {"database": recreate_database(base_db, name), "redis": redis_url,
            "server_database": base_db}
    _migrate(urls)
    yield urls
    for server in embedded:
        server.detach()


def make_config(server_urls, **overrides):
    config = TestConfig()
    config.DATABASE_URL = server_urls["database"]
    config.REDIS_URL = server_urls["redis"]
    config.INSTANCE_PATH = str(TEST_INSTANCE)
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


def _migrate(urls):
    """Run the migrations once per session on the fresh test database."""
    from flask_migrate import upgrade

    app = create_app(make_config(urls))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def clean_state(request):
    """After each test that used the servers: empty every table and the test Redis database."""
    yield
    if "server_urls" not in request.fixturenames:
        return
    urls = request.getfixturevalue("server_urls")
    tables = sql.SQL(", ").join(sql.Identifier(table.name) for table in db.metadata.sorted_tables)
    url = make_url(urls["database"]).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(tables))
    Redis.from_url(urls["redis"]).flushdb()
    from casting.messaging import services as messaging  # the ids start again: forget whose they were
    messaging._members_seen.clear()


@pytest.fixture
def make_app(server_urls):
    """Build an app on the test servers, with config overrides."""
    apps = []

    def factory(**overrides):
        app = create_app(make_config(server_urls, **overrides))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    """The app, as TestConfig builds it."""
    return make_app()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A runner for the app's CLI commands."""
    return app.test_cli_runner()


@pytest.fixture
def redis_client(app):
    """The app's Redis client."""
    return app.extensions["redis"]


@pytest.fixture
def login(app, client):
    """Sign up a user with `role` (through the service) and sign in: returns the Authorization header."""
    from casting.users.services import create_user

    def sign_in(role, email=None):
        email = email or f"{role}@example.in"
        with app.app_context():
            create_user(role.title(), role, password=TEST_PASSWORD, email=email)
        token = client.post("/api/auth/login", json={"identifier": email, "password": TEST_PASSWORD}).json
        return {"Authorization": f"Bearer {token['access_token']}"}
    return sign_in


@pytest.fixture
def signed_in(client, login):
    """Like `login`, but returns (Authorization header, user id)."""
    def sign_in(role, email):
        headers = login(role, email)
        return headers, client.get("/api/auth/me", headers=headers).json["id"]
    return sign_in


@pytest.fixture
def api_schema(app):
    """The app's own OpenAPI document, loaded for in-process fuzzing."""
    import schemathesis

    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@pytest.fixture
def s3(app, monkeypatch):
    """A real S3-compatible server (moto's server mode) on a free port, with a bucket; the app uses it."""
    import boto3
    from moto.server import ThreadedMotoServer

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    bucket = f"casting-media-{uuid.uuid4().hex[:12]}"  # moto keeps its buckets for the whole process
    client = boto3.client("s3", region_name="ap-south-1", endpoint_url=endpoint)
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    app.config.update(S3_BUCKET=bucket, S3_ENDPOINT_URL=endpoint)
    yield lambda: sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))
    server.stop()


@pytest.fixture
def provider_server():
    """A local HTTP server that records what a provider client sent and answers as told."""
    server = RecordingServer()
    yield server
    server.close()
