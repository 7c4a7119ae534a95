"""The command line (issue 20): no embedded server for `--help` and commands that need no database, progress
on long work, caches dropped after seeding, readable logs in development."""
import subprocess

import pytest

from tests.test_embedded import BIN, ROOT, _env, _server_pids


def _run(instance, *args):
    return subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=_env(instance), capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args, shows", [(["--help"], "seed"), (["seed", "--help"], "talents"),
                                         (["keys", "generate"], "="), (["routes"], "/api/talents")])
def test_help_and_commands_that_need_no_database_start_no_server(tmp_path, args, shows):
    instance = tmp_path / "instance"
    run = _run(instance, *args)
    assert run.returncode == 0, run.stderr[-2000:]
    assert shows in run.stdout
    assert _server_pids(instance) == (None, None)
    # not even started and stopped again: no data folder, no registered process
    assert not (instance / "postgres" / "data").exists() and not (instance / "redis" / "server.json").exists()
    assert "starting embedded" not in run.stderr


def _pty_run(server_urls, *args, command=None, app_env="test"):
    """Run `flask ARGS` (or `command`) on a terminal (a pseudo-terminal): what a person at a laptop sees."""
    import os
    import pty

    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "LOG_FORMAT")}
    env.update(APP_ENV=app_env, DATABASE_URL=server_urls["database"], REDIS_URL=server_urls["redis"],
               FLASK_APP="casting:create_app", COLUMNS="120")
    leader, follower = pty.openpty()
    process = subprocess.Popen(command or [str(BIN / "flask"), *args], cwd=ROOT, env=env, stdin=follower,
                               stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0, seen.decode(errors="replace")[-2000:]
    return seen.decode(errors="replace")


def test_seeding_talents_shows_a_progress_bar_on_a_terminal(server_urls):
    shown = _pty_run(server_urls, "seed", "talents", "25000")
    assert "talent profiles  [" in shown and "10000/25000" in shown and "25000/25000" in shown
    assert "25000 talent profiles loaded" in shown


def test_off_a_terminal_only_the_label_is_printed_and_stdout_keeps_the_result(runner):
    result = runner.invoke(args=["seed", "talents", "3"])
    assert result.exit_code == 0, result.output
    assert "3 talent profiles loaded" in result.output and "%" not in result.output


def test_the_services_report_progress_that_adds_up(app):
    from casting.kernel.pii import rotate_all
    from casting.talents.seeding import seed_talents
    from casting.users.services import create_user

    steps = []
    with app.app_context():
        seed_talents(12_345, progress=lambda done, total: steps.append((done, total)))
        assert sum(done for done, _ in steps) == 12_345 and {total for _, total in steps} == {12_345}
        assert len(steps) == 2  # every 10,000 rows, and the rest at the end
        for number in range(3):
            create_user("Asha", "talent", email=f"asha{number}@example.in")
        rotated = []
        assert rotate_all(batch_size=2, progress=lambda done, total: rotated.append((done, total))) >= 3
        assert [done for done, _ in rotated] == [2, 1] and {total for _, total in rotated} == {3}


def test_seeding_drops_the_cached_list_totals_at_once(client, login, runner):
    headers = login("casting_director")
    before = client.get("/api/talents/", headers=headers).json["meta"]["total"]
    assert client.get("/api/talents/", headers=headers).json["meta"]["total"] == before  # cached now
    assert runner.invoke(args=["seed", "talents", "7"]).exit_code == 0
    assert client.get("/api/talents/", headers=headers).json["meta"]["total"] == before + 7
    assert runner.invoke(args=["seed", "talents", "3"]).exit_code == 0
    searched = client.post("/api/talents/search", json={}, headers=headers).json["meta"]["total"]
    assert searched == before + 10


def test_export_writes_ndjson_with_progress_and_is_audited(app, runner, tmp_path):
    import json

    from sqlalchemy import select

    from casting.audit.models import AuditEvent
    from casting.kernel.extensions import db

    assert runner.invoke(args=["seed", "talents", "12"]).exit_code == 0
    out = tmp_path / "talents.ndjson"
    result = runner.invoke(args=["export", "talents", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 12 and "date_of_birth" not in lines[0] and "stage_name" in lines[0]
    assert "12 talents exported" in result.output
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "talent_export"))
        assert event.details["via"] == "cli" and event.details["pii"] is False
    refused = runner.invoke(args=["export", "talents", str(out), "--updated-since", "2026-11-24T10:00:00"])
    assert refused.exit_code == 2 and "offset" in refused.output


_ONE_REQUEST = ("from casting import create_app; app = create_app(); "
                "app.test_client().get('/api/health')")


def test_development_logs_are_readable_coloured_lines_on_a_terminal(server_urls):
    import sys

    shown = _pty_run(server_urls, command=[sys.executable, "-c", _ONE_REQUEST], app_env="development")
    line = next(line for line in shown.splitlines() if "casting.access" in line)
    assert "\033[32mINFO" in line and "method=GET" in line and "path=/api/health" in line and "status=200" in line
    assert not line.lstrip().startswith("{")


def test_other_modes_and_pipes_get_json_lines_without_colour(server_urls):
    import json
    import os
    import sys

    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": server_urls["database"], "REDIS_URL": server_urls["redis"]}
    env.pop("LOG_FORMAT", None)
    run = subprocess.run([sys.executable, "-c", _ONE_REQUEST], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    logged = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    assert any(entry["logger"] == "casting.access" and entry["path"] == "/api/health" for entry in logged)
    piped = subprocess.run([sys.executable, "-c", _ONE_REQUEST], cwd=ROOT, capture_output=True, text=True,
                           timeout=60, env={**env, "APP_ENV": "development"})
    assert "path=/api/health" in piped.stderr and "\033[" not in piped.stderr


def test_log_format_follows_the_mode_and_is_checked():
    import config as settings

    assert settings.DevelopmentConfig().LOG_FORMAT == "text"
    assert settings.TestConfig().LOG_FORMAT == "json"
    bad = settings.TestConfig()
    bad.LOG_FORMAT = "xml"
    with pytest.raises(RuntimeError, match="LOG_FORMAT"):
        bad.validate()
