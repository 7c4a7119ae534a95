"""The lean principal (issue 16): one Redis round trip before the view, no database row per request, and
every revocation, suspension, role or password change and rate limit in force on the very next request,
on this process and on another one (a real gunicorn server on the same PostgreSQL and Redis)."""
import json
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest

from casting.kernel.extensions import db
from casting.users.models import User
from casting.users.services import create_user
from tests.conftest import TEST_PASSWORD
from tests.support import Statements
from tests.test_chat_live import start_server

ME = "/api/auth/me"
ADMIN_ONLY = "/api/admin/audit-events"


def _request(url, headers, method="GET", body=None):
    """(status, JSON body) of one request to the live server."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {**headers, **({"Content-Type": "application/json"} if data else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method),  # nosec B310
                                    timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def other_process(server_urls, tmp_path_factory):
    """A second server process (gunicorn, one gevent worker) beside the in-process test client."""
    process, url = start_server(server_urls, tmp_path_factory.mktemp("principal"), settings={})
    yield url
    process.terminate()
    process.wait(20)


def _commands(redis_client):
    return {name: stats["calls"] for name, stats in redis_client.info("commandstats").items()}


def test_a_signed_in_read_costs_no_database_statement_and_one_round_trip_before_the_view(
        app, client, signed_in, redis_client):
    headers, _ = signed_in("talent", "asha@example.in")
    client.get(ME, headers=headers)  # fills the user cache
    with app.app_context():
        engine = db.engine
    before = _commands(redis_client)
    with Statements(engine) as statements:
        response = client.get(ME, headers=headers)
    after = _commands(redis_client)
    assert response.status_code == 200 and response.json["email"] == "asha@example.in"
    assert statements.count == 0
    # one round trip: the principal script (session, record, rate limit) reads the user cache's entry and
    # generation too (the route's prefetch); INFO is the test's own
    calls = {name[8:]: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    in_script = {name: calls.pop(name) for name in ("get", "lindex", "llen", "lpush", "expire") if name in calls}
    assert calls == {"evalsha": 1, "info": 1}
    assert in_script == {"get": 4, "lindex": 1, "llen": 1, "lpush": 1, "expire": 1}


def test_a_missing_record_is_rebuilt_from_the_database_once(app, client, signed_in, redis_client):
    headers, user_id = signed_in("talent", "asha@example.in")
    redis_client.delete(f"casting:principal:{user_id}")
    redis_client.delete(*redis_client.keys("casting:session:*"))
    assert client.get(ME, headers=headers).status_code == 200
    assert redis_client.get(f"casting:principal:{user_id}") == b"talent|1|"
    with app.app_context():
        engine = db.engine
    with Statements(engine) as statements:
        assert client.get(ADMIN_ONLY, headers=headers).status_code == 403
    assert statements.count == 0


def test_a_revoked_session_whose_state_redis_lost_is_still_refused(client, signed_in, redis_client):
    headers, _ = signed_in("talent", "asha@example.in")
    assert client.post("/api/auth/logout", headers=headers, json={}).status_code == 204
    redis_client.delete(*redis_client.keys("casting:session:*"))
    response = client.get(ME, headers=headers)
    assert response.status_code == 401 and response.json["code"] == "AUTH_005"


def test_the_default_rate_limit_counts_signed_in_requests_in_the_same_round_trip(make_app, redis_client):
    app = make_app(RATELIMIT_DEFAULT="3/minute")
    client = app.test_client()
    with app.app_context():
        create_user("Asha", "talent", password=TEST_PASSWORD, email="asha@example.in")
    token = client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": TEST_PASSWORD})
    headers = {"Authorization": f"Bearer {token.json['access_token']}"}
    statuses = [client.get(ME, headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get(ME, headers=headers)
    assert refused.json["code"] == "RATE_001" and 0 < int(refused.headers["Retry-After"]) <= 61
    user_id = token.json["user"]["id"]
    assert redis_client.keys(f"LIMITS:LIMITER/casting:limits/user:{user_id}/auth.MeViews/3/1/minute")
    assert not redis_client.keys("LIMITS:LIMITER/casting:limits/127.0.0.1/auth.MeViews/*")


def test_revocation_takes_effect_on_the_next_request_on_another_process(client, signed_in, other_process):
    headers, _ = signed_in("talent", "asha@example.in")
    assert _request(other_process + ME, headers)[0] == 200
    assert client.post("/api/auth/logout", headers=headers, json={}).status_code == 204
    status, body = _request(other_process + ME, headers)
    assert (status, body["code"]) == (401, "AUTH_005")


def test_a_role_change_takes_effect_on_the_next_request_on_another_process(client, signed_in, other_process):
    admin, _ = signed_in("admin", "admin@example.in")
    headers, user_id = signed_in("casting_director", "cd@example.in")
    assert _request(other_process + ADMIN_ONLY, headers)[0] == 403
    assert _request(other_process + ME, headers)[1]["role"] == "casting_director"
    promoted = client.put(f"/api/admin/users/{user_id}/role", headers=admin, json={"role": "admin"})
    assert promoted.status_code == 200
    assert _request(other_process + ADMIN_ONLY, headers)[0] == 200
    assert _request(other_process + ME, headers)[1]["role"] == "admin"
    assert client.put(f"/api/admin/users/{user_id}/role", headers=admin, json={"role": "producer"}).status_code == 200
    assert _request(other_process + ADMIN_ONLY, headers)[0] == 403


def test_a_suspension_and_reinstatement_take_effect_on_the_next_request_on_another_process(
        app, client, signed_in, other_process):
    admin, _ = signed_in("admin", "admin@example.in")
    headers, user_id = signed_in("casting_director", "cd@example.in")
    _, talent_id = signed_in("talent", "asha@example.in")
    start = {"participant_ids": [talent_id]}
    assert _request(other_process + ME, headers)[1]["is_suspended"] is False
    with app.app_context():
        db.session.get(User, user_id).suspended_at = datetime.now(timezone.utc)
        db.session.commit()
    assert _request(other_process + ME, headers)[1]["is_suspended"] is True
    status, body = _request(other_process + "/api/conversations", headers, "POST", start)
    assert (status, body["code"]) == (403, "SAFETY_001")
    assert client.post(f"/api/admin/users/{user_id}/reinstate", headers=admin).status_code == 200
    assert _request(other_process + ME, headers)[1]["is_suspended"] is False
    assert _request(other_process + "/api/conversations", headers, "POST", start)[0] in (200, 201)


def test_a_new_password_ends_the_other_sessions_on_the_next_request_on_another_process(
        client, login, other_process):
    this_device = login("talent", "asha@example.in")
    other = client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": TEST_PASSWORD})
    other_device = {"Authorization": f"Bearer {other.json['access_token']}"}
    assert _request(other_process + ME, other_device)[0] == 200
    changed = client.patch(ME, headers=this_device, json={"password": "a-brand-new-monsoon-passphrase"})
    assert changed.status_code == 200
    status, body = _request(other_process + ME, other_device)
    assert (status, body["code"]) == (401, "AUTH_005")
    assert _request(other_process + ME, this_device)[0] == 200


def test_a_name_change_shows_in_the_next_me_on_another_process(client, signed_in, other_process):
    headers, _ = signed_in("talent", "asha@example.in")
    assert _request(other_process + ME, headers)[1]["full_name"] == "Talent"
    assert client.patch(ME, headers=headers, json={"full_name": "Asha R. Rao"}).status_code == 200
    assert _request(other_process + ME, headers)[1]["full_name"] == "Asha R. Rao"


def test_the_user_cache_keeps_me_an_hour_without_contacts_in_clear(client, signed_in, redis_client):
    headers, user_id = signed_in("talent", "asha@example.in")
    assert client.get(ME, headers=headers).json["email"] == "asha@example.in"
    entry = redis_client.get(f"casting:cache:user:{user_id}")
    assert entry and b"asha@example.in" not in entry and b"Talent" not in entry
    assert 3500 < redis_client.ttl(f"casting:cache:user:{user_id}") <= 3600
    assert client.patch(ME, headers=headers, json={"notify_channel": "email"}).status_code == 200
    assert redis_client.get(f"casting:cache:user:{user_id}") is None
    assert client.get(ME, headers=headers).json["notify_channel"] == "email"
