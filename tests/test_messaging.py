"""Messaging over REST (CONTRACT §6): conversations, history, receipts, attachments, offline notice."""
import io
import logging
import threading
import time
import uuid

import psycopg
import pytest
from PIL import Image
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from casting.kernel.extensions import db
from casting.messaging import services
from casting.messaging.models import Message
from casting.messaging.schemas import MessageSchema
from casting.notifications.models import Notification
from casting.kernel.pii import encrypt
from tests.support import run_jobs
from tests.test_talent_media import image_bytes

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >>"
       b" endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


@pytest.fixture(autouse=True)
def media_root(app, tmp_path):
    app.config["MEDIA_ROOT"] = str(tmp_path / "media")


@pytest.fixture
def people(signed_in):
    """A casting director, two talents and an outsider: each (headers, user id)."""
    return {"cd": signed_in("casting_director", "cd@example.in"), "asha": signed_in("talent", "asha@example.in"),
            "ravi": signed_in("talent", "ravi@example.in"), "outsider": signed_in("talent", "out@example.in")}


def start(client, who, *others, **extra):
    return client.post("/api/conversations", headers=who[0], json={"participant_ids": [o[1] for o in others], **extra})


def send(client, who, conversation_id, body="Namaste", client_id=None, **extra):
    return client.post(f"/api/conversations/{conversation_id}/messages", headers=who[0],
                       json={"body": body, "client_id": client_id or uuid.uuid4().hex, **extra})


def test_two_people_share_one_conversation_and_groups_are_new_each_time(client, people):
    cd, asha, ravi = people["cd"], people["asha"], people["ravi"]
    first = start(client, cd, asha)
    assert first.status_code == 201, first.json
    assert {p["id"] for p in first.json["participants"]} == {cd[1], asha[1]} and not first.json["is_group"]
    again = start(client, asha, cd)
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    group = start(client, cd, asha, ravi)
    assert group.status_code == 201 and group.json["is_group"] and group.json["id"] != first.json["id"]
    assert start(client, cd, asha, ravi).json["id"] != group.json["id"]
    listed = client.get("/api/conversations", headers=asha[0]).json
    assert listed["meta"]["total"] == 3 and {c["id"] for c in listed["items"]} >= {first.json["id"]}


@pytest.mark.parametrize("body, field", [
    ({"participant_ids": []}, "participant_ids"),
    ({"participant_ids": ["x"]}, "participant_ids.0"),
    ({}, "participant_ids"),
])
def test_bad_conversation_requests_are_422(client, people, body, field):
    response = client.post("/api/conversations", headers=people["cd"][0], json=body)
    assert response.status_code == 422 and field in response.json["details"]["fields"]


def test_only_yourself_or_unknown_people_are_refused(client, people):
    cd = people["cd"]
    alone = start(client, cd, cd)
    assert alone.status_code == 422 and "participant_ids" in alone.json["details"]["fields"]
    unknown = client.post("/api/conversations", headers=cd[0], json={"participant_ids": [999999]})
    assert unknown.status_code == 422 and "999999" in unknown.json["details"]["fields"]["participant_ids"][0]
    assert client.post("/api/conversations", json={"participant_ids": [people["asha"][1]]}).status_code == 401


def test_an_audition_conversation_needs_the_audition_to_be_yours(client, people):
    response = start(client, people["cd"], people["asha"], audition_id=424242)
    assert response.status_code == 404 and response.json["code"] == "AUDITION_001"


def test_outsiders_can_neither_read_nor_send_nor_mark_read(client, people):
    cd, asha, outsider = people["cd"], people["asha"], people["outsider"]
    conversation_id = start(client, cd, asha).json["id"]
    message_id = send(client, cd, conversation_id).json["id"]
    for response in (client.get(f"/api/conversations/{conversation_id}", headers=outsider[0]),
                     client.get(f"/api/conversations/{conversation_id}/messages", headers=outsider[0]),
                     send(client, outsider, conversation_id),
                     client.post(f"/api/conversations/{conversation_id}/read", headers=outsider[0],
                                 json={"message_id": message_id})):
        assert response.status_code == 404 and response.json["code"] == "MESSAGE_001"
    assert client.get("/api/conversations", headers=outsider[0]).json["items"] == []


