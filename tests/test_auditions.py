"""Auditions (CONTRACT §5): ownership, slots, bulk invites, RSVPs that never overbook, results and history."""
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, select, update

from casting.auditions.models import Audition, AuditionSlot
from casting.kernel.extensions import db
from casting.notifications.models import Notification
from tests.support import Statements, run_jobs
from tests.test_talents import profile


def instants(slots):
    return [datetime.fromisoformat(slot["start_at"]) for slot in slots]


WINDOW = {"start_at": "2026-12-05T10:00:00", "end_at": "2026-12-05T11:00:00", "slot_minutes": 15,
          "capacity_per_slot": 2}


@pytest.fixture
def stage(client, login):
    """A casting director's production and role, an audition for it, and a way to add talent who can sign in."""
    owner = login("casting_director")
    production = client.post("/api/productions/", headers=owner, json={
        "title": "Monsoon Wedding 2", "type": "film", "status": "casting"}).json["id"]
    role = client.post(f"/api/productions/{production}/roles", headers=owner, json={"name": "Radha"}).json["id"]
    audition = client.post("/api/auditions/", headers=owner, json={
        "production_id": production, "role_id": role, "title": "First round", "mode": "in_person",
        "location": {"city": "mumbai"}})
    assert audition.status_code == 201 and audition.json["status"] == "draft"

    def talent(name):
        headers = login("talent", f"{name.lower()}@example.in")
        return client.post("/api/talents/", json=profile(stage_name=name), headers=headers).json["id"], headers

    return {"owner": owner, "production": production, "audition": audition.json["id"], "talent": talent}


def test_only_the_production_owner_creates_and_runs_an_audition(client, login, stage):
    other, talent = login("casting_director", "other@example.in"), login("talent")
    body = {"production_id": stage["production"], "title": "x", "mode": "virtual"}
    assert client.post("/api/auditions/", json=body, headers=other).status_code == 403
    assert client.post("/api/auditions/", json=body, headers=talent).status_code == 403
    elsewhere = client.post("/api/productions/", headers=stage["owner"], json={"title": "Ad", "type": "ad"}).json["id"]
    wrong_role = client.post("/api/auditions/", headers=stage["owner"], json={
        **body, "production_id": elsewhere, "role_id": 1})
    assert wrong_role.json["code"] == "PRODUCTION_004"
    path = f"/api/auditions/{stage['audition']}"
    assert client.get(path, headers=other).json["code"] == "AUDITION_001"
    assert client.post(f"{path}/schedule", json=WINDOW, headers=other).status_code == 404
    edited = client.put(path, json={"instructions": "<i>Bring</i> a headshot"}, headers=stage["owner"]).json
    assert edited["instructions"] == "Bring a headshot" and edited["location"]["city"] == "Mumbai"
    refused = client.delete(f"/api/productions/{stage['production']}", headers=stage["owner"])
    assert (refused.status_code, refused.json["details"]) == (409, {"auditions": 1})


def test_schedule_cuts_slots_in_the_audition_time_zone(client, stage):
    path = f"/api/auditions/{stage['audition']}/schedule"
    scheduled = client.post(path, json=WINDOW, headers=stage["owner"]).json
    assert scheduled["status"] == "scheduled" and scheduled["scheduled_date"] == "2026-12-05"
    assert instants(scheduled["slots"]) == [datetime.fromisoformat(f"2026-12-05T10:{minute}:00+05:30")
                                            for minute in ("00", "15", "30", "45")]
    assert {(slot["capacity"], slot["booked"]) for slot in scheduled["slots"]} == {(2, 0)}
    london = client.post(path, json={**WINDOW, "end_at": "2026-12-05T10:30:00", "timezone": "Europe/London"},
                         headers=stage["owner"]).json
    assert instants(london["slots"]) == [datetime.fromisoformat("2026-12-05T10:00:00+00:00"),
                                         datetime.fromisoformat("2026-12-05T10:15:00+00:00")]
    for bad, field in (({"end_at": "2026-12-05T10:10:00"}, "end_at"), ({"timezone": "Mars/Olympus"}, "timezone"),
                       ({"slot_minutes": 1}, "slot_minutes")):
        response = client.post(path, json={**WINDOW, **bad}, headers=stage["owner"])
        assert response.status_code == 422 and field in response.json["details"]["fields"], bad


