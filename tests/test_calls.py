"""Open casting calls (issue 22): calls, finding work, roles for me, applying, reviewing, notifications."""
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from casting.calls.models import CastingCall, Submission
from casting.kernel.extensions import db
from casting.kernel.idempotency import IdempotencyKey
from casting.notifications.models import Notification
from casting.safety.models import Flag
from casting.talents.models import MediaKind, TalentMedia
from casting.users.models import User
from tests.support import redis_round_trips, run_jobs, slowed
from tests.test_talents import profile


def soon(days=7):
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


def add_media(app, talent_id, kind):
    """A stored image of the talent's (the upload path has its own tests): its id."""
    with app.app_context():
        item = TalentMedia(talent_id=talent_id, kind=kind, key=f"t/{talent_id}/{kind.value}.jpg",
                           thumbnail_key=f"t/{talent_id}/{kind.value}-thumb.jpg", content_type="image/jpeg",
                           width=800, height=1000, size_bytes=1000)
        db.session.add(item)
        db.session.commit()
        return item.id


@pytest.fixture
def stage(app, client, login, signed_in):
    """A casting director's production (casting) with a role, and a way to add talent who can sign in."""
    owner = login("casting_director")
    production = client.post("/api/productions/", headers=owner, json={
        "title": "Monsoon Wedding 2", "type": "film", "language": "Hindi", "status": "casting",
        "location": {"city": "Mumbai"}}).json["id"]
    role = client.post(f"/api/productions/{production}/roles", headers=owner, json={
        "name": "Young Radha", "gender": "female", "age_min": 20, "age_max": 28, "skills": ["Acting", "Kathak"],
        "languages": [{"name": "Marathi", "proficiency": "fluent"}], "city": "Mumbai", "pay_inr": 25000}).json["id"]

    def talent(name, headshot=True, **changes):
        headers, user_id = signed_in("talent", f"{name.lower()}@example.in")
        talent_id = client.post("/api/talents/", json=profile(stage_name=name, **changes), headers=headers).json["id"]
        if headshot:
            add_media(app, talent_id, MediaKind.HEADSHOT)
        return talent_id, headers

    def open_call(**body):
        made = client.post("/api/calls/", headers=owner, json={"role_id": role, "deadline": soon(), **body})
        assert made.status_code == 201, made.json
        return made.json

    return {"owner": owner, "production": production, "role": role, "talent": talent, "open_call": open_call}


def test_an_owner_opens_one_call_per_role_and_others_cannot(client, login, stage):
    other, talent = login("casting_director", "other@example.in"), login("talent")
    body = {"role_id": stage["role"], "deadline": soon(), "questions": ["<b>Accent</b>?"], "portfolio_min": 1}
    assert client.post("/api/calls/", json=body, headers=other).json["code"] == "AUTH_007"
    assert client.post("/api/calls/", json=body, headers=talent).status_code == 403
    assert client.post("/api/calls/", json={**body, "role_id": 999}, headers=stage["owner"]).json["code"] == \
        "PRODUCTION_004"
    made = client.post("/api/calls/", json=body, headers=stage["owner"])
    assert made.status_code == 201
    call = made.json
    assert (call["questions"], call["is_open"], call["role"]["name"], call["production"]["title"]) == (
        ["Accent?"], True, "Young Radha", "Monsoon Wedding 2")
    again = client.post("/api/calls/", json=body, headers=stage["owner"])
    assert (again.status_code, again.json["code"]) == (409, "CALL_002")
    assert client.get(f"/api/calls/{call['id']}", headers=talent).json["id"] == call["id"]
    assert client.put(f"/api/calls/{call['id']}", json={"status": "closed"}, headers=other).status_code == 403


@pytest.mark.parametrize("bad, field", [
    ({"deadline": "2020-01-01T00:00:00+00:00"}, "deadline"),
    ({"deadline": soon(400)}, "deadline"),
    ({"deadline": "2030-01-01T00:00:00"}, "deadline"),  # no offset
    ({"questions": ["a", "b", "c", "d", "e", "f"]}, "questions"),
    ({"portfolio_min": 11}, "portfolio_min"),
    ({"submission_cap": 0}, "submission_cap"),
    ({"submission_cap": 2 ** 40}, "submission_cap"),
    ({"eligibility": "friends"}, "eligibility"),
])
def test_bad_call_input_is_a_422_naming_the_field(client, stage, bad, field):
    response = client.post("/api/calls/", json={"role_id": stage["role"], "deadline": soon(), **bad},
                           headers=stage["owner"])
    assert (response.status_code, response.json["code"]) == (422, "VALIDATION_001")
    assert field in response.json["details"]["fields"]


def test_the_scam_shield_holds_a_call_and_a_held_call_is_not_visible(app, client, login, stage):
    talent = login("talent")
    call = stage["open_call"](details="Registration fee of Rs 5000 to be paid before the audition via UPI.")
    assert call["held_for_review"] is True
    assert client.get(f"/api/calls/{call['id']}", headers=talent).json["code"] == "CALL_001"
    assert client.get("/api/calls/", headers=talent).json["meta"]["total"] == 0
    assert client.post(f"/api/calls/{call['id']}/submissions", json={}, headers=talent).status_code == 404
    assert client.get(f"/api/calls/{call['id']}", headers=stage["owner"]).status_code == 200
    with app.app_context():
        flag = db.session.scalar(select(Flag))
        assert (flag.target_type.value, flag.target_id) == ("call", call["id"])