def test_a_repeated_client_id_returns_the_first_message(client, people, app):
    cd, asha = people["cd"], people["asha"]
    conversation_id = start(client, cd, asha).json["id"]
    first = send(client, cd, conversation_id, "Are you free on Friday?", client_id="c-1")
    again = send(client, cd, conversation_id, "something else", client_id="c-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json and first.json["body"] == "Are you free on Friday?"
    assert send(client, asha, conversation_id, "Yes!", client_id="c-1").status_code == 201  # ids are per sender
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Message.id))) == 2


def test_a_conversation_s_messages_are_published_in_the_order_of_their_ids(app, people, monkeypatch):
    """A send whose publish is slow holds back the next send of its conversation in this process, so no
    socket is told of message n+1 before message n (a reconnecting client catches up after the last id
    it saw)."""
    cd, asha = people["cd"], people["asha"]
    conversation_id = start(app.test_client(), cd, asha).json["id"]
    published, first_publishing, publish = [], threading.Event(), services.publish

    def slow_first(sent, skip_sid=None):
        if not first_publishing.is_set():
            first_publishing.set()
            time.sleep(0.5)
        publish(sent, skip_sid)
        published.append(sent.message["id"])

    monkeypatch.setattr(services, "publish", slow_first)
    answers = []
    sends = [threading.Thread(target=lambda body=body: answers.append(
        send(app.test_client(), cd, conversation_id, body).status_code)) for body in ("first", "second")]
    sends[0].start()
    assert first_publishing.wait(10)
    sends[1].start()
    for thread in sends:
        thread.join(10)
    assert answers == [201, 201] and len(published) == 2
    assert published == sorted(published)


def test_free_text_is_sanitised_and_an_empty_message_is_refused(client, people):
    cd, asha = people["cd"], people["asha"]
    conversation_id = start(client, cd, asha).json["id"]
    sent = send(client, cd, conversation_id, "<script>alert(1)</script>Callback <b>Friday</b> 11am")
    assert sent.json["body"] == "Callback Friday 11am"
    for body in ("", "<script>x</script>", None):
        refused = send(client, cd, conversation_id, body)
        assert refused.status_code == 422 and "body" in refused.json["details"]["fields"]
    assert send(client, cd, conversation_id, "x" * 4001).status_code == 422


