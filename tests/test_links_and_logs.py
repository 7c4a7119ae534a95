"""Links and logs do not leak or mislead (issue 14, item 7): links come from PUBLIC_BASE_URL, never from
the request's Host; calendar feed tokens and query values never reach the logs or the traces."""
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from http.server import ThreadingHTTPServer

import pytest
from sqlalchemy import text

from casting.kernel.extensions import db
from tests.support import run_jobs
from tests.test_observability import _Collector
from tests.test_talent_media import image_bytes, upload
from tests.test_talents import profile


@pytest.fixture(autouse=True)
def media_root(app, tmp_path):
    app.config["MEDIA_ROOT"] = str(tmp_path / "media")


def headshot_urls(client, talent_id, headers, **request):
    body = client.get(f"/api/talents/{talent_id}", headers=headers, **request).json
    return [body["headshot"]["url"], body["headshot"]["thumbnail_url"]]


def test_a_forged_host_header_neither_gets_nor_poisons_media_links(client, login):
    me = login("talent")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    uploaded = client.post(f"/api/talents/{talent_id}/media", headers=me, base_url="http://evil.example",
                           content_type="multipart/form-data",
                           data={"kind": "headshot", "file": (io.BytesIO(image_bytes()), "me.jpg", "image/jpeg")})
    assert uploaded.status_code == 201  # the first links of this image are made for a forged Host
    forged = [uploaded.json["url"], uploaded.json["thumbnail_url"]]
    honest = headshot_urls(client, talent_id, me)
    for url in forged + honest:
        assert url.startswith("http://localhost/api/media/talents/"), url
    assert forged == honest  # the same cached links for everyone, built from PUBLIC_BASE_URL


def test_links_start_with_the_configured_public_base_url(make_app, login, tmp_path):
    app = make_app(PUBLIC_BASE_URL="https://api.casting.in", MEDIA_ROOT=str(tmp_path / "m"))
    client = app.test_client()
    from casting.users.services import create_user
    from tests.conftest import TEST_PASSWORD

    with app.app_context():
        create_user("Asha", "talent", password=TEST_PASSWORD, email="asha@example.in")
    token = client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": TEST_PASSWORD}).json
    me = {"Authorization": f"Bearer {token['access_token']}"}
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    media = upload(client, talent_id, me, image_bytes())
    assert media.json["url"].startswith("https://api.casting.in/api/media/talents/")
    feed = client.post("/api/calendar/feeds", headers=me, base_url="http://evil.example").json
    assert feed["url"].startswith("https://api.casting.in/api/calendar/") and feed["url"].endswith(".ics")


def everything_logged(records):
    """Each record as all a handler could write: message, extra fields and the formatted traceback."""
    formatter = logging.Formatter()
    return "\n".join(record.getMessage() + json.dumps(record.__dict__, default=str)
                     + (formatter.formatException(record.exc_info) if record.exc_info else "")
                     for record in records)


def test_a_calendar_feed_token_never_reaches_the_access_log(client, login, caplog):
    me = login("casting_director")
    feed = client.post("/api/calendar/feeds", headers=me).json
    path = feed["url"].removeprefix("http://localhost")
    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    with caplog.at_level(logging.INFO):
        assert client.get(path).status_code == 200
        assert client.get(path.replace(token, token[::-1])).status_code == 404
    logged = everything_logged(caplog.records)
    assert token not in logged and token[::-1] not in logged
    access = [record.path for record in caplog.records if record.name == "casting.access"]
    assert access[-2:] == ["/api/calendar/[secret].ics"] * 2


def test_query_values_and_secret_paths_stay_out_of_error_and_slow_query_logs(make_app, caplog):
    app = make_app(SLOW_QUERY_MS=0)

    def boom(token):
        db.session.execute(text("SELECT :value"), {"value": "param-secret-4711"})
        db.session.execute(text("SELECT CAST(:value AS integer)"), {"value": "param-secret-4711"})

    app.add_url_rule("/api/boom/<secret:token>", "boom", boom)
    with caplog.at_level(logging.INFO):
        response = app.test_client().get("/api/boom/feed-secret-0815")
    assert (response.status_code, response.json["code"]) == (500, "SERVER_001")
    logged = everything_logged(caplog.records)
    assert "param-secret-4711" not in logged and "feed-secret-0815" not in logged
    error = next(record for record in caplog.records if record.levelno == logging.ERROR)
    assert error.getMessage() == "unhandled error on GET /api/boom/[secret]"
    assert error.db_sqlstate == "22P02" and "CAST(%(value)s AS integer)" in error.db_statement
    assert error.db_error == "InvalidTextRepresentation" and any("in boom" in frame for frame in error.db_frames)
    assert any(record.getMessage() == "slow query" for record in caplog.records)


def cast_a_secret():
    """A job whose query fails; PostgreSQL's message would quote the value."""
    db.session.execute(text("SELECT CAST(:value AS integer)"), {"value": "param-secret-4711"})


def test_a_failed_job_is_logged_and_kept_without_its_query_values(app, caplog):
    from casting.kernel.jobs import enqueue

    with app.test_request_context():
        job = enqueue("default", "tests.test_links_and_logs.cast_a_secret")
    with caplog.at_level(logging.INFO):
        run_jobs(app)
    kept = job.latest_result().exc_string
    assert "JobDatabaseError" in kept and "22P02" in kept and "in cast_a_secret" in kept
    assert "param-secret-4711" not in kept and "param-secret-4711" not in everything_logged(caplog.records)


def test_traces_carry_neither_feed_tokens_nor_query_values(server_urls):
    _Collector.received = []
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    script = textwrap.dedent("""
        from opentelemetry import trace
        from sqlalchemy import text
        from casting import create_app
        from casting.auditions.calendar import open_feed
        from casting.kernel.extensions import db
        from casting.users.services import create_user
        app = create_app()
        with app.app_context():
            _, token = open_feed(create_user("Ravi", "casting_director", email="ravi-trace@example.in"))
            db.session.execute(text("SELECT :value"), {"value": "param-secret-4711"})
            db.session.rollback()
        def boom():
            db.session.execute(text("SELECT CAST(:value AS integer)"), {"value": "param-secret-4711"})
        app.add_url_rule("/api/boom", "boom", boom)
        assert app.test_client().get(f"/api/calendar/{token}.ics").status_code == 200
        assert app.test_client().get("/api/boom").status_code == 500
        trace.get_tracer_provider().force_flush()
        print(token)
    """)
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": server_urls["database"],
           "REDIS_URL": server_urls["redis"], "OTEL_SERVICE_NAME": "casting-test",
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}"}
    try:
        run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    finally:
        collector.shutdown()
    assert run.returncode == 0, run.stderr
    token = run.stdout.split()[-1]
    sent = b"".join(body for _, _, body in _Collector.received)
    assert b"/api/calendar/[secret].ics" in sent
    assert b"DataError" in sent and b"in boom" in sent  # the error's type and where it happened are kept
    assert token.encode() not in sent and b"param-secret-4711" not in sent


def test_gunicorn_s_own_lines_still_format_once_the_app_configured_logging(app):
    """A worker's warnings (an invalid request, a timeout) use gunicorn's format with the process id."""
    from gunicorn.glogging import Logger

    record = logging.getLogger("gunicorn.error").makeRecord(
        "gunicorn.error", logging.WARNING, __file__, 1, "Invalid request from ip=%s", ("127.0.0.1",), None)
    assert logging.Formatter(Logger.error_fmt).format(record).endswith(
        f"[{os.getpid()}] [WARNING] Invalid request from ip=127.0.0.1")