def test_bulk_invites_report_what_they_skip_and_message_after_answering(app, client, login, stage):
    first, _ = stage["talent"]("Asha")
    second, _ = stage["talent"]("Bina")
    gone, _ = stage["talent"]("Chitra")
    client.delete(f"/api/talents/{gone}", headers=login("admin"))
    path = f"/api/auditions/{stage['audition']}/invite"
    answer = client.post(path, json={"talent_ids": [first, second, 999, first, gone]}, headers=stage["owner"])
    assert answer.status_code == 202
    assert answer.json == {"invited": 2, "skipped": [{"talent_id": 999, "reason": "not_found"},
                                                     {"talent_id": first, "reason": "duplicate"},
                                                     {"talent_id": gone, "reason": "deleted"}]}
    again = client.post(path, json={"talent_ids": [first]}, headers=stage["owner"]).json
    assert again == {"invited": 0, "skipped": [{"talent_id": first, "reason": "already_invited"}]}
    assert client.post(path, json={"talent_ids": list(range(1, 502))}, headers=stage["owner"]).status_code == 422
    with app.app_context():
        assert db.session.scalar(select(Notification.id)) is None  # nothing was sent inside the request
    run_jobs(app)
    with app.app_context():
        sent = db.session.scalars(select(Notification)).all()
        assert sorted((n.template, n.channel.value) for n in sent) == [("audition_invite", "email")] * 2
        assert {n.params["talent_name"] for n in sent} == {"Asha", "Bina"}


def test_invited_talent_see_the_audition_and_answer_it(client, login, stage):
    talent_id, me = stage["talent"]("Asha")
    _, stranger = stage["talent"]("Bina")
    audition = stage["audition"]
    client.post(f"/api/auditions/{audition}/schedule", json=WINDOW, headers=stage["owner"])
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [talent_id]}, headers=stage["owner"])
    assert [item["id"] for item in client.get("/api/auditions/", headers=me).json["items"]] == [audition]
    assert client.get("/api/auditions/", headers=stranger).json["items"] == []  # the same select, another caller
    beyond = client.get("/api/auditions/?page=2&per_page=1", headers=me).json
    assert (beyond["items"], beyond["meta"]["total"], beyond["meta"]["total_pages"]) == ([], 1, 1)
    assert client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=stranger
                       ).status_code == 404
    accepted = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept", "note": "See you"},
                           headers=me).json
    assert accepted["status"] == "accepted" and instants([accepted["slot"]]) == [
        datetime.fromisoformat("2026-12-05T10:00:00+05:30")]
    assert [(h["from_status"], h["to_status"]) for h in accepted["history"]] == [
        (None, "invited"), ("invited", "accepted")]
    declined = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "decline"}, headers=me).json
    assert declined["slot"] is None
    slots = client.get(f"/api/auditions/{audition}", headers=stage["owner"]).json["slots"]
    assert sum(slot["booked"] for slot in slots) == 0
    later = slots[2]["id"]
    chosen = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept", "slot_id": later},
                         headers=me).json
    assert chosen["slot"]["id"] == later
    assert client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept", "slot_id": 99999},
                       headers=me).status_code == 422


def test_parallel_accepts_never_overbook_and_the_waitlist_fills_freed_places(app, client, stage):
    audition = stage["audition"]
    client.post(f"/api/auditions/{audition}/schedule", headers=stage["owner"],
                json={**WINDOW, "end_at": "2026-12-05T10:15:00", "capacity_per_slot": 1})
    people = [stage["talent"](f"T{number}") for number in range(6)]
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [t for t, _ in people]},
                headers=stage["owner"])
    answers, start = {}, threading.Barrier(len(people))

    def accept(talent_id, headers):
        with app.app_context():
            caller = app.test_client()
            start.wait()
            answers[talent_id] = caller.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"},
                                             headers=headers).json

    threads = [threading.Thread(target=accept, args=person) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    booked = [t for t, answer in answers.items() if answer["slot"]]
    waiting = sorted(answer["waitlist_position"] for answer in answers.values() if not answer["slot"])
    assert len(booked) == 1 and waiting == [1, 2, 3, 4, 5]
    with app.app_context():
        assert db.session.scalar(select(AuditionSlot.booked)) == 1
    holder = dict(people)[booked[0]]
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "decline"}, headers=holder)
    first_waiting = next(t for t, answer in answers.items() if answer["waitlist_position"] == 1)
    promoted = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "decline"},
                           headers=dict(people)[first_waiting]).json
    assert promoted["history"][-2]["to_status"] == "accepted"  # it held the freed slot until it declined