def test_history_pages_backwards_by_cursor_newest_first(client, people):
    cd, asha = people["cd"], people["asha"]
    conversation_id = start(client, cd, asha).json["id"]
    sent = [send(client, cd if n % 2 else asha, conversation_id, f"line {n}").json["id"] for n in range(45)]
    seen, cursor = [], None
    while True:
        page = client.get(f"/api/conversations/{conversation_id}/messages", headers=asha[0],
                          query_string={"limit": 20, **({"before": cursor} if cursor else {})}).json
        seen += [message["id"] for message in page["items"]]
        cursor = page["meta"]["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(sent, reverse=True)
    bad = client.get(f"/api/conversations/{conversation_id}/messages", headers=asha[0],
                     query_string={"before": "abc"})
    assert bad.status_code == 422 and "before" in bad.json["details"]["fields"]


def _examined(plan):
    """Rows a plan's scan touched, and whether it sorted or skipped rows to get there."""
    scan = plan["Plans"][0]
    assert plan["Node Type"] == "Limit" and scan["Node Type"] == "Index Scan" and scan["Scan Direction"] == "Backward"
    return scan["Actual Rows"] + scan.get("Rows Removed by Filter", 0)


def test_a_deep_history_page_costs_what_the_newest_page_costs(client, people, app):
    """Constant time at any depth: an index range scan from the cursor, never a sort or an offset."""
    conversation_id = start(client, people["cd"], people["asha"]).json["id"]
    with app.app_context():
        others = db.session.scalars(text(
            "INSERT INTO conversations (created_by) SELECT :s FROM generate_series(1, 400) RETURNING id"),
            {"s": people["cd"][1]}).all()
        # 2,000 messages here, among 198,000 in 400 other conversations: one in a hundred, so walking the
        # primary key instead would cost a hundred times a page (the planner weighs the two plans by that)
        db.session.execute(text(
            "INSERT INTO messages (conversation_id, sender_id, body, client_id) "
            "SELECT CASE WHEN n % 100 = 0 THEN :c ELSE (:others)[1 + n % 400] END, :s, :body, 'bulk-' || n "
            "FROM generate_series(1, 200000) AS n"),
            {"c": conversation_id, "others": others, "s": people["cd"][1], "body": encrypt("See you at the studio")})
        db.session.execute(text("ANALYZE messages"))
        db.session.commit()
        newest, deep = (db.session.scalar(text(
            "SELECT id FROM messages WHERE conversation_id = :c ORDER BY id DESC OFFSET :n LIMIT 1"),
            {"c": conversation_id, "n": back}) for back in (0, 1500))
        examined = [_examined(db.session.scalar(text(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM messages WHERE conversation_id = :c AND id < :before "
            "ORDER BY id DESC LIMIT 31"), {"c": conversation_id, "before": before})[0]["Plan"])
            for before in (newest, deep)]
    assert examined[1] <= examined[0] * 1.5 + 100 and examined[1] < 3000
    page = client.get(f"/api/conversations/{conversation_id}/messages", headers=people["asha"][0],
                      query_string={"before": str(deep), "limit": 30}).json
    assert [m["id"] for m in page["items"]] == list(range(deep - 100, deep - 3100, -100))
    assert page["items"][0]["body"] == "See you at the studio"


def test_bodies_are_encrypted_at_rest_and_survive_key_rotation(client, people, app, make_app, server_urls):
    conversation_id = start(client, people["cd"], people["asha"]).json["id"]
    send(client, people["cd"], conversation_id, "Your callback is at Film City, gate 2")
    url = make_url(server_urls["database"]).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        stored = conn.execute("SELECT body FROM messages").fetchone()[0]
    assert "Film City" not in stored and stored.startswith("gAAAA")
    from cryptography.fernet import Fernet

    rotated = make_app(PII_KEYS=[Fernet.generate_key().decode(), *app.config["PII_KEYS"]])
    assert rotated.test_cli_runner().invoke(args=["keys", "rotate-pii"]).exit_code == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT body FROM messages").fetchone()[0] != stored
    history = rotated.test_client().get(f"/api/conversations/{conversation_id}/messages", headers=people["asha"][0])
    assert history.json["items"][0]["body"] == "Your callback is at Film City, gate 2"


def test_reading_marks_everything_up_to_a_message_and_never_moves_back(client, people):
    cd, asha, ravi = people["cd"], people["asha"], people["ravi"]
    conversation_id = start(client, cd, asha, ravi).json["id"]
    ids = [send(client, cd, conversation_id, f"note {n}").json["id"] for n in range(3)]
    mine = send(client, asha, conversation_id, "Thank you").json["id"]
    listed = {c["id"]: c for c in client.get("/api/conversations", headers=asha[0]).json["items"]}
    assert listed[conversation_id]["unread_count"] == 3 and listed[conversation_id]["last_message"]["id"] == mine
    read = client.post(f"/api/conversations/{conversation_id}/read", headers=asha[0], json={"message_id": ids[1]})
    assert read.status_code == 200 and read.json["message_id"] == ids[1] and read.json["user_id"] == asha[1]
    page = client.get(f"/api/conversations/{conversation_id}/messages", headers=cd[0]).json
    history = {m["id"]: m for m in page["items"]}
    assert [r["user_id"] for r in history[ids[0]]["read_by"]] == [asha[1]]
    assert [r["user_id"] for r in history[ids[1]]["read_by"]] == [asha[1]]
    assert history[ids[2]]["read_by"] == [] and history[mine]["read_by"] == []
    back = client.post(f"/api/conversations/{conversation_id}/read", headers=asha[0], json={"message_id": ids[0]})
    assert back.json["message_id"] == ids[1] and back.json["read_at"] == read.json["read_at"]
    other = start(client, cd, ravi).json["id"]
    stray = send(client, cd, other).json["id"]
    wrong = client.post(f"/api/conversations/{conversation_id}/read", headers=asha[0], json={"message_id": stray})
    assert wrong.status_code == 404 and wrong.json["code"] == "MESSAGE_002"
    listed = {c["id"]: c for c in client.get("/api/conversations", headers=asha[0]).json["items"]}
    assert listed[conversation_id]["unread_count"] == 1


def test_the_conversation_list_and_the_history_show_a_message_as_the_schema_does(app, client, people):
    cd, asha, ravi = people["cd"], people["asha"], people["ravi"]
    quiet = start(client, cd, ravi).json["id"]
    conversation_id = start(client, cd, asha, ravi).json["id"]
    send(client, asha, conversation_id, "Namaste")
    photo = upload(client, cd, image_bytes(), "look.jpg", "image/jpeg").json
    last = send(client, cd, conversation_id, "Pay the registration fee of Rs 2000 to confirm your slot",
                attachment_ids=[photo["id"]]).json
    assert client.post(f"/api/conversations/{conversation_id}/read", headers=asha[0],
                       json={"message_id": last["id"]}).status_code == 200
    with app.app_context():  # a time PostgreSQL's JSON writes unlike Python's isoformat (".5" for ".500000")
        db.session.execute(text("UPDATE message_reads SET read_at = '2026-12-01 10:00:00.5+00'"))
        db.session.commit()
    history = client.get(f"/api/conversations/{conversation_id}/messages", headers=cd[0]).json["items"]
    listed = client.get("/api/conversations?sort=-last_message_at", headers=ravi[0]).json
    assert [item["id"] for item in listed["items"]] == [conversation_id, quiet] and listed["meta"]["total"] == 2
    item = listed["items"][0]
    assert item["last_message"] == history[0] and history[0]["id"] == last["id"]
    with app.app_context():  # both as the schema writes the stored message (the send's acknowledgement's path)
        assert history[0] == MessageSchema().dump(services.describe_messages([db.session.get(Message, last["id"])])[0])
    assert history[0]["safety"]["flagged"] and [a["id"] for a in history[0]["attachments"]] == [photo["id"]]
    assert [r["user_id"] for r in history[0]["read_by"]] == [asha[1]]
    assert [(p["id"], p["role"], p["online"]) for p in item["participants"]] == [
        (cd[1], "casting_director", False), (asha[1], "talent", False), (ravi[1], "talent", False)]
    assert (item["unread_count"], item["last_read_message_id"], item["is_group"]) == (2, 0, True)
    assert listed["items"][1]["last_message"] is None and listed["items"][1]["is_group"] is False
    assert client.get(f"/api/conversations/{conversation_id}", headers=ravi[0]).json == item
    beyond = client.get("/api/conversations?page=3&per_page=1", headers=ravi[0]).json
    assert beyond["items"] == [] and beyond["meta"]["total"] == 2


def upload(client, who, data, filename="file", mimetype="application/octet-stream"):
    return client.post("/api/attachments", headers=who[0], content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), filename, mimetype)})


