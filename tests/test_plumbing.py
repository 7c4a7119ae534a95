"""Shared plumbing: rate limits behind proxies, the Redis cache, CORS, configuration rules."""

from casting.kernel.extensions import cache
from config import ProductionConfig

DOC = "/api/openapi.json"


def test_rate_limit_answers_429_envelope_with_retry_after(make_app):
    client = make_app(RATELIMIT_DEFAULT="3/minute").test_client()
    statuses = [client.get(DOC).status_code for _ in range(3)]
    response = client.get(DOC)
    assert statuses == [200, 200, 200]
    assert response.status_code == 429
    assert response.json["code"] == "RATE_001"
    assert 0 < int(response.headers["Retry-After"]) <= 61
    assert "Retry-After" not in client.get("/api/health").headers


def test_rate_limit_state_lives_in_redis(make_app, redis_client):
    client = make_app(RATELIMIT_DEFAULT="5/minute").test_client()
    client.get(DOC)
    assert any(key.startswith(b"LIMITS:LIMITER/casting:limits/127.0.0.1/") for key in redis_client.keys("*"))


def test_health_probes_are_not_rate_limited(make_app):
    client = make_app(RATELIMIT_DEFAULT="1/minute").test_client()
    assert {client.get("/api/health").status_code for _ in range(3)} == {200}


def test_client_ip_comes_from_the_trusted_proxy_hop(make_app):
    client = make_app(RATELIMIT_DEFAULT="2/minute", TRUSTED_PROXIES=1).test_client()
    first = {"X-Forwarded-For": "203.0.113.7"}
    assert [client.get(DOC, headers=first).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get(DOC, headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(make_app):
    client = make_app(RATELIMIT_DEFAULT="2/minute", TRUSTED_PROXIES=0).test_client()
    statuses = [client.get(DOC, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(3)]
    assert statuses == [200, 200, 429]


def test_cache_stores_in_redis(app, redis_client):
    with app.app_context():
        cache.set("talent-list:page-1", {"items": [1, 2]}, timeout=30)
        assert cache.get("talent-list:page-1") == {"items": [1, 2]}
    assert redis_client.exists("casting:cache:talent-list:page-1")
    assert 0 < redis_client.ttl("casting:cache:talent-list:page-1") <= 30


def test_cors_allows_only_configured_origins(make_app):
    client = make_app(CORS_ORIGINS=["https://app.casting.in"]).test_client()
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "Authorization"}
    allowed = client.options("/api/health", headers={"Origin": "https://app.casting.in", **preflight})
    refused = client.options("/api/health", headers={"Origin": "https://evil.example", **preflight})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.casting.in"
    assert "Access-Control-Allow-Origin" not in refused.headers
    simple = client.get("/api/health", headers={"Origin": "https://app.casting.in"})
    assert "X-Request-ID" in simple.headers["Access-Control-Expose-Headers"]


# Production refusals (every missing or weak setting): tests/test_deploy.py.


def test_postgres_urls_map_to_psycopg(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/casting")
    assert ProductionConfig().DATABASE_URL == "postgresql+psycopg://u:p@db.example:5432/casting"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/c")
    assert ProductionConfig().DATABASE_URL == "postgresql+psycopg://u@h/c"


def test_pool_is_sized_from_settings_and_pgbouncer_disables_prepares(make_app):
    from casting.kernel.extensions import db

    app = make_app(DB_POOL_SIZE=3, DB_MAX_OVERFLOW=1, DB_PGBOUNCER=True)
    with app.app_context():
        assert db.engine.pool.size() == 3
        assert db.engine.pool._max_overflow == 1
        with db.engine.connect() as conn:
            assert conn.connection.dbapi_connection.prepare_threshold is None


def test_the_pool_pings_only_a_connection_that_sat_idle_and_replaces_a_dead_one(make_app):
    """A connection back in the pool a moment ago (a crowd's requests) is used without the ping's round
    trip; one idle longer than DB_POOL_PING_IDLE_MS is pinged first, and replaced if its server process
    is gone, so the statement still succeeds."""
    import time

    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from casting.kernel.extensions import db

    app = make_app(DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_PING_IDLE_MS=300)
    with app.app_context():
        engine = db.engine
        pings, ping = [], engine.dialect.do_ping
        engine.dialect.do_ping = lambda connection: pings.append(connection) or ping(connection)
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with engine.connect() as conn:  # back a moment ago: no ping
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == first
        assert pings == []
        time.sleep(0.4)
        with engine.connect() as conn:  # idle past the threshold: pinged, still alive, kept
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == first
        assert len(pings) == 1
        other = create_engine(engine.url, poolclass=NullPool)  # the server process goes away while it is idle
        with other.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)").bindparams(pid=first)).scalar()
        other.dispose()
        time.sleep(0.4)
        with engine.connect() as conn:  # the dead one fails its ping and is replaced
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first


def test_a_miss_waiting_on_a_failed_computation_computes_for_itself(app):
    """Single flight: the second miss waits while the first computes; the first fails, so the second finds
    nothing kept and computes its own value instead of being queued behind or failing too."""
    import threading
    import time

    from casting.kernel.flight import single_flight

    kept, outcomes, started = {}, [], threading.Event()

    def failing():
        started.set()
        time.sleep(0.3)
        raise RuntimeError("the first computation failed")

    def first():
        with app.app_context():
            try:
                single_flight("test:flight", lambda: kept.get("value"), failing, kept.update)
            except RuntimeError as error:
                outcomes.append(str(error))

    thread = threading.Thread(target=first)
    thread.start()
    started.wait(5)
    waited_from = time.monotonic()
    with app.app_context():
        value = single_flight("test:flight", lambda: kept.get("value"), lambda: {"value": 2}, kept.update)
    thread.join(5)
    assert value == {"value": 2} and kept == {"value": 2}
    assert outcomes == ["the first computation failed"]
    assert time.monotonic() - waited_from >= 0.2  # it waited for the first rather than computing alongside