def test_results_follow_the_invitation_state_machine(client, stage):
    audition = stage["audition"]
    asha, asha_headers = stage["talent"]("Asha")
    bina, _ = stage["talent"]("Bina")
    client.post(f"/api/auditions/{audition}/schedule", json=WINDOW, headers=stage["owner"])
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [asha, bina]}, headers=stage["owner"])
    path = f"/api/auditions/{audition}/results"
    early = client.post(path, json={"talent_id": bina, "outcome": "selected"}, headers=stage["owner"])
    assert (early.status_code, early.json["code"], early.json["details"]["from"]) == (409, "AUDITION_002", "invited")
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=asha_headers)
    assert client.post(path, json={"talent_id": asha, "outcome": "callback"}, headers=asha_headers
                       ).status_code == 403
    done = client.post(path, headers=stage["owner"], json={"results": [
        {"talent_id": asha, "outcome": "callback", "rating": 4, "notes": "Strong dancer"}]}).json
    assert done[0]["status"] == "callback" and done[0]["history"][-1]["note"] == "Strong dancer"
    final = client.post(path, json={"talent_id": asha, "outcome": "selected"}, headers=stage["owner"]).json
    assert [h["to_status"] for h in final[0]["history"]] == ["invited", "accepted", "callback", "selected"]
    assert client.post(f"/api/auditions/{audition}/rsvp", json={"response": "decline"}, headers=asha_headers
                       ).status_code == 409
    assert client.post(path, json={"talent_id": 999, "outcome": "selected"}, headers=stage["owner"]
                       ).json["code"] == "AUDITION_003"
    for bad in ({"talent_id": asha, "outcome": "hired"}, {"talent_id": asha},
                {"talent_id": asha, "outcome": "selected", "rating": 6}):
        assert client.post(path, json=bad, headers=stage["owner"]).status_code == 422, bad


def test_whatsapp_button_replies_answer_the_invitation_of_that_phone_only(make_app):
    from casting.users.services import create_user
    from tests.test_webhooks import APP_SECRET, _signed_post

    app = make_app(WHATSAPP_APP_SECRET=APP_SECRET)
    client = app.test_client()
    with app.app_context():
        talent_user = create_user("Asha", "talent", password="monsoon-kathak-audition", email="asha@example.in",
                                  phone="+919876543210").id
        create_user("Dir", "casting_director", password="monsoon-kathak-audition", email="dir@example.in")

    def bearer(email):
        token = client.post("/api/auth/login", json={"identifier": email, "password": "monsoon-kathak-audition"})
        return {"Authorization": f"Bearer {token.json['access_token']}"}

    owner, me = bearer("dir@example.in"), bearer("asha@example.in")
    talent = client.post("/api/talents/", json=profile(), headers=me).json
    assert talent["user_id"] == talent_user
    production = client.post("/api/productions/", headers=owner, json={"title": "Ad", "type": "ad"}).json["id"]
    audition = client.post("/api/auditions/", headers=owner, json={
        "production_id": production, "title": "Round 1", "mode": "virtual"}).json["id"]
    client.post(f"/api/auditions/{audition}/schedule", json=WINDOW, headers=owner)
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [talent["id"]]}, headers=owner)
    invitation = client.post(f"/api/auditions/{audition}/results", headers=owner, json={
        "talent_id": talent["id"], "outcome": "selected"}).json  # refused: still invited
    assert invitation["code"] == "AUDITION_002"

    def press(sender, answer, message_id):
        message = {"from": sender, "id": message_id, "timestamp": "1795514400", "type": "button",
                   "button": {"payload": f"rsvp:1:{answer}", "text": answer.title()}}
        assert _signed_post(client, {"entry": [{"changes": [{"value": {"messages": [message]}}]}]}
                            ).status_code == 200
        run_jobs(app)
        return client.get(f"/api/auditions/{audition}", headers=owner).json["slots"]

    assert sum(slot["booked"] for slot in press("919999999999", "accept", "wamid.X1")) == 0  # someone else
    assert sum(slot["booked"] for slot in press("919876543210", "accept", "wamid.X2")) == 1
    assert sum(slot["booked"] for slot in press("919876543210", "decline", "wamid.X3")) == 0