def test_attachments_are_checked_sent_by_id_and_only_participants_fetch_them(client, people):
    cd, asha, outsider = people["cd"], people["asha"], people["outsider"]
    conversation_id = start(client, cd, asha).json["id"]
    photo = upload(client, cd, image_bytes(gps=True), "<b>look</b> test.jpg", "image/jpeg")
    assert photo.status_code == 201, photo.json
    assert photo.json["kind"] == "image" and photo.json["name"] == "look_test.jpg" and photo.json["thumbnail_url"]
    brief = upload(client, cd, PDF, "brief.pdf", "application/pdf").json
    message = send(client, cd, conversation_id, "Brief and look", attachment_ids=[photo.json["id"], brief["id"]])
    assert message.status_code == 201 and [a["id"] for a in message.json["attachments"]] == [
        photo.json["id"], brief["id"]]
    fetched = client.get(brief["url"], headers=asha[0])
    assert fetched.status_code == 200 and fetched.data == PDF
    assert fetched.headers["Content-Disposition"].startswith("attachment") and fetched.headers[
        "X-Content-Type-Options"] == "nosniff"
    image = client.get(photo.json["url"], headers=asha[0])
    assert b"GPSLatitude" not in image.data and b"Exif" not in image.data
    with Image.open(io.BytesIO(client.get(photo.json["thumbnail_url"], headers=asha[0]).data)) as thumbnail:
        assert thumbnail.format == "WEBP"
    assert client.get(brief["url"], headers=outsider[0]).status_code == 404
    again = send(client, cd, conversation_id, "again", attachment_ids=[brief["id"]])
    assert again.status_code == 409 and again.json["code"] == "MESSAGE_004"
    theirs = upload(client, outsider, PDF, "x.pdf").json
    assert client.get(theirs["url"], headers=outsider[0]).status_code == 200  # an uploader sees their own
    stolen = send(client, cd, conversation_id, "mine now", attachment_ids=[theirs["id"]])
    assert stolen.status_code == 404 and stolen.json["details"]["attachment_ids"] == [theirs["id"]]