def test_browse_filters_pages_and_sorts_open_calls(client, login, stage):
    talent = login("talent")
    first = stage["open_call"](category="lead", remote=True)
    ad = client.post("/api/productions/", headers=stage["owner"], json={
        "title": "Chai Break", "type": "ad", "language": "Marathi", "status": "casting"}).json["id"]
    cheap = client.post(f"/api/productions/{ad}/roles", headers=stage["owner"], json={
        "name": "Friend", "city": "Pune", "pay_inr": 5000}).json["id"]
    second = client.post("/api/calls/", headers=stage["owner"], json={
        "role_id": cheap, "deadline": soon(2), "self_tape": True}).json
    draft = client.post("/api/productions/", headers=stage["owner"], json={"title": "Secret", "type": "tv"}).json["id"]
    hidden_role = client.post(f"/api/productions/{draft}/roles", headers=stage["owner"], json={"name": "X"}).json["id"]
    client.post("/api/calls/", headers=stage["owner"], json={"role_id": hidden_role, "deadline": soon()})

    def ids(query=""):
        response = client.get(f"/api/calls/?{query}", headers=talent)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    assert ids() == [second["id"], first["id"]]  # soonest deadline first; the draft production's call hidden
    assert ids("city=pune") == [second["id"]]
    assert ids("production_type=film") == [first["id"]]
    assert ids("language=marathi") == [second["id"], first["id"]]  # the ad's language, the role's language
    assert ids("pay_min=10000") == [first["id"]]
    assert ids("pay_max=10000") == [second["id"]]
    assert ids("remote=true") == [first["id"]]
    assert ids("self_tape=true") == [second["id"]]
    assert ids("category=lead") == [first["id"]]
    assert ids("q=radha") == [first["id"]]
    assert ids(f"deadline_before={soon(3).replace('+', '%2B')}") == [second["id"]]
    assert ids("sort=-pay_inr") == [first["id"], second["id"]]
    assert ids("per_page=1&page=2") == [first["id"]]
    assert client.get("/api/calls/?sort=salary", headers=talent).status_code == 422
    assert client.get("/api/calls/?per_page=101", headers=talent).status_code == 422
    mine = client.get("/api/calls/?mine=true", headers=stage["owner"]).json
    assert mine["meta"]["total"] == 3


def test_roles_for_me_ranks_calls_by_fit_with_reasons_in_the_talents_voice(client, login, stage):
    talent_id, me = stage["talent"]("Asha")  # female, playing age 22-30, Mumbai, Acting+Dancing, Marathi native
    call = stage["open_call"]()
    other = client.post(f"/api/productions/{stage['production']}/roles", headers=stage["owner"], json={
        "name": "Dancer", "skills": ["Dancing"], "city": "Delhi"}).json["id"]
    dancer = client.post("/api/calls/", headers=stage["owner"], json={"role_id": other, "deadline": soon()}).json
    male = client.post(f"/api/productions/{stage['production']}/roles", headers=stage["owner"], json={
        "name": "Groom", "gender": "male"}).json["id"]
    client.post("/api/calls/", headers=stage["owner"], json={"role_id": male, "deadline": soon()})
    old = client.post(f"/api/productions/{stage['production']}/roles", headers=stage["owner"], json={
        "name": "Grandmother", "age_min": 60}).json["id"]
    client.post("/api/calls/", headers=stage["owner"], json={"role_id": old, "deadline": soon()})

    page = client.get("/api/calls/for-me", headers=me).json
    assert [item["call"]["id"] for item in page["items"]] == [call["id"], dancer["id"]]  # the groom, grandma: out
    assert page["meta"]["total"] == 2
    radha = page["items"][0]
    assert page["items"][1]["reasons"][:2] == ["you have Dancing", "the role is in Delhi; you are based in Mumbai"]
    assert radha["reasons"] == [
        "you have Acting", "the role asks for Kathak, which is not on your profile", "you speak Marathi (native)",
        "the role asks for 20\u201328; your playing age is 22\u201330", "the role is in Mumbai, where you are based",
        "you have 5 years of experience"]
    # the same score the role's matches give this talent
    matches = client.get(f"/api/productions/{stage['production']}/roles/{stage['role']}/matches",
                         headers=stage["owner"]).json["items"]
    assert [(m["talent"]["id"], m["score"]) for m in matches] == [(talent_id, radha["score"])]
    # a new call shows at once (the ranking is cached under the calls' version)
    newer = client.post(f"/api/productions/{stage['production']}/roles", headers=stage["owner"], json={
        "name": "Sister", "skills": ["Acting", "Dancing"], "city": "Mumbai"}).json["id"]
    client.post("/api/calls/", headers=stage["owner"], json={"role_id": newer, "deadline": soon()})
    assert client.get("/api/calls/for-me", headers=me).json["meta"]["total"] == 3
    nobody = login("talent", "noprofile@example.in")
    assert client.get("/api/calls/for-me", headers=nobody).json["code"] == "TALENT_002"
    assert client.get("/api/calls/for-me?talent_id=1", headers=login("agent")).json["code"] == "TALENT_002"