def _window_from(start, minutes=15):
    return {"start_at": start.isoformat(), "end_at": (start + timedelta(minutes=minutes)).isoformat(),
            "slot_minutes": minutes, "capacity_per_slot": 1}


def test_reminders_are_planned_at_booking_and_dropped_with_the_slot(app, client, stage):
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    audition = stage["audition"]
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
    client.post(f"/api/auditions/{audition}/schedule", json=_window_from(start), headers=stage["owner"])
    talent_id, me = stage["talent"]("Asha")
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [talent_id]}, headers=stage["owner"])
    accepted = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=me).json
    with app.app_context():
        from casting.kernel.jobs import get_queue

        registry = ScheduledJobRegistry(queue=get_queue("default"))
        planned = {job_id: registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids()}
    base = f"audition-reminder-{accepted['id']}-{accepted['slot']['id']}"
    assert planned == {f"{base}-1440": start - timedelta(days=1), f"{base}-60": start - timedelta(hours=1)}
    with app.app_context():  # the day-before reminder falls due: the scheduler moves it into the queue
        queue = get_queue("default")
        due = queue.fetch_job(f"{base}-1440")
        registry.remove(due)
        queue.enqueue_job(due)
        assert f"{base}-1440" in queue.job_ids
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "decline"}, headers=me)
    with app.app_context():
        assert ScheduledJobRegistry(queue=get_queue("default")).get_job_ids() == []
        assert f"{base}-1440" not in get_queue("default").job_ids  # the due one is gone from the queue too
        assert not [job_id for job_id in planned if Job.exists(job_id, connection=queue.connection)]


@pytest.mark.solo
def test_a_due_reminder_goes_out_once_through_a_real_scheduler(app, client, stage):
    from rq import SimpleWorker

    from casting.auditions import reminders
    from casting.kernel.jobs import TracedJob, get_queue

    app.config["AUDITION_REMINDER_MINUTES"] = [60]
    audition = stage["audition"]
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=60, seconds=2)
    client.post(f"/api/auditions/{audition}/schedule", json=_window_from(start), headers=stage["owner"])
    talent_id, me = stage["talent"]("Asha")
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [talent_id]}, headers=stage["owner"])
    run_jobs(app)  # the invitation itself
    accepted = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=me).json
    time.sleep(3)

    def work_with_scheduler():
        with app.app_context():
            queues = [get_queue(name) for name in app.config["RQ_QUEUES"]]
            SimpleWorker(queues, connection=queues[0].connection, job_class=TracedJob).work(
                burst=True, with_scheduler=True)

    def reminders_sent():
        with app.app_context():
            return [n.params for n in db.session.scalars(select(Notification).where(
                Notification.template == "audition_reminder"))]

    work_with_scheduler()
    sent = reminders_sent()
    assert len(sent) == 1 and sent[0]["talent_name"] == "Asha" and sent[0]["venue"] == "Mumbai"
    with app.app_context():
        reminders.send_reminder(accepted["id"], accepted["slot"]["id"], 60)  # a second run sends nothing
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "decline"}, headers=me)
    with app.app_context():
        reminders.send_reminder(accepted["id"], accepted["slot"]["id"], 30)  # not their slot any more
    assert len(reminders_sent()) == 1


def _accepted(app, client, stage, name, start, minutes=15):
    """`name` invited and booked into the audition's slot at `start`: (invitation id, slot id)."""
    talent_id, me = stage["talent"](name)
    client.post(f"/api/auditions/{stage['audition']}/invite", json={"talent_ids": [talent_id]}, headers=stage["owner"])
    accepted = client.post(f"/api/auditions/{stage['audition']}/rsvp", json={"response": "accept"}, headers=me).json
    return accepted["id"], accepted["slot"]["id"]


def _move_slot(app, slot_id, start):
    with app.app_context():
        db.session.execute(update(AuditionSlot).where(AuditionSlot.id == slot_id).values(
            start_at=start, end_at=start + timedelta(minutes=15)))
        db.session.commit()


def _reminders_sent(app):
    with app.app_context():
        return sorted(db.session.scalars(select(Notification.idempotency_key).where(
            Notification.template == "audition_reminder")))