@pytest.mark.parametrize("data, status", [
    (b"hello, plain text", 415),
    (PDF.replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>"), 415),
    (PDF[:-7], 415),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, 415),
])
def test_anything_but_an_image_or_a_clean_pdf_is_refused(client, people, data, status):
    response = upload(client, people["cd"], data)
    assert response.status_code == status and response.json["code"] == "MEDIA_001"
    if data.startswith(b"hello"):
        assert "PDF" in response.json["message"] and "application/pdf" in response.json["details"]["accepted"]


def test_an_attachment_over_the_size_limit_is_a_413(client, people, app):
    app.config["MEDIA_MAX_BYTES"] = 1000
    response = upload(client, people["cd"], PDF + b"%" * 1000 + b"\n%%EOF\n")
    assert response.status_code == 413 and response.json["code"] == "MEDIA_002"


def test_someone_away_hears_once_per_burst_on_their_channel(make_app, people):
    app = make_app(CHAT_NOTIFY_DELAY_SECONDS=0)
    client = app.test_client()
    cd, asha = people["cd"], people["asha"]
    assert client.patch("/api/auth/me", headers=asha[0], json={"notify_channel": "email"}).json[
        "notify_channel"] == "email"
    conversation_id = start(client, cd, asha).json["id"]
    for n in range(3):
        send(client, cd, conversation_id, f"burst one, line {n}")
    run_jobs(app)

    def told():
        with app.app_context():
            return db.session.execute(select(Notification.user_id, Notification.channel, Notification.template)
                                      .order_by(Notification.id)).all()
    assert [(row.user_id, row.channel.value, row.template) for row in told()] == [(asha[1], "email", "chat_unread")]
    last = send(client, cd, conversation_id, "still there?").json["id"]
    run_jobs(app)
    assert len(told()) == 1
    client.post(f"/api/conversations/{conversation_id}/read", headers=asha[0], json={"message_id": last})
    send(client, cd, conversation_id, "a new burst")
    run_jobs(app)
    assert len(told()) == 2


def test_an_away_participant_s_burst_is_counted_in_the_publish_s_round_trip(app, client, people, monkeypatch):
    """Whoever is away costs no round trip of their own: their burst's key is set in the one pipeline that
    publishes the message and marks it published."""
    import redis.connection

    sent, send_packed = [], redis.connection.AbstractConnection.send_packed_command

    def recording(connection, command, *args, **kwargs):
        sent.append(b"".join(command) if isinstance(command, (list, tuple)) else bytes(command))
        return send_packed(connection, command, *args, **kwargs)
    conversation_id = start(client, people["cd"], people["asha"]).json["id"]
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", recording)
    assert send(client, people["cd"], conversation_id, "are you there?").status_code == 201
    [publish] = [packet for packet in sent if b"casting:chat:published:" in packet]
    assert f"casting:chat:burst:{conversation_id}:{people['asha'][1]}".encode() in publish
    assert not [packet for packet in sent if b"casting:chat:burst:" in packet and packet is not publish]


def test_a_message_read_before_the_notice_is_due_sends_nothing(make_app, people):
    app = make_app(CHAT_NOTIFY_DELAY_SECONDS=0)
    client = app.test_client()
    cd, asha = people["cd"], people["asha"]
    conversation_id = start(client, cd, asha).json["id"]
    message_id = send(client, cd, conversation_id).json["id"]
    client.post(f"/api/conversations/{conversation_id}/read", headers=asha[0], json={"message_id": message_id})
    run_jobs(app)
    with app.app_context():
        assert db.session.scalar(select(Notification.id)) is None