def test_apply_once_with_what_the_call_asks_and_see_the_status(app, client, login, stage):
    talent_id, me = stage["talent"]("Asha")
    call = stage["open_call"](portfolio_min=1, requires_cover_note=True, questions=["Accent?", "Dates free?"])
    path = f"/api/calls/{call['id']}/submissions"
    incomplete = client.post(path, json={"answers": ["Yes"]}, headers=me)
    assert (incomplete.status_code, incomplete.json["code"]) == (422, "CALL_005")
    assert set(incomplete.json["details"]["fields"]) == {"portfolio_ids", "cover_note", "answers"}
    stranger = add_media(app, stage["talent"]("Bina")[0], MediaKind.PORTFOLIO)
    someone_elses = client.post(path, json={"portfolio_ids": [stranger], "cover_note": "Hi",
                                            "answers": ["Yes", "Yes"]}, headers=me)
    assert someone_elses.json["details"]["fields"] == {"portfolio_ids": [f"Not portfolio images of this talent: "
                                                                         f"{stranger}."]}
    mine = add_media(app, talent_id, MediaKind.PORTFOLIO)
    body = {"portfolio_ids": [mine], "cover_note": "<i>Trained</i> in Kathak", "answers": ["Yes", "All of May"]}
    made = client.post(path, json=body, headers=me)
    assert made.status_code == 201, made.json
    submission = made.json
    assert (submission["status"], submission["cover_note"], submission["talent_id"]) == (
        "submitted", "Trained in Kathak", talent_id)
    assert submission["headshot"]["kind"] == "headshot" and [p["id"] for p in submission["portfolio"]] == [mine]
    assert "notes" not in submission and "match_score" not in submission
    twice = client.post(path, json=body, headers=me)
    assert (twice.status_code, twice.json["code"]) == (409, "CALL_008")
    listed = client.get("/api/calls/submissions", headers=me).json
    assert [(item["id"], item["status"], item["call"]["role_name"]) for item in listed["items"]] == [
        (submission["id"], "submitted", "Young Radha")]
    run_jobs(app)  # a call without a cap is counted by the submission's job
    assert client.get(f"/api/calls/{call['id']}", headers=me).json["submission_count"] == 1
    with app.app_context():
        told = db.session.scalars(select(Notification.template)).all()
    assert told == ["call_submission_received"]


def test_a_burst_of_submissions_is_one_drain_that_counts_scores_and_tells_each_once(app, client, stage):
    """Three submissions queue one drain, not a job each; it counts the call, scores each submission and
    tells each applicant. Run again over the same batch (a drain killed before it trimmed the list), it
    tells nobody twice, and it leaves nothing pending."""
    from casting.calls import tasks
    from casting.kernel.extensions import queue_redis
    from casting.kernel.jobs import get_queue

    call = stage["open_call"]()
    people = [stage["talent"](name)[1] for name in ("Asha", "Bina", "Chitra")]
    for headers in people:
        assert client.post(f"/api/calls/{call['id']}/submissions", json={}, headers=headers).status_code == 201
    with app.app_context():
        queued = [job.func_name for job in get_queue("default").jobs]
    assert queued.count("casting.calls.tasks.submissions_received") == 1
    run_jobs(app)
    assert client.get(f"/api/calls/{call['id']}", headers=stage["owner"]).json["submission_count"] == 3
    with app.app_context():
        submissions = db.session.scalars(select(Submission).order_by(Submission.id)).all()
        assert all(submission.match_score > 0 for submission in submissions)  # scored (0 until then)
        queue_redis.rpush(tasks.PENDING_KEY, *(submission.id for submission in submissions))
        tasks.submissions_received()
        told = db.session.scalars(select(Notification.template)).all()
        assert queue_redis.llen(tasks.PENDING_KEY) == 0
    assert told == ["call_submission_received"] * 3