def test_a_late_reminder_never_goes_out_after_the_slot_starts_nor_two_at_once(app, client, stage):
    from casting.auditions import reminders

    now = datetime.now(timezone.utc).replace(microsecond=0)
    client.post(f"/api/auditions/{stage['audition']}/schedule", json=_window_from(now + timedelta(days=2)),
                headers=stage["owner"])
    invitation_id, slot_id = _accepted(app, client, stage, "Asha", now + timedelta(days=2))
    _move_slot(app, slot_id, now - timedelta(minutes=8))  # the jobs ran late (Redis or the scheduler was down)
    with app.app_context():
        reminders.send_reminder(invitation_id, slot_id, 60)
        reminders.send_reminder(invitation_id, slot_id, 1440)
    assert _reminders_sent(app) == []
    _move_slot(app, slot_id, now + timedelta(minutes=30))  # both are late: only the one-hour reminder is due
    with app.app_context():
        reminders.send_reminder(invitation_id, slot_id, 1440)
        reminders.send_reminder(invitation_id, slot_id, 60)
    assert _reminders_sent(app) == [f"reminder:{invitation_id}:{slot_id}:60"]


def test_the_sweep_rebuilds_the_reminders_redis_lost_from_postgresql(app, client, stage, runner, redis_client):
    from rq.registry import ScheduledJobRegistry

    from casting.kernel.jobs import get_queue

    now = datetime.now(timezone.utc).replace(microsecond=0)
    window = {**_window_from(now + timedelta(days=2)), "end_at": (now + timedelta(days=2, minutes=30)).isoformat()}
    client.post(f"/api/auditions/{stage['audition']}/schedule", json=window, headers=stage["owner"])
    later = _accepted(app, client, stage, "Asha", now + timedelta(days=2))
    soon = _accepted(app, client, stage, "Kabir", now + timedelta(days=2))
    _move_slot(app, soon[1], now + timedelta(minutes=30))
    redis_client.flushdb()  # Redis lost its data: every scheduled reminder with it
    result = runner.invoke(args=["jobs", "repair"])
    assert result.exit_code == 0, result.output
    assert "0 invitations messaged, 3 reminders planned or sent" in result.output
    with app.app_context():
        planned = set(ScheduledJobRegistry(queue=get_queue("default")).get_job_ids())
    assert planned == {f"audition-reminder-{later[0]}-{later[1]}-{minutes}" for minutes in (1440, 60)}
    assert _reminders_sent(app) == [f"reminder:{soon[0]}:{soon[1]}:60"]  # due now: sent, not scheduled
    again = runner.invoke(args=["jobs", "repair"])
    assert "0 invitations messaged, 0 reminders planned or sent" in again.output


def _events(body):
    from icalendar import Calendar

    return [component for component in Calendar.from_ical(body).walk() if component.name == "VEVENT"]


def test_calendar_files_and_subscription_feeds(client, login, stage):
    audition = stage["audition"]
    client.post(f"/api/auditions/{audition}/schedule", json=WINDOW, headers=stage["owner"])
    talent_id, me = stage["talent"]("Asha")
    _, stranger = stage["talent"]("Bina")
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [talent_id]}, headers=stage["owner"])
    path = f"/api/auditions/{audition}/calendar.ics"
    assert _events(client.get(path, headers=me).data) == []  # no slot yet
    slot = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=me).json["slot"]
    owner_file = client.get(path, headers=stage["owner"])
    assert owner_file.mimetype == "text/calendar" and len(_events(owner_file.data)) == 4
    mine = _events(client.get(path, headers=me).data)
    assert [str(event["uid"]) for event in mine] == [f"audition-{audition}-slot-{slot['id']}@casting"]
    assert mine[0].decoded("dtstart") == datetime.fromisoformat(slot["start_at"])
    assert client.get(path, headers=stranger).status_code == 404
    first_sequence = int(mine[0]["sequence"])
    time.sleep(1)
    client.put(f"/api/auditions/{audition}", json={"instructions": "Room 2 now"}, headers=stage["owner"])
    again = _events(client.get(path, headers=me).data)[0]
    assert str(again["uid"]) == str(mine[0]["uid"]) and int(again["sequence"]) > first_sequence
    assert str(again["description"]) == "Room 2 now"
    feed = client.post("/api/calendar/feeds", headers=me).json
    feed_path = urlsplit(feed["url"]).path
    assert [str(event["uid"]) for event in _events(client.get(feed_path).data)] == [str(mine[0]["uid"])]
    owner_feed = client.post("/api/calendar/feeds", headers=stage["owner"]).json
    assert len(_events(client.get(urlsplit(owner_feed["url"]).path).data)) == 4
    assert client.delete(f"/api/calendar/feeds/{feed['id']}", headers=stranger).status_code == 404
    assert client.delete(f"/api/calendar/feeds/{feed['id']}", headers=me).status_code == 204
    assert client.get(feed_path).status_code == 404


