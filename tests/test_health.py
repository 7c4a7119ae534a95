def test_liveness(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["X-Request-ID"]


def test_readiness_reports_both_dependencies(client):
    response = client.get("/api/health/ready")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "ok"}


def test_readiness_is_503_with_envelope_when_redis_is_unreachable(make_app):
    app = make_app()
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    from redis import Redis

    healthy = app.extensions["redis"]
    app.extensions["redis"] = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    try:
        response = app.test_client().get("/api/health/ready")
    finally:
        app.extensions["redis"] = healthy
    assert response.status_code == 503
    assert response.json["code"] == "SERVER_002"
    assert response.json["details"] == {"database": "ok", "redis": "unreachable"}
    assert response.headers["Retry-After"] == "5"


def test_readiness_is_503_when_the_database_is_unreachable(make_app, server_urls):
    app = make_app(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    response = app.test_client().get("/api/health/ready")
    assert response.status_code == 503
    assert response.json["details"] == {"database": "unreachable", "redis": "ok"}