def test_no_headshot_a_closed_call_a_full_call_and_who_may_apply(app, client, login, signed_in, stage):
    _, bare = stage["talent"]("Chitra", headshot=False)
    call = stage["open_call"](submission_cap=1)
    path = f"/api/calls/{call['id']}/submissions"
    no_headshot = client.post(path, json={}, headers=bare)
    assert no_headshot.json["details"]["fields"]["headshot_id"] == [
        "This call asks for a headshot: upload one to the profile first."]
    _, first = stage["talent"]("Asha")
    _, second = stage["talent"]("Bina")
    assert client.post(path, json={}, headers=first).status_code == 201
    full = client.post(path, json={}, headers=second)
    assert (full.status_code, full.json["code"], full.json["details"]) == (409, "CALL_004", {"submission_cap": 1})
    assert client.post(path, json={}, headers=stage["owner"]).json["code"] == "CALL_006"
    with app.app_context():
        db.session.execute(update(CastingCall).values(deadline=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
    late = client.post(path, json={}, headers=second)
    assert (late.status_code, late.json["code"], late.json["details"]["reason"]) == (409, "CALL_003", "deadline")


def _submit_at_once(app, call_id, people):
    """Each of `people` (their headers) submits to the call at the same instant: their (status, code)."""
    answers, start = [], threading.Barrier(len(people))

    def submit(headers):
        with app.app_context():
            caller = app.test_client()
            start.wait()
            made = caller.post(f"/api/calls/{call_id}/submissions", json={}, headers=headers)
            answers.append((made.status_code, made.json.get("code")))

    threads = [threading.Thread(target=submit, args=(headers,)) for headers in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_concurrent_submissions_never_pass_the_cap(app, client, stage):
    """Twelve talent submit to a call capped at three at the same instant: three are taken, the other nine
    hear 409 `CALL_004`, and the call counts three (its row is locked while the cap is checked)."""
    call = stage["open_call"](submission_cap=3)
    people = [stage["talent"](f"Crowd{number}")[1] for number in range(12)]
    answers = _submit_at_once(app, call["id"], people)
    assert sorted(answers) == [(201, None)] * 3 + [(409, "CALL_004")] * 9, answers
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Submission).where(Submission.call_id == call["id"]))
        counted = db.session.get(CastingCall, call["id"]).submission_count
    assert (stored, counted) == (3, 3)


def test_concurrent_submissions_to_a_call_without_a_cap_all_count(app, client, stage):
    """Without a cap the call's row is only share-locked: twelve at once are all taken, and the jobs that
    follow them leave the exact count."""
    call = stage["open_call"]()
    people = [stage["talent"](f"Many{number}")[1] for number in range(12)]
    assert _submit_at_once(app, call["id"], people) == [(201, None)] * 12
    run_jobs(app)
    assert client.get(f"/api/calls/{call['id']}", headers=stage["owner"]).json["submission_count"] == 12


def test_a_cap_set_later_counts_what_is_there_and_holds(app, client, stage):
    """Submissions to a call without a cap are counted by their jobs; a cap set before those ran counts
    the submissions itself, so the cap holds at once."""
    call = stage["open_call"]()
    path = f"/api/calls/{call['id']}/submissions"
    for name in ("Asha", "Bina"):
        assert client.post(path, json={}, headers=stage["talent"](name)[1]).status_code == 201
    capped = client.put(f"/api/calls/{call['id']}", json={"submission_cap": 3}, headers=stage["owner"])
    assert (capped.status_code, capped.json["submission_count"]) == (200, 2), capped.json
    assert client.post(path, json={}, headers=stage["talent"]("Chitra")[1]).status_code == 201
    full = client.post(path, json={}, headers=stage["talent"]("Devi")[1])
    assert (full.status_code, full.json["code"]) == (409, "CALL_004")
    run_jobs(app)  # the jobs of the first two leave a capped call's count alone
    assert client.get(f"/api/calls/{call['id']}", headers=stage["owner"]).json["submission_count"] == 3


def test_closing_a_call_waits_for_a_submission_in_flight(app, client, stage):
    """A submission in flight share-locks the call's row; closing locks it FOR UPDATE, so it waits for
    that submission to commit (and then tells it too), and the ones after it are turned away."""
    import psycopg

    call = stage["open_call"]()
    url = app.config["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    closed = []
    with psycopg.connect(url) as in_flight:
        in_flight.execute("SELECT id FROM casting_calls WHERE id = %s FOR KEY SHARE", [call["id"]])

        def close():
            with app.app_context():
                closed.append(app.test_client().put(f"/api/calls/{call['id']}", json={"status": "closed"},
                                                    headers=stage["owner"]).status_code)

        closing = threading.Thread(target=close)
        closing.start()
        closing.join(0.5)
        assert closed == []  # waiting for the submission in flight
        in_flight.commit()
    closing.join(10)
    assert closed == [200]
    late = client.post(f"/api/calls/{call['id']}/submissions", json={}, headers=stage["talent"]("Asha")[1])
    assert (late.status_code, late.json["code"]) == (409, "CALL_003")


def _statements(app, send):
    """(response, [(autocommit?, statement)]) of what `send()` sent to PostgreSQL."""
    seen = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        seen.append((conn.connection.dbapi_connection.autocommit, statement))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        return send(), seen
    finally:
        event.remove(engine, "before_cursor_execute", spy)


def test_a_submission_is_two_statements_without_a_transaction_around_them(app, client, stage):
    """The call with the talent and their media, then one statement that checks the call (open, before its
    deadline, under its cap) and counts and inserts the submission: each on its own, so the call's row is
    locked for that statement alone. Nothing is read again after it."""
    _, me = stage["talent"]("Asha")
    call = stage["open_call"](submission_cap=2)
    made, sent = _statements(app, lambda: client.post(f"/api/calls/{call['id']}/submissions", json={}, headers=me))
    assert made.status_code == 201, made.json
    assert [autocommit for autocommit, _ in sent] == [True] * 2
    assert "FOR UPDATE" in sent[-1][1] and "INSERT INTO call_submissions" in sent[-1][1]
    assert "UPDATE casting_calls SET submission_count=" in sent[-1][1]  # that alone
    assert client.get(f"/api/calls/{call['id']}", headers=me).json["submission_count"] == 1
    _, other = stage["talent"]("Bina")  # to a call without a cap: share-locked, not counted in the statement
    role = client.post(f"/api/productions/{stage['production']}/roles", headers=stage["owner"],
                       json={"name": "Dancer"}).json["id"]
    free = client.post("/api/calls/", headers=stage["owner"], json={"role_id": role, "deadline": soon()}).json
    made, sent = _statements(app, lambda: client.post(f"/api/calls/{free['id']}/submissions", json={}, headers=other))
    assert made.status_code == 201 and [autocommit for autocommit, _ in sent] == [True] * 2
    assert "FOR KEY SHARE" in sent[-1][1] and "UPDATE casting_calls" not in sent[-1][1]


def test_a_submission_leaves_the_orm_session_alone(app, client, stage):
    """Without an Idempotency-Key the two statements are Core statements on a pooled connection of their
    own: the session begins no transaction (no ORM loading, bookkeeping or commit for them), and the answer
    still carries the picked headshot and the call in brief."""
    _, me = stage["talent"]("Asha")
    call = stage["open_call"]()
    begun = []

    def began(session, transaction, connection):
        begun.append(connection)

    event.listen(Session, "after_begin", began)
    try:
        made = client.post(f"/api/calls/{call['id']}/submissions", json={}, headers=me)
    finally:
        event.remove(Session, "after_begin", began)
    assert made.status_code == 201, made.json
    assert begun == []
    assert made.json["headshot"]["kind"] == "headshot" and made.json["call"]["id"] == call["id"]
    assert made.json["call"]["is_open"] is True and made.json["status"] == "submitted"


def test_a_keyed_submission_commits_with_its_key_and_a_retry_gets_the_first_answer(app, client, stage):
    _, me = stage["talent"]("Asha")
    call = stage["open_call"](submission_cap=1)
    path = f"/api/calls/{call['id']}/submissions"
    keyed = {**me, "Idempotency-Key": "submission-1"}
    first, sent = _statements(app, lambda: client.post(path, json={}, headers=keyed))
    assert first.status_code == 201 and not any(autocommit for autocommit, _ in sent)  # one transaction
    assert any("INSERT INTO idempotency_keys" in statement for _, statement in sent)
    again = client.post(path, json={}, headers=keyed)
    assert (again.status_code, again.json, again.headers["Idempotent-Replayed"]) == (201, first.json, "true")
    _, other = stage["talent"]("Bina")
    full = client.post(path, json={}, headers={**other, "Idempotency-Key": "submission-2"})
    assert (full.status_code, full.json["code"]) == (409, "CALL_004")
    with app.app_context():
        keys = db.session.scalars(select(IdempotencyKey.key).order_by(IdempotencyKey.id)).all()
    assert keys == ["submission-1"]  # the refused one left none behind
    assert client.get(f"/api/calls/{call['id']}", headers=me).json["submission_count"] == 1


def test_a_cached_page_costs_only_the_sign_in_checks_redis_round_trip(app, client, stage):
    """Roles for me and the team's submission list, once cached: their versions and page come with the
    sign-in check's one script call; a write that moves a version is seen at once all the same."""
    _, me = stage["talent"]("Asha")
    call = stage["open_call"]()
    for path, viewer in (("/api/calls/for-me", me), (f"/api/calls/{call['id']}/submissions", stage["owner"])):
        first = client.get(path, headers=viewer)
        again, sent = redis_round_trips(app, lambda: client.get(path, headers=viewer))
        assert (again.status_code, again.json, sent) == (200, first.json, ["EVALSHA"])
    assert client.post(f"/api/calls/{call['id']}/submissions", json={}, headers=me).status_code == 201
    listed = client.get(f"/api/calls/{call['id']}/submissions", headers=stage["owner"]).json
    assert listed["meta"]["total"] == 1  # the submission moved the list's version
    assert client.get(f"/api/calls/{call['id']}/submissions", headers=me).status_code == 403  # not the owner's page


def test_roles_for_me_without_an_age_city_or_vector_keep_every_role_those_do_not_rule_out(client, stage, signed_in):
    """The hard requirements are bound values: a talent with no age, no city and no embedding is not held to
    a role's age or an optional city, is held to a required one, and sees no verified-only or agents-only call."""
    me, _ = signed_in("talent", "nila@example.in")
    assert client.post("/api/talents/", json={"stage_name": "Nila", "gender": "female"}, headers=me).status_code == 201
    anyone = stage["open_call"]()  # the stage's role: ages 20-28, in Mumbai (not required)
    for name, role, call in (("Local guide", {"city": "Pune", "city_required": True}, {}),
                             ("Verified lead", {}, {"eligibility": "verified"}),
                             ("Agency pick", {}, {"eligibility": "agents"})):
        role_id = client.post(f"/api/productions/{stage['production']}/roles", headers=stage["owner"],
                              json={"name": name, **role}).json["id"]
        assert client.post("/api/calls/", headers=stage["owner"],
                           json={"role_id": role_id, "deadline": soon(), **call}).status_code == 201
    page = client.get("/api/calls/for-me", headers=me).json
    assert [item["call"]["id"] for item in page["items"]] == [anyone["id"]] and page["meta"]["total"] == 1
    assert "the role is in Mumbai; you are based in an unknown city" in page["items"][0]["reasons"]


def test_roles_for_me_stay_cached_through_other_talents_edits_and_follow_your_own(app, client, stage):
    """Roles for me are kept under your own profile's columns they read: another talent's edit, or your own
    new day rate, leaves the cached page be (served from the sign-in check's round trip); your own edit of
    your languages shows in the next read."""
    asha_id, asha = stage["talent"]("Asha", languages=[])
    bina_id, bina = stage["talent"]("Bina")
    stage["open_call"]()
    first = client.get("/api/calls/for-me", headers=asha).json
    assert "the role needs Marathi, which you do not list" in first["items"][0]["reasons"]
    assert client.put(f"/api/talents/{bina_id}", json={"day_rate_inr": 9000}, headers=bina).status_code == 200
    again, sent = redis_round_trips(app, lambda: client.get("/api/calls/for-me", headers=asha))
    assert (again.json, sent) == (first, ["EVALSHA"])
    # your own edit of what roles for me do not read (a day rate, availability) keeps the page too
    assert client.put(f"/api/talents/{asha_id}", json={"day_rate_inr": 7000, "availability_status": "busy"},
                      headers=asha).status_code == 200
    again, sent = redis_round_trips(app, lambda: client.get("/api/calls/for-me", headers=asha))
    assert (again.json, sent) == (first, ["EVALSHA"])
    edited = client.put(f"/api/talents/{asha_id}", headers=asha,
                        json={"languages": [{"name": "Marathi", "proficiency": "native"}]})
    assert edited.status_code == 200
    after = client.get("/api/calls/for-me", headers=asha).json
    assert "you speak Marathi (native)" in after["items"][0]["reasons"]
    assert after["items"][0]["score"] > first["items"][0]["score"]


def test_concurrent_misses_of_one_page_run_the_view_once(app, client, stage, monkeypatch):
    """Six requests for the same page of roles for me at the same instant, all missing: one runs the view
    (slowed here, so they overlap), the others wait for it and serve the same bytes."""
    from casting.calls import services

    _, me = stage["talent"]("Asha")
    stage["open_call"]()
    ran = slowed(monkeypatch, services, "roles_for_me")
    bodies, start = [], threading.Barrier(6)

    def ask():
        with app.app_context():
            caller = app.test_client()
            start.wait()
            answer = caller.get("/api/calls/for-me", headers=me)
            bodies.append((answer.status_code, answer.get_data()))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(ran) == 1
    assert len(bodies) == 6 and {status for status, _ in bodies} == {200} and len({body for _, body in bodies}) == 1
    assert b"Young Radha" in bodies[0][1]


def test_a_cached_page_is_not_served_to_its_owner_once_suspended(app, client, stage):
    """The page the owner was served, cached under them, is refused the moment they are suspended."""
    call = stage["open_call"]()
    path = f"/api/calls/{call['id']}/submissions"
    for _ in range(2):
        assert client.get(path, headers=stage["owner"]).status_code == 200
    owner_id = client.get("/api/auth/me", headers=stage["owner"]).json["id"]
    with app.app_context():
        owner = db.session.get(User, owner_id)
        owner.suspended_at = datetime.now(timezone.utc)
        db.session.commit()
    refused = client.get(path, headers=stage["owner"])
    assert refused.status_code == 403, refused.json


def test_verified_only_and_agents_only_calls(app, client, signed_in, stage):
    _, me = stage["talent"]("Asha")
    verified = stage["open_call"](eligibility="verified")
    refused = client.post(f"/api/calls/{verified['id']}/submissions", json={}, headers=me)
    assert (refused.status_code, refused.json["code"], refused.json["details"]) == (
        403, "CALL_006", {"eligibility": "verified"})
    agent, agent_id = signed_in("agent", "agent@example.in")
    represented = client.post("/api/talents/", json=profile(stage_name="Devika"), headers=agent).json["id"]
    add_media(app, represented, MediaKind.HEADSHOT)
    role = client.post(f"/api/productions/{stage['production']}/roles", headers=stage["owner"],
                       json={"name": "Dancer"}).json["id"]
    agents_only = client.post("/api/calls/", headers=stage["owner"], json={
        "role_id": role, "deadline": soon(), "eligibility": "agents"}).json
    path = f"/api/calls/{agents_only['id']}/submissions"
    assert client.post(path, json={}, headers=me).json["details"] == {"eligibility": "agents"}
    assert client.post(path, json={}, headers=agent).json["details"]["fields"] == {
        "talent_id": ["Agents name the talent they submit."]}
    other_talent = client.get("/api/talents/", headers=me).json["items"]
    not_mine = next(t["id"] for t in other_talent if t["id"] != represented)
    assert client.post(path, json={"talent_id": not_mine}, headers=agent).json["code"] == "CALL_006"
    made = client.post(path, json={"talent_id": represented}, headers=agent)
    assert made.status_code == 201 and made.json["submitted_by"] == agent_id
    assert client.post(path, json={"talent_id": represented}, headers=agent).json["code"] == "CALL_008"


def test_a_talent_never_sees_anothers_submission_and_an_agent_only_their_talents(client, login, signed_in, stage):
    _, asha = stage["talent"]("Asha")
    _, bina = stage["talent"]("Bina")
    agent, _ = signed_in("agent", "agent@example.in")
    call = stage["open_call"]()
    mine = client.post(f"/api/calls/{call['id']}/submissions", json={}, headers=asha).json["id"]
    # the team's page is cached now: nobody else is answered from that cache
    assert client.get(f"/api/calls/{call['id']}/submissions", headers=stage["owner"]).json["meta"]["total"] == 1
    other_director = login("casting_director", "other@example.in")
    assert client.get(f"/api/calls/{call['id']}/submissions", headers=other_director).status_code == 403
    for stranger in (bina, agent, other_director):
        response = client.get(f"/api/calls/submissions/{mine}", headers=stranger)
        assert (response.status_code, response.json["code"]) == (404, "CALL_007")
        assert client.post(f"/api/calls/submissions/{mine}/withdraw", headers=stranger).status_code == 404
        assert client.post(f"/api/calls/submissions/{mine}/notes", json={"rating": 5},
                           headers=stranger).status_code == 404
    assert client.get("/api/calls/submissions", headers=bina).json["meta"]["total"] == 0
    assert client.get(f"/api/calls/{call['id']}/submissions", headers=asha).json["code"] == "AUTH_007"
    assert client.get(f"/api/calls/{call['id']}/submissions", headers=agent).status_code == 403
    seen = client.get(f"/api/calls/submissions/{mine}", headers=asha).json
    assert "notes" not in seen and seen["status"] == "submitted"
    assert client.post(f"/api/calls/submissions/{mine}/notes", json={"rating": 5}, headers=asha).status_code == 403


def test_withdraw_before_the_deadline_frees_the_place(app, client, stage):
    _, me = stage["talent"]("Asha")
    call = stage["open_call"](submission_cap=1)
    mine = client.post(f"/api/calls/{call['id']}/submissions", json={}, headers=me).json["id"]
    withdrawn = client.post(f"/api/calls/submissions/{mine}/withdraw", headers=me)
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "withdrawn"
    assert client.get(f"/api/calls/{call['id']}", headers=me).json["submission_count"] == 0
    again = client.post(f"/api/calls/submissions/{mine}/withdraw", headers=me)
    assert (again.status_code, again.json["code"]) == (409, "CALL_009")
    _, other = stage["talent"]("Bina")
    assert client.post(f"/api/calls/{call['id']}/submissions", json={}, headers=other).status_code == 201
    with app.app_context():
        db.session.execute(update(CastingCall).values(deadline=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
    theirs = client.get("/api/calls/submissions", headers=other).json["items"][0]["id"]
    late = client.post(f"/api/calls/submissions/{theirs}/withdraw", headers=other)
    assert (late.status_code, late.json["code"]) == (409, "CALL_003")


def test_review_filters_sorts_bulk_marks_notes_and_tells_once(app, client, stage):
    asha, asha_h = stage["talent"]("Asha")
    bina, bina_h = stage["talent"]("Bina", location={"city": "Pune"}, playing_age_min=35, playing_age_max=40,
                                   skills=["Acting", "Kathak"])
    chitra, chitra_h = stage["talent"]("Chitra")
    call = stage["open_call"]()
    path = f"/api/calls/{call['id']}/submissions"
    ids = {name: client.post(path, json={}, headers=h).json["id"]
           for name, h in (("asha", asha_h), ("bina", bina_h), ("chitra", chitra_h))}
    client.post(f"/api/calls/submissions/{ids['chitra']}/withdraw", headers=chitra_h)
    owner = stage["owner"]

    def listed(query=""):
        response = client.get(f"{path}?{query}", headers=owner)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    assert listed() == [ids["bina"], ids["asha"]]  # newest first, withdrawn left out
    run_jobs(app)  # the job after each submission stores its match score
    assert listed("city=pune") == [ids["bina"]]
    assert listed("age_min=20&age_max=28") == [ids["asha"]]
    assert listed("verified=true") == []
    assert listed("has_self_tape=true") == [] and listed("has_self_tape=false") == [ids["bina"], ids["asha"]]
    assert listed("status=withdrawn") == [ids["chitra"]]
    best = client.get(f"{path}?sort=-match_score", headers=owner).json["items"]
    assert [item["id"] for item in best] == [ids["asha"], ids["bina"]]  # Bina is outside the age range: 0
    assert best[0]["match_score"] > 0 == best[1]["match_score"] and best[0]["talent"]["stage_name"] == "Asha"
    assert client.get(f"{path}?sort=height", headers=owner).status_code == 422

    assert listed("status=shortlisted") == []  # cached now: the mark below must show at once
    marked = client.post(f"{path}/status", headers=owner, json={
        "submission_ids": [ids["asha"], ids["asha"], ids["chitra"], 999999], "status": "shortlisted"}).json
    assert marked == {"updated": 1, "skipped": [{"submission_id": ids["asha"], "reason": "duplicate"},
                                                {"submission_id": ids["chitra"], "reason": "not_allowed"},
                                                {"submission_id": 999999, "reason": "not_found"}]}
    assert listed("status=shortlisted") == [ids["asha"]]
    declined = client.post(f"{path}/status", headers=owner, json={"submission_ids": [ids["bina"]],
                                                                  "status": "declined"}).json
    assert declined["updated"] == 1
    back = client.post(f"{path}/status", headers=owner, json={"submission_ids": [ids["bina"]], "status": "viewed"})
    assert back.json["skipped"] == [{"submission_id": ids["bina"], "reason": "not_allowed"}]
    assert client.post(f"{path}/status", headers=owner, json={"submission_ids": [ids["asha"]],
                                                              "status": "withdrawn"}).status_code == 422
    note = client.post(f"/api/calls/submissions/{ids['asha']}/notes", headers=owner,
                       json={"body": "Strong <b>dancer</b>", "rating": 4})
    assert note.status_code == 201 and note.json["body"] == "Strong dancer"
    assert client.post(f"/api/calls/submissions/{ids['asha']}/notes", headers=owner, json={}).status_code == 422
    assert client.post(f"/api/calls/submissions/{ids['asha']}/notes", headers=owner,
                       json={"rating": 6}).status_code == 422
    reviewed = client.get(f"/api/calls/submissions/{ids['asha']}", headers=owner).json
    assert (reviewed["rating"], [n["body"] for n in reviewed["notes"]], reviewed["status"]) == (
        4, ["Strong dancer"], "shortlisted")
    applicant_view = client.get(f"/api/calls/submissions/{ids['asha']}", headers=asha_h).json
    assert "notes" not in applicant_view and "rating" not in applicant_view
    run_jobs(app)
    client.post(f"{path}/status", headers=owner, json={"submission_ids": [ids["asha"]], "status": "declined"})
    client.post(f"{path}/status", headers=owner, json={"submission_ids": [ids["asha"]], "status": "shortlisted"})
    run_jobs(app)
    with app.app_context():
        told = sorted(db.session.scalars(select(Notification.template).where(
            Notification.template.in_(["call_shortlisted", "call_declined"]))).all())
    assert told == ["call_declined", "call_declined", "call_shortlisted"]  # Bina's, Asha's, Asha's once


def test_invite_shortlisted_through_the_audition_bulk_invite(app, client, stage):
    asha, asha_h = stage["talent"]("Asha")
    bina, bina_h = stage["talent"]("Bina")
    call = stage["open_call"]()
    path = f"/api/calls/{call['id']}/submissions"
    first = client.post(path, json={}, headers=asha_h).json["id"]
    second = client.post(path, json={}, headers=bina_h).json["id"]
    client.post(f"{path}/status", headers=stage["owner"], json={"submission_ids": [first], "status": "shortlisted"})
    audition = client.post("/api/auditions/", headers=stage["owner"], json={
        "production_id": stage["production"], "role_id": stage["role"], "title": "Round one",
        "mode": "in_person"}).json["id"]
    invited = client.post(f"/api/calls/{call['id']}/invite", headers=stage["owner"],
                          json={"audition_id": audition, "submission_ids": [first, second]})
    assert invited.status_code == 202
    assert invited.json == {"invited": 1, "skipped": [{"submission_id": second, "talent_id": bina,
                                                       "reason": "not_shortlisted"}]}
    assert client.get(f"/api/calls/submissions/{first}", headers=asha_h).json["status"] == "invited"
    assert [i["id"] for i in client.get("/api/auditions/", headers=asha_h).json["items"]] == [audition]
    run_jobs(app)
    with app.app_context():
        assert db.session.scalars(select(Notification.template).where(
            Notification.template == "audition_invite")).all() == ["audition_invite"]
    elsewhere = client.post("/api/productions/", headers=stage["owner"], json={"title": "Ad", "type": "ad"}).json["id"]
    other = client.post("/api/auditions/", headers=stage["owner"], json={
        "production_id": elsewhere, "title": "x", "mode": "virtual"}).json["id"]
    wrong = client.post(f"/api/calls/{call['id']}/invite", headers=stage["owner"], json={"audition_id": other})
    assert (wrong.status_code, list(wrong.json["details"]["fields"])) == (422, ["audition_id"])


def test_closing_tells_everyone_still_waiting_once(app, client, stage):
    _, asha_h = stage["talent"]("Asha")
    _, bina_h = stage["talent"]("Bina")
    call = stage["open_call"]()
    path = f"/api/calls/{call['id']}/submissions"
    client.post(path, json={}, headers=asha_h)
    declined = client.post(path, json={}, headers=bina_h).json["id"]
    client.post(f"{path}/status", headers=stage["owner"], json={"submission_ids": [declined], "status": "declined"})
    closed = client.put(f"/api/calls/{call['id']}", json={"status": "closed"}, headers=stage["owner"])
    assert closed.json["status"] == "closed" and closed.json["is_open"] is False
    assert client.get("/api/calls/", headers=asha_h).json["meta"]["total"] == 0
    reopened = client.put(f"/api/calls/{call['id']}", json={"status": "open"}, headers=stage["owner"])
    assert reopened.json["is_open"] is True
    # the role is cast: its call closes again; the same people are not told twice
    client.put(f"/api/productions/{stage['production']}/roles/{stage['role']}", json={"status": "filled"},
               headers=stage["owner"])
    assert client.get(f"/api/calls/{call['id']}", headers=stage["owner"]).json["status"] == "closed"
    run_jobs(app)
    with app.app_context():
        told = db.session.scalars(select(Notification.params).where(Notification.template == "audition_closed")).all()
    assert [params["talent_name"] for params in told] == ["Asha"]


def test_the_sweep_closes_calls_past_their_deadline(app, client, stage):
    from casting.calls.tasks import close_calls_past_deadline

    _, me = stage["talent"]("Asha")
    call = stage["open_call"]()
    client.post(f"/api/calls/{call['id']}/submissions", json={}, headers=me)
    with app.app_context():
        db.session.execute(update(CastingCall).values(deadline=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
        assert close_calls_past_deadline() == 1
        assert close_calls_past_deadline() == 0
    assert client.get(f"/api/calls/{call['id']}", headers=me).json["status"] == "closed"
    run_jobs(app)
    with app.app_context():
        assert db.session.scalar(select(Notification.template).where(
            Notification.template == "audition_closed")) == "audition_closed"


def test_the_digest_is_opt_in_daily_and_unsubscribes(app, client, login, stage):
    from casting.calls.tasks import send_digests

    _, me = stage["talent"]("Asha")
    assert client.get("/api/calls/digest", headers=me).json == {"enabled": False, "channel": None,
                                                                "last_sent_at": None}
    assert client.put("/api/calls/digest", json={"enabled": True, "channel": "sms"}, headers=me).status_code == 422
    assert client.put("/api/calls/digest", json={"enabled": True}, headers=stage["owner"]).status_code == 403
    on = client.put("/api/calls/digest", json={"enabled": True, "channel": "email"}, headers=me).json
    assert on["enabled"] is True and on["channel"] == "email"
    stage["open_call"]()
    with app.app_context():
        assert send_digests() == 1
        assert send_digests() == 0  # at most one a day
        sent = db.session.scalars(select(Notification).where(Notification.template == "call_digest")).all()
        assert len(sent) == 1 and sent[0].channel.value == "email"
        assert sent[0].params["count"] == "1" and sent[0].params["roles"] == "Young Radha in Monsoon Wedding 2"
        link = sent[0].params["unsubscribe_url"]
    path = link[link.index("/api/"):]
    assert client.get(path[:-3] + "abc").status_code == 404
    assert client.get(path).status_code == 204
    assert client.get("/api/calls/digest", headers=me).json["enabled"] is False


def test_a_calls_routes_need_sign_in_and_unknown_ids_are_404(client, login):
    assert client.get("/api/calls/").status_code == 401
    me = login("talent")
    assert client.get("/api/calls/12345", headers=me).json["code"] == "CALL_001"
    assert client.get("/api/calls/submissions/12345", headers=me).json["code"] == "CALL_007"


def test_seeding_demo_calls_and_benchmark_calls(app, runner):
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0  # idempotent
    with app.app_context():
        calls = db.session.scalars(select(CastingCall).order_by(CastingCall.id)).all()
        seeded = [(call.role.name, call.submission_count) for call in calls]
        assert seeded == [("Young Radha", 2), ("Uncle Prakash", 1)]
    result = runner.invoke(args=["seed", "calls", "250", "--submissions", "3", "--represented", "3"])
    assert result.exit_code == 0 and "250 calls and 1 submissions" in result.output, result.output
    again = runner.invoke(args=["seed", "calls", "250", "--up-to"])
    assert "0 calls" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CastingCall)) == 252
        assert db.session.scalar(select(func.count()).where(CastingCall.status == "open")) == 252