def _sent(app, template):
    with app.app_context():
        return sorted(n.params["talent_name"] for n in db.session.scalars(
            select(Notification).where(Notification.template == template)))


def test_when_the_role_is_cast_everyone_still_waiting_hears_it_once(app, client, stage):
    audition = stage["audition"]
    client.post(f"/api/auditions/{audition}/schedule", json=WINDOW, headers=stage["owner"])
    people = {name: stage["talent"](name) for name in ("Asha", "Bina", "Chitra", "Devi")}
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [t for t, _ in people.values()]},
                headers=stage["owner"])
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=people["Asha"][1])
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=people["Devi"][1])
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "decline"}, headers=people["Chitra"][1])
    client.post(f"/api/auditions/{audition}/results", json={"talent_id": people["Devi"][0], "outcome": "selected"},
                headers=stage["owner"])
    role = client.get(f"/api/auditions/{audition}", headers=stage["owner"]).json["role_id"]
    client.put(f"/api/productions/{stage['production']}/roles/{role}", json={"status": "filled"},
               headers=stage["owner"])
    run_jobs(app)
    assert _sent(app, "audition_closed") == ["Asha", "Bina"]  # not who declined, not who was selected
    client.put(f"/api/auditions/{audition}", json={"status": "cancelled"}, headers=stage["owner"])
    run_jobs(app)
    assert _sent(app, "audition_closed") == ["Asha", "Bina"]  # told once, however many closings


def test_a_reschedule_tells_whoever_lost_their_slot(app, client, stage):
    audition = stage["audition"]
    client.post(f"/api/auditions/{audition}/schedule", headers=stage["owner"],
                json={**WINDOW, "end_at": "2026-12-05T10:30:00", "capacity_per_slot": 1})
    (asha, asha_headers), (bina, bina_headers) = stage["talent"]("Asha"), stage["talent"]("Bina")
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [asha, bina]}, headers=stage["owner"])
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=asha_headers)  # 10:00
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=bina_headers)  # 10:15
    moved = client.post(f"/api/auditions/{audition}/schedule", headers=stage["owner"], json={
        **WINDOW, "start_at": "2026-12-05T10:15:00", "end_at": "2026-12-05T10:45:00", "capacity_per_slot": 1}).json
    assert [slot["booked"] for slot in moved["slots"]] == [1, 1]  # Bina kept 10:15; Asha was moved to 10:30
    run_jobs(app)
    assert _sent(app, "audition_moved") == ["Asha"]


def test_a_reschedule_request_reaches_the_casting_team(app, client, stage):
    audition = stage["audition"]
    client.post(f"/api/auditions/{audition}/schedule", json=WINDOW, headers=stage["owner"])
    talent_id, me = stage["talent"]("Asha")
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [talent_id]}, headers=stage["owner"])
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=me)
    asked = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "reschedule", "note": "Exam that day"},
                        headers=me).json
    assert (asked["status"], asked["slot"], asked["history"][-1]["note"]) == (
        "reschedule_requested", None, "Exam that day")
    run_jobs(app)
    with app.app_context():
        told = db.session.scalars(select(Notification).where(Notification.template == "reschedule_requested")).all()
        assert [(n.params["talent_name"], n.recipient) for n in told] == [("Asha", "casting_director@example.in")]


