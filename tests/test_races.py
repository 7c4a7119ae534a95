"""Counters cannot be raced (issue 14, item 5): parallel requests against a live gunicorn/gevent server.

Each attempt is counted before it is checked, so however many arrive at once, only the limit's
number of them is ever checked.
"""
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
import requests
from sqlalchemy import select
from sqlalchemy.engine import make_url

from casting.audit.models import AuditEvent
from casting.kernel.extensions import db
from tests.support import run_jobs
from tests.test_auth import _otp_code
from tests.test_chat_live import start_server
from tests.test_talents import profile

PHONE = "+919876543210"
PASSWORD = "monsoon-kathak-audition"


@pytest.fixture(scope="module")
def live(server_urls, tmp_path_factory):
    """One server process with the default sign-in limits (5 failures per 15 minutes, 5 code tries)."""
    process, url = start_server(server_urls, tmp_path_factory.mktemp("races"), settings={})
    yield url
    process.terminate()
    process.wait(20)


def at_once(count, call):
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def test_parallel_wrong_passwords_get_only_the_limit_checked(live):
    assert requests.post(f"{live}/api/auth/register", json={
        "email": "asha@example.in", "password": PASSWORD, "full_name": "Asha Rao", "role": "talent"}).ok
    statuses = at_once(25, lambda: requests.post(f"{live}/api/auth/login", timeout=30, json={
        "identifier": "asha@example.in", "password": "wrong-wrong-wrong"}).status_code)
    assert sorted(statuses) == [401] * 5 + [429] * 20
    right = requests.post(f"{live}/api/auth/login", json={"identifier": "asha@example.in", "password": PASSWORD})
    assert (right.status_code, right.json()["code"]) == (429, "AUTH_008")


def test_a_good_password_does_not_use_up_the_failure_budget(live):
    requests.post(f"{live}/api/auth/register", json={
        "email": "ravi@example.in", "password": PASSWORD, "full_name": "Ravi Kumar", "role": "talent"})
    for _ in range(8):
        assert requests.post(f"{live}/api/auth/login", json={
            "identifier": "ravi@example.in", "password": PASSWORD}).status_code == 200


def test_concurrent_code_guesses_get_only_five_checks(make_app):
    """25 guesses at once in threads (each waits on Redis and PostgreSQL, so they interleave)."""
    dev = make_app(APP_ENV="development")
    dev.test_client().post("/api/auth/otp/send", json={"phone": PHONE})
    code = _otp_code(dev)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    statuses = at_once(25, lambda: dev.test_client().post("/api/auth/otp/verify", json={
        "phone": PHONE, "code": wrong}).status_code)
    assert statuses == [401] * 25
    with dev.app_context():
        reasons = [event.details["reason"] for event in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "otp_failed"))]
    assert sorted(reasons) == ["expired"] * 20 + ["mismatch"] * 5
    late = dev.test_client().post("/api/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert late.status_code == 401  # burnt after five wrong tries


def _signed_up(live, role, email):
    """A new account of `role` on the live server: its Authorization header."""
    assert requests.post(f"{live}/api/auth/register", timeout=30, json={
        "email": email, "password": PASSWORD, "full_name": email.split("@")[0].title(), "role": role}).ok
    token = requests.post(f"{live}/api/auth/login", timeout=30, json={"identifier": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _call(live, owner, production, name, **body):
    role = requests.post(f"{live}/api/productions/{production}/roles", headers=owner, timeout=30,
                         json={"name": name}).json()["id"]
    deadline = (datetime.now(timezone.utc) + timedelta(days=7)).isoformat()
    made = requests.post(f"{live}/api/calls/", headers=owner, timeout=30, json={
        "role_id": role, "deadline": deadline, "requires_headshot": False, **body})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _while_locked(server_urls, call_id, sends):
    """Run `sends` at once while another transaction holds the call's row (as a slow submission would),
    until all of them wait behind it; then let go. Their answers."""
    url = make_url(server_urls["database"]).set(drivername="postgresql").render_as_string(hide_password=False)
    waiting = ("SELECT count(*) FROM pg_stat_activity "
               "WHERE wait_event_type = 'Lock' AND datname = current_database()")
    with ThreadPoolExecutor(len(sends)) as pool, psycopg.connect(url) as lock:
        lock.execute("SELECT id FROM casting_calls WHERE id = %s FOR UPDATE", [call_id])
        futures = [pool.submit(send) for send in sends]
        deadline = time.monotonic() + 30
        with psycopg.connect(url, autocommit=True) as watch:  # (a transaction would see one snapshot)
            while watch.execute(waiting).fetchone()[0] < len(sends) and time.monotonic() < deadline:
                time.sleep(0.05)
        lock.rollback()
        return [future.result() for future in futures]


def test_parallel_submissions_never_pass_a_calls_cap_nor_count_a_talent_twice(live, server_urls, app):
    """An agent's eight talent submitted at once to a call capped at three, all waiting on the call's row:
    three are taken, five find it full, and the call's count is the rows; one talent's six submissions at
    once to a call without a cap are taken once and counted once (by the submission's job)."""
    owner = _signed_up(live, "casting_director", "cd@example.in")
    production = requests.post(f"{live}/api/productions/", headers=owner, timeout=30, json={
        "title": "Monsoon Wedding 2", "type": "film", "status": "casting"}).json()["id"]
    agent = _signed_up(live, "agent", "agent@example.in")
    represented = [requests.post(f"{live}/api/talents/", headers=agent, timeout=30,
                                 json=profile(stage_name=f"Talent {n}")).json()["id"] for n in range(8)]
    capped = _call(live, owner, production, "Young Radha", submission_cap=3)
    answers = _while_locked(server_urls, capped, [
        lambda talent=talent: requests.post(f"{live}/api/calls/{capped}/submissions", headers=agent, timeout=30,
                                            json={"talent_id": talent}) for talent in represented])
    assert sorted((r.status_code, r.json().get("code")) for r in answers) == [(201, None)] * 3 + [
        (409, "CALL_004")] * 5
    call = requests.get(f"{live}/api/calls/{capped}", headers=owner, timeout=30).json()
    listed = requests.get(f"{live}/api/calls/{capped}/submissions", headers=owner, timeout=30).json()
    assert (call["submission_count"], listed["meta"]["total"]) == (3, 3)

    me = _signed_up(live, "talent", "asha@example.in")
    assert requests.post(f"{live}/api/talents/", headers=me, timeout=30, json=profile(stage_name="Asha")).ok
    uncapped = _call(live, owner, production, "Dancer")
    answers = _while_locked(server_urls, uncapped, [
        lambda: requests.post(f"{live}/api/calls/{uncapped}/submissions", headers=me, timeout=30, json={})] * 6)
    assert sorted((r.status_code, r.json().get("code")) for r in answers) == [(201, None)] + [
        (409, "CALL_008")] * 5
    run_jobs(app)  # a call without a cap is counted by the submission's job
    assert requests.get(f"{live}/api/calls/{uncapped}", headers=owner, timeout=30).json()["submission_count"] == 1
