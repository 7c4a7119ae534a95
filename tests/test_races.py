"""Counters cannot be raced (issue 14, item 5): parallel requests against a live gunicorn/gevent server.

Each attempt is counted before it is checked, so however many arrive at once, only the limit's
number of them is ever checked.
"""
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from casting.audit.models import AuditEvent
from casting.kernel.extensions import db
from tests.test_auth import _otp_code
from tests.test_chat_live import start_server

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