@pytest.mark.parametrize("steps", [
    [("rsvp", "accept", 200), ("rsvp", "decline", 200), ("rsvp", "accept", 200)],
    [("rsvp", "reschedule", 200), ("rsvp", "accept", 200), ("rsvp", "reschedule", 200), ("rsvp", "decline", 200)],
    [("rsvp", "decline", 200), ("rsvp", "reschedule", 409)],
    [("rsvp", "accept", 200), ("result", "no_show", 200), ("result", "selected", 409), ("rsvp", "accept", 409)],
    [("rsvp", "accept", 200), ("result", "shortlisted", 200), ("result", "callback", 200),
     ("result", "rejected", 200), ("result", "selected", 409)],
    [("rsvp", "accept", 200), ("result", "shortlisted", 200), ("result", "selected", 200),
     ("rsvp", "decline", 409)],
    [("rsvp", "accept", 200), ("result", "rejected", 200), ("result", "callback", 409)],
    [("result", "no_show", 409), ("rsvp", "accept", 200), ("result", "callback", 200), ("result", "shortlisted", 409)],
])
def test_every_invitation_move_is_allowed_or_refused_as_the_table_says(client, stage, steps):
    audition = stage["audition"]
    client.post(f"/api/auditions/{audition}/schedule", json=WINDOW, headers=stage["owner"])
    talent_id, me = stage["talent"]("Asha")
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [talent_id]}, headers=stage["owner"])
    moved = ["invited"]
    for kind, what, expected in steps:
        if kind == "rsvp":
            response = client.post(f"/api/auditions/{audition}/rsvp", json={"response": what}, headers=me)
        else:
            response = client.post(f"/api/auditions/{audition}/results", headers=stage["owner"],
                                   json={"talent_id": talent_id, "outcome": what})
        assert response.status_code == expected, (kind, what, response.json)
        if expected == 200:
            body = response.json if kind == "rsvp" else response.json[0]
            moved.append(body["status"])
            assert [event["to_status"] for event in body["history"]] == moved


def test_the_same_answer_twice_changes_nothing_and_moving_to_a_full_slot_keeps_yours(app, client, stage):
    audition = stage["audition"]
    slots = client.post(f"/api/auditions/{audition}/schedule", headers=stage["owner"],
                        json={**WINDOW, "end_at": "2026-12-05T10:30:00", "capacity_per_slot": 1}).json["slots"]
    (asha, asha_headers), (bina, bina_headers) = stage["talent"]("Asha"), stage["talent"]("Bina")
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [asha, bina]}, headers=stage["owner"])
    first = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=asha_headers).json
    sent = []
    with app.app_context():
        engine = db.engine
    listen = lambda conn, cursor, statement, *rest: sent.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        twice = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=asha_headers).json
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert twice == first and len(twice["history"]) == 2
    # answered from the invitation as read: no lock taken, nothing written
    assert not any("FOR UPDATE" in statement or statement.lstrip().startswith(("UPDATE", "INSERT"))
                   for statement in sent), sent
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=bina_headers)
    full = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept", "slot_id": slots[1]["id"]},
                       headers=asha_headers)
    assert (full.status_code, full.json["code"]) == (409, "AUDITION_004")
    kept = client.get(f"/api/auditions/{audition}", headers=stage["owner"]).json["slots"]
    assert [slot["booked"] for slot in kept] == [1, 1]
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "decline"}, headers=bina_headers)
    moved = client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept", "slot_id": slots[1]["id"]},
                        headers=asha_headers).json
    assert moved["slot"]["id"] == slots[1]["id"] and moved["history"] == first["history"]


def test_the_list_and_an_audition_write_each_audition_as_the_schema_does(app, client, login, stage):
    """The list and the audition route read plain rows and write them without the schema; they must say what the
    schema says of the stored audition."""
    from casting.auditions.schemas import AuditionSchema

    owner = stage["owner"]
    client.post(f"/api/auditions/{stage['audition']}/schedule", json=WINDOW, headers=owner)
    bare = client.post("/api/auditions/", headers=owner, json={
        "production_id": stage["production"], "title": "Self-tape round", "mode": "self_tape"}).json["id"]
    client.put(f"/api/auditions/{stage['audition']}", headers=owner, json={
        "location": {"city": "pune", "state": "Maharashtra"}, "meeting_url": "https://meet.example.in/x",
        "duration_minutes": 20})
    odd = client.post("/api/auditions/", headers=owner, json={  # slots at odd seconds and microseconds
        "production_id": stage["production"], "title": "Callbacks", "mode": "in_person"}).json["id"]
    assert client.post(f"/api/auditions/{odd}/schedule", headers=owner, json={
        **WINDOW, "start_at": "2026-12-06T09:30:15.250000", "end_at": "2026-12-06T10:00:15.250000"}).status_code == 200
    listed = client.get("/api/auditions/", headers=owner).json["items"]
    assert [item["id"] for item in listed] == [odd, bare, stage["audition"]]
    with app.app_context():
        assert listed == [AuditionSchema().dump(db.session.get(Audition, item["id"])) for item in listed]
    assert listed == [client.get(f"/api/auditions/{item['id']}", headers=owner).json for item in listed]
    with app.app_context():
        statements = Statements(db.engine)
    with statements:
        assert client.get(f"/api/auditions/{odd}", headers=owner).status_code == 200
    assert statements.count == 1  # the audition, its slots and whether the caller sees it
    assert len(listed[2]["slots"]) == 4 and listed[1]["slots"] == [] and listed[1]["location"] is None
    assert [slot["start_at"][11:] for slot in listed[0]["slots"]] == ["04:00:15.250000+00:00", "04:15:15.250000+00:00"]
    everyone = client.get("/api/auditions/?per_page=2", headers=login("admin")).json  # counted on its own
    assert (everyone["items"], everyone["meta"]["total"]) == (listed[:2], 3)