def test_a_flood_of_messages_is_stopped_with_retry_after(make_app, people):
    client = make_app(CHAT_SEND_LIMIT="3/minute").test_client()
    conversation_id = start(client, people["cd"], people["asha"]).json["id"]
    assert [send(client, people["cd"], conversation_id).status_code for _ in range(3)] == [201] * 3
    flood = send(client, people["cd"], conversation_id)
    assert flood.status_code == 429 and flood.json["code"] == "MESSAGE_005"
    assert int(flood.headers["Retry-After"]) >= 1
    assert send(client, people["asha"], conversation_id).status_code == 201  # per sender, per conversation


def test_new_conversations_per_user_are_rate_limited(make_app, people):
    client = make_app(CHAT_CONVERSATION_LIMIT="1/hour").test_client()
    assert start(client, people["cd"], people["asha"]).status_code == 201
    assert start(client, people["cd"], people["asha"]).status_code == 200  # an existing one is not new
    refused = start(client, people["cd"], people["ravi"])
    assert refused.status_code == 429 and refused.json["code"] == "RATE_001"


def test_contacts_are_the_people_who_share_a_conversation(app, client, people):
    start(client, people["cd"], people["asha"])
    start(client, people["ravi"], people["asha"])
    with app.app_context():
        assert sorted(services.contacts(people["asha"][1])) == sorted([people["cd"][1], people["ravi"][1]])
        assert services.contacts(people["outsider"][1]) == []


def test_uploads_no_message_took_are_pruned_with_their_files(client, people, app):
    from pathlib import Path

    from casting.kernel.jobs import enqueue_due_periodic_jobs, periodic_intervals
    from casting.messaging.models import Attachment
    from casting.messaging.tasks import prune_unsent_attachments

    conversation_id = start(client, people["cd"], people["asha"]).json["id"]
    sent = upload(client, people["cd"], PDF, "sent.pdf").json
    send(client, people["cd"], conversation_id, "brief", attachment_ids=[sent["id"]])
    stale = upload(client, people["cd"], image_bytes(), "stale.jpg").json
    fresh = upload(client, people["cd"], PDF, "fresh.pdf").json
    with app.app_context():
        db.session.execute(text("UPDATE attachments SET created_at = now() - interval '2 days' WHERE id IN :ids")
                           .bindparams(db.bindparam("ids", expanding=True)), {"ids": [sent["id"], stale["id"]]})
        db.session.commit()
        stale_files = [Path(app.config["MEDIA_ROOT"], key) for key in db.session.execute(
            select(Attachment.key, Attachment.thumbnail_key).where(Attachment.id == stale["id"])).one()]
        assert all(path.is_file() for path in stale_files)
        assert prune_unsent_attachments() == 1
        assert sorted(db.session.scalars(select(Attachment.id))) == sorted([sent["id"], fresh["id"]])
        assert not any(path.exists() for path in stale_files)
        # a week ahead: due even if a scheduler of another test's worker claimed this moment's run already
        due = enqueue_due_periodic_jobs(app.extensions["redis"], periodic_intervals(app), time.time() + 7 * 86400)
    assert {"casting.messaging.tasks.prune_unsent_attachments", "casting.safety.tasks.flag_digest"} <= set(due)
    assert client.get(stale["url"], headers=people["cd"][0]).status_code == 404


def test_with_s3_an_attachment_is_a_short_redirect_for_participants_only(client, people, s3):
    import requests

    conversation_id = start(client, people["cd"], people["asha"]).json["id"]
    brief = upload(client, people["cd"], PDF, "brief.pdf").json
    send(client, people["cd"], conversation_id, "brief", attachment_ids=[brief["id"]])
    keys = s3()
    assert len(keys) == 1 and keys[0].startswith(f"attachments/{people['cd'][1]}/")
    redirect = client.get(brief["url"], headers=people["asha"][0])
    assert redirect.status_code == 302 and "X-Amz-Signature" in redirect.headers["Location"]
    assert requests.get(redirect.headers["Location"], timeout=10).content == PDF
    assert client.get(brief["url"], headers=people["outsider"][0]).status_code == 404


