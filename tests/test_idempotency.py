"""`Idempotency-Key` on creating requests: a retry gets the first answer, never a second thing."""
import threading
import time

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from casting.kernel.extensions import db
from casting.productions.models import Production
from casting.talents.models import Talent
from tests.test_talents import profile

FILM = {"title": "Monsoon Wedding 2", "type": "film"}


def _productions(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Production))


def test_a_retry_with_the_same_key_gets_the_first_answer_and_creates_nothing_more(app, client, login):
    owner = login("casting_director")
    keyed = {**owner, "Idempotency-Key": "5f0c6f1e-1b7a-4d0e-9a55-2f4b8c1d9e30"}
    first = client.post("/api/productions/", json=FILM, headers=keyed)
    again = client.post("/api/productions/", json=FILM, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _productions(app) == 1
    other = client.post("/api/productions/", json={**FILM, "title": "Kaveri Nights"}, headers=keyed)
    assert (other.status_code, other.json["code"]) == (422, "REQUEST_006")
    assert client.post("/api/productions/", json=FILM, headers=owner).status_code == 201  # no key: a new one
    someone_else = {**login("producer", "p@example.in"), "Idempotency-Key": keyed["Idempotency-Key"]}
    assert client.post("/api/productions/", json=FILM, headers=someone_else).json["id"] != first.json["id"]
    assert _productions(app) == 3


def test_a_refused_request_leaves_no_key_behind_and_a_bad_key_is_422(app, client, login):
    me = login("talent")
    keyed = {**me, "Idempotency-Key": "profile-1"}
    invalid = client.post("/api/talents/", json=profile(height_cm=5), headers=keyed)
    assert invalid.status_code == 422
    created = client.post("/api/talents/", json=profile(), headers=keyed)  # same key, now a valid body
    assert created.status_code == 201
    replayed = client.post("/api/talents/", json=profile(), headers=keyed)
    assert (replayed.status_code, replayed.json["id"]) == (201, created.json["id"])
    assert client.post("/api/talents/", json=profile(), headers=me).json["code"] == "TALENT_001"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Talent)) == 1
    bad = client.post("/api/talents/", json=profile(), headers={**me, "Idempotency-Key": "two words"})
    assert bad.status_code == 422 and "Idempotency-Key" in bad.json["details"]["fields"]


def test_a_bulk_invite_retried_with_its_key_invites_and_messages_once(app, client, login):
    from casting.notifications.models import Notification
    from tests.test_faults import _audition, _talents

    owner = login("casting_director")
    audition = _audition(client, owner)
    with app.app_context():
        talent_ids = _talents(3)
    keyed = {**owner, "Idempotency-Key": "invite-batch-1"}
    first = client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": talent_ids}, headers=keyed)
    again = client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": talent_ids}, headers=keyed)
    assert (first.status_code, first.json["invited"]) == (202, 3) and again.json == first.json
    unkeyed = client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": talent_ids}, headers=owner)
    assert unkeyed.json["invited"] == 0  # without the key a retry is a new request: everyone already invited
    from tests.support import run_jobs

    run_jobs(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 3


def test_a_second_request_with_the_key_racing_the_first_creates_nothing(app, client, login, server_urls):
    """Both pass the check before either commits: the second's commit meets the first's key and is rolled
    back, with 409 REQUEST_007 (a retry then gets the first answer)."""
    owner = login("casting_director")
    keyed = {**owner, "Idempotency-Key": "race-1"}
    url = make_url(server_urls["database"]).set(drivername="postgresql").render_as_string(hide_password=False)
    answers = []
    with psycopg.connect(url) as lock:
        lock.execute("LOCK TABLE productions IN SHARE ROW EXCLUSIVE MODE")  # both wait at their INSERT
        threads = [threading.Thread(target=lambda: answers.append(
            app.test_client().post("/api/productions/", json=FILM, headers=keyed))) for _ in range(2)]
        for thread in threads:
            thread.start()
        waiting = ("SELECT count(*) FROM pg_stat_activity "
                   "WHERE wait_event_type = 'Lock' AND datname = current_database()")
        deadline = time.monotonic() + 30
        with psycopg.connect(url, autocommit=True) as watch:  # (a transaction would see one snapshot)
            while watch.execute(waiting).fetchone()[0] < 2 and time.monotonic() < deadline:
                time.sleep(0.05)  # both requests passed the key check and wait at their INSERT
        lock.rollback()
    for thread in threads:
        thread.join(30)
    assert sorted(answer.status_code for answer in answers) == [201, 409]
    assert [answer.json["code"] for answer in answers if answer.status_code == 409] == ["REQUEST_007"]
    assert _productions(app) == 1
    replay = client.post("/api/productions/", json=FILM, headers=keyed)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"


def test_the_document_offers_the_key_on_every_creating_operation_and_only_there(client):
    spec = client.get("/api/openapi.json").json
    offered, creating = set(), set()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if "Idempotency-Key" in names:
                offered.add((method, path))
            if method == "post" and {"201", "202"} & set(operation["responses"]) and operation.get("security") != []:
                creating.add((method, path))
    secret = {("post", "/api/admin/api-keys"), ("post", "/api/calendar/feeds")}  # answers never stored
    assert offered == creating - secret and secret <= creating
    assert {("post", "/api/talents"), ("post", "/api/productions"), ("post", "/api/productions/{production_id}/roles"),
            ("post", "/api/auditions"), ("post", "/api/auditions/{audition_id}/invite"),
            ("post", "/api/conversations/{conversation_id}/messages"), ("post", "/api/calls/{call_id}/submissions")
            } <= offered
    assert ("post", "/api/auth/login") not in offered