def test_a_meeting_url_holds_only_what_rfc_3986_lets_a_uri_hold(client, stage):
    """`format: uri` in the document: a brace, a bracket, a space, a non-ASCII letter or a stray `%` is refused."""
    owner, audition = stage["owner"], stage["audition"]
    for bad in ("https://meet.example.in/r?x=}", "https://meet.example.in/r?x=[1]", "https://meet.example.in/a b",
                "https://meet.example.in/sé", "https://meet.example.in/%zz"):
        refused = client.put(f"/api/auditions/{audition}", headers=owner, json={"meeting_url": bad})
        assert refused.status_code == 422 and "meeting_url" in refused.json["details"]["fields"], bad
    kept = client.put(f"/api/auditions/{audition}", headers=owner,
                      json={"meeting_url": "https://meet.example.in/r/7?who=Asha%20Rao&at=10:30#room"})
    assert kept.status_code == 200 and kept.json["meeting_url"].endswith("%20Rao&at=10:30#room")


def test_a_bulk_invite_costs_the_same_statements_for_3_talent_as_for_60(app, client, stage, monkeypatch):
    from sqlalchemy import event

    from casting.kernel import throttle
    from casting.talents.models import Talent

    with app.app_context():
        made = [Talent(stage_name=f"Talent {number}") for number in range(63)]
        for talent in made:
            talent.refresh_derived()
        db.session.add_all(made)
        db.session.commit()
        ids = [talent.id for talent in made]
    statements = []
    monkeypatch.setattr(throttle, "hit", None)  # the senders' caps are counted in one pipelined call

    def invite(talent_ids):
        statements.clear()
        response = client.post(f"/api/auditions/{stage['audition']}/invite", json={"talent_ids": talent_ids},
                               headers=stage["owner"])
        assert response.status_code == 202 and response.json["invited"] == len(talent_ids)
        return len(statements)

    def listen(*args):
        statements.append(args[2])

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", listen)
    try:
        few, many = invite(ids[:3]), invite(ids[3:])
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", listen)
    assert few == many <= 10, (few, many)


def test_seed_auditions_loads_slots_invitations_and_history_and_tops_up(app, runner):
    from sqlalchemy import func

    from casting.auditions.models import Audition, Invitation, InvitationEvent

    refused = runner.invoke(args=["seed", "auditions", "20"])
    assert refused.exit_code != 0 and "flask seed demo" in refused.output
    runner.invoke(args=["seed", "demo"])
    runner.invoke(args=["seed", "talents", "40"])
    assert "20 auditions loaded" in runner.invoke(args=["seed", "auditions", "20", "--invites", "5"]).output
    assert "0 auditions loaded" in runner.invoke(args=["seed", "auditions", "20", "--up-to"]).output
    with app.app_context():
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert count(Audition) == 20 and count(AuditionSlot) == 20 * 12
        assert count(Invitation) == count(InvitationEvent) >= 20 * 5
        assert db.session.scalar(select(func.count()).where(Audition.scheduled_date.is_(None))) == 0
    admin = {"identifier": "admin1@demo.casting.in", "password": "Demo@Casting2026"}
    client = app.test_client()
    token = client.post("/api/auth/login", json=admin).json["access_token"]
    listed = client.get("/api/auditions/?sort=scheduled_date", headers={"Authorization": f"Bearer {token}"}).json
    days = [item["scheduled_date"] for item in listed["items"]]
    assert listed["meta"]["total"] == 20 and days == sorted(days) and len(listed["items"][0]["slots"]) == 12