def test_a_message_is_one_statement_that_commits_on_its_own(app, client, people):
    """Storing a message is one round trip to PostgreSQL: the statement commits by itself (no BEGIN, no
    COMMIT), once this process knows the conversation's participants; a read receipt too."""
    from tests.test_hot_path import RoundTrips
    conversation_id = start(client, people["cd"], people["asha"]).json["id"]
    with app.app_context():
        engine = db.engine
    with RoundTrips(engine) as trips:
        first = send(client, people["cd"], conversation_id).json["id"]
    assert trips.count == 2 and "conversation_participants" in trips.sent[0]  # the participants, remembered
    with RoundTrips(engine) as trips:
        sent = send(client, people["cd"], conversation_id, "second")
    assert sent.status_code == 201
    assert trips.count == 1 and trips.sent[0].startswith("Parse") and "INSERT INTO messages" in trips.sent[0]
    with RoundTrips(engine) as trips:
        read = client.post(f"/api/conversations/{conversation_id}/read", headers=people["asha"][0],
                           json={"message_id": first})
    assert read.status_code == 200 and read.json["message_id"] == first
    assert trips.count == 1 and "INSERT INTO message_reads" in trips.sent[0]
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Message.id)).where(Message.body.is_not(None))) == 2


def test_a_connecting_socket_s_process_remembers_its_conversations_participants(app, client, people):
    """The connect's one statement for the contacts also gives each conversation's participants: the
    socket's first message in a conversation is then the one statement, with no lookup before it."""
    from tests.test_hot_path import RoundTrips
    conversation_id = start(client, people["cd"], people["asha"]).json["id"]
    start(client, people["ravi"], people["asha"])
    with app.app_context():
        engine = db.engine
        with RoundTrips(engine) as trips:
            assert sorted(services.contacts(people["asha"][1], remember=True)) == sorted(
                [people["cd"][1], people["ravi"][1]])
    assert trips.count == 1
    with RoundTrips(engine) as trips:
        assert send(client, people["asha"], conversation_id, "first words").status_code == 201
    assert trips.count == 1 and "INSERT INTO messages" in trips.sent[0]


def test_the_one_statement_is_logged_when_slow_and_a_lost_connection_is_thrown_away(make_app, people, caplog):
    """`at_once` runs on psycopg itself: what the engine's hooks did for it still happens."""
    app = make_app(SLOW_QUERY_MS=0, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0)  # one pooled connection: the one killed
    client = app.test_client()
    conversation_id = start(client, people["cd"], people["asha"]).json["id"]
    send(client, people["cd"], conversation_id, "warm")
    with caplog.at_level(logging.INFO):
        assert send(client, people["cd"], conversation_id, "logged").status_code == 201
    slow = [record for record in caplog.records if record.getMessage() == "slow query"]
    assert any("INSERT INTO messages" in record.statement for record in slow)
    assert all("logged" not in record.statement for record in slow)  # the text, never the parameters
    with app.app_context():
        fairy = db.engine.raw_connection()  # the pool's one connection: its server process ends meanwhile
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [fairy.driver_connection.info.backend_pid])
        fairy.close()
    lost = send(client, people["cd"], conversation_id, "lost")  # raised as SQLAlchemy would: a 503, not a 500
    assert lost.status_code == 503 and lost.json["code"] == "SERVER_002" and lost.headers["Retry-After"]
    with app.app_context():
        assert [row.user_id for row in services.at_once(services._MEMBERS, {"conversation_id": conversation_id})] \
            == sorted([people["cd"][1], people["asha"][1]])


def test_a_retry_is_neither_counted_nor_refused_by_the_flood_limit(make_app, people):
    """The flood limit is counted before a message is stored; a send that turns out to repeat a stored
    `client_id` hands its count back, and a retry past the limit still gets its stored message."""
    client = make_app(CHAT_SEND_LIMIT="3/minute").test_client()
    conversation_id = start(client, people["cd"], people["asha"]).json["id"]
    assert send(client, people["cd"], conversation_id, client_id="one").status_code == 201
    assert [send(client, people["cd"], conversation_id, client_id="one").status_code for _ in range(3)] == [200] * 3
    assert [send(client, people["cd"], conversation_id).status_code for _ in range(2)] == [201] * 2
    assert send(client, people["cd"], conversation_id).status_code == 429
    again = send(client, people["cd"], conversation_id, "changed", client_id="one")
    assert again.status_code == 200 and again.json["body"] == "Namaste"
