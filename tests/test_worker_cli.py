"""`flask worker`, `flask seed demo` and `flask users create-admin` against the real servers."""
import json
import os
import subprocess
import sys

from sqlalchemy import func, select

from casting.kernel.extensions import db
from casting.kernel.jobs import enqueue, get_queue
from casting.productions.models import Production
from casting.seeding import DEMO_ACCOUNTS
from casting.users.models import Role, User


def test_worker_runs_queued_jobs_in_priority_order_and_logs_their_ids(app, server_urls):
    with app.test_request_context():
        low = enqueue("low", "math.factorial", 5)
        high = enqueue("high", "math.factorial", 6)
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": server_urls["database"],
           "REDIS_URL": server_urls["redis"], "FLASK_APP": "casting:create_app"}
    worker = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "worker", "--burst"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert worker.returncode == 0, worker.stderr
    with app.app_context():
        high_job, low_job = get_queue("high").fetch_job(high.id), get_queue("low").fetch_job(low.id)
        assert (high_job.return_value(), low_job.return_value()) == (720, 120)
        assert high_job.ended_at <= low_job.started_at
    logged = [json.loads(line) for line in worker.stderr.splitlines() if line.startswith("{")]
    assert {high.id, low.id} <= {entry["job_id"] for entry in logged}
    assert any(entry["job_id"] == high.id and "Job OK" in entry["message"] for entry in logged)


def test_unknown_queue_is_refused(app):
    with app.app_context():
        try:
            get_queue("urgent")
        except ValueError as error:
            assert "urgent" in str(error)
        else:
            raise AssertionError("an unknown queue was accepted")


def test_seed_demo_is_idempotent_and_realistic(app, runner):
    first = runner.invoke(args=["seed", "demo"])
    second = runner.invoke(args=["seed", "demo"])
    expected = sum(DEMO_ACCOUNTS.values())
    assert f"{expected} accounts added" in first.output
    assert "0 accounts added" in second.output
    with app.app_context():
        users = db.session.scalars(select(User)).all()
        assert len(users) == expected
        assert all(user.phone.startswith("+91") and len(user.phone) == 13 for user in users)
        assert len({user.full_name for user in users}) > expected * 0.9
        counts = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
        assert counts == DEMO_ACCOUNTS
        productions = db.session.scalars(select(Production).order_by(Production.id)).all()
        assert [(p.title, p.status.value, len(p.roles)) for p in productions] == [
            ("Monsoon Wedding 2", "casting", 2), ("Chai Break (TV ad)", "draft", 1), ("Galli Cricket", "casting", 2),
            ("Kaveri Nights", "casting", 1)]
        assert productions[1].roles[0].city_required and productions[0].roles[0].gender.value == "female"


def test_seed_demo_refuses_production_without_force(make_app):
    app = make_app(APP_ENV="production")
    result = app.test_cli_runner().invoke(args=["seed", "demo"])
    assert result.exit_code != 0
    assert "refusing" in result.output


def test_create_admin(app, runner):
    result = runner.invoke(args=["users", "create-admin", "--name", "Meera Nair",
                                 "--email", "Meera@Casting.in", "--phone", "098765 43210",
                                 "--password", "a-long-pass-phrase"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        admin = db.session.scalar(select(User))
        assert (admin.role, admin.email, admin.phone) == (Role.ADMIN, "meera@casting.in", "+919876543210")
        assert admin.password_hash.startswith("$argon2id$")
        # the operator vouches for the contacts: a later Google or OTP sign-in enters, never claims, the account
        assert admin.email_verified and admin.phone_verified
    again = runner.invoke(args=["users", "create-admin", "--name", "M", "--email", "meera@casting.in",
                                "--password", "x-long-pass-phrase"])
    assert again.exit_code != 0 and "already exists" in again.output
