"""Chat end to end (CONTRACT §6): real Socket.IO clients against two real gunicorn/gevent server processes
that share one Redis message queue, on the test database."""
import io
import os
import queue
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
import requests
import socketio
from flask_jwt_extended import create_access_token, decode_token
from sqlalchemy import func, select

from casting.kernel.extensions import db
from casting.messaging.models import Message
from casting.notifications.models import Notification
from tests.support import run_jobs
from tests.test_embedded import _free_port, _get
from tests.test_messaging import PDF

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LIVE_EVENTS = ("message:new", "message:read", "typing", "presence")
SETTINGS = {"CHAT_TYPING_SECONDS": "1", "CHAT_PRESENCE_SECONDS": "3", "CHAT_SEND_LIMIT": "12/10seconds",
            "CHAT_NOTIFY_DELAY_SECONDS": "0"}


def start_server(server_urls, instance, settings=SETTINGS):
    """One server process (gunicorn, one gevent worker) on the test servers; returns (process, base URL)."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "COV_"))}
    env.update(APP_ENV="test", DATABASE_URL=server_urls["database"], REDIS_URL=server_urls["redis"],
               INSTANCE_PATH=str(instance), PORT=str(port), WEB_CONCURRENCY="1", LOG_LEVEL="WARNING", **settings)
    process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    assert _get(f"{url}/api/health")[0] == 200
    return process, url


@pytest.fixture(scope="module")
def servers(server_urls, tmp_path_factory):
    """Two server processes (one gevent worker each), as a load balancer would spread clients over."""
    started = []
    try:
        for n in range(2):
            started.append(start_server(server_urls, tmp_path_factory.mktemp(f"chat{n}")))
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(20)


class Chat:
    """A Socket.IO client on `/chat` that records what the server pushes."""

    def __init__(self, url, token):
        self.events = queue.Queue()
        self.refused = None
        self.sio = socketio.Client(reconnection=False)
        for name in LIVE_EVENTS:
            self.sio.on(name, partial(self._record, name), namespace="/chat")
        self.sio.on("connect_error", self._refused, namespace="/chat")
        self.sio.connect(url, namespaces=["/chat"], auth={"token": token}, transports=["websocket"],
                         wait_timeout=10)

    def _record(self, name, data):
        self.events.put((name, data))

    def _refused(self, data):
        self.refused = data

    def call(self, event, data):
        return self.sio.call(event, data, namespace="/chat", timeout=10)

    def next(self, name, timeout=5, **match):
        """The next `name` event whose payload has the `match` values (others of that name are skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event, data = self.events.get(timeout=left)
            except queue.Empty:
                break
            if event == name and all(data.get(key) == value for key, value in match.items()):
                return data
        raise AssertionError(f"no {name} {match} within {timeout} s")

    def silent(self, name, seconds=1.0):
        """True if no `name` event arrives within `seconds`."""
        try:
            self.next(name, timeout=seconds)
        except AssertionError:
            return True
        return False

    def close(self):
        self.sio.disconnect()


@pytest.fixture
def chat():
    clients = []

    def connect(url, token):
        clients.append(Chat(url, token))
        return clients[-1]
    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def people(signed_in):
    """Three signed-in people: (access token, user id, headers)."""
    def person(role, email):
        headers, user_id = signed_in(role, email)
        return headers["Authorization"].split()[1], user_id, headers
    return [person("casting_director", "cd@example.in"), person("talent", "asha@example.in"),
            person("talent", "out@example.in")]


def conversation(client, starter, *others):
    return client.post("/api/conversations", headers=starter[2],
                       json={"participant_ids": [other[1] for other in others]}).json["id"]


def refusal(url, token):
    """The error envelope of a refused connection."""
    attempt = socketio.Client(reconnection=False)
    seen = {}
    attempt.on("connect_error", seen.update, namespace="/chat")
    with pytest.raises(socketio.exceptions.ConnectionError):
        attempt.connect(url, namespaces=["/chat"], auth={"token": token} if token else None,
                        transports=["websocket"], wait_timeout=10)
    assert "data" in seen, seen
    return seen["data"]


def test_a_missing_bad_expired_or_revoked_token_is_refused_at_connect(servers, people, client, app):
    cd = people[0]
    assert refusal(servers[0], None)["code"] == "AUTH_002"
    assert refusal(servers[0], "not-a-token")["code"] == "AUTH_003"
    with app.app_context():
        claims = decode_token(cd[0])
        expired = create_access_token(identity=str(cd[1]), additional_claims={"sid": claims["sid"]},
                                      expires_delta=timedelta(seconds=-30))
    assert refusal(servers[0], expired)["code"] == "AUTH_004"
    client.post("/api/auth/logout", headers=cd[2], json={})
    envelope = refusal(servers[1], cd[0])
    assert envelope["code"] == "AUTH_005" and set(envelope) >= {"message", "timestamp", "requestId"}


def test_messages_cross_server_processes_and_reach_participants_only(servers, people, client, chat, app):
    cd, asha, outsider = people
    conversation_id = conversation(client, cd, asha)
    sender, receiver, stranger = chat(servers[0], cd[0]), chat(servers[1], asha[0]), chat(servers[0], outsider[0])
    ack = sender.call("message:send", {"conversation_id": conversation_id, "body": "<i>Callback</i> on Friday?",
                                       "client_id": "m-1"})
    assert ack["body"] == "Callback on Friday?" and ack["sender_id"] == cd[1]
    with app.app_context():
        assert db.session.get(Message, ack["id"]).body == "Callback on Friday?"  # stored before the ack
    assert receiver.next("message:new")["id"] == ack["id"]
    again = sender.call("message:send", {"conversation_id": conversation_id, "body": "dup", "client_id": "m-1"})
    # a resend is answered with the stored message; it was published, so it is not pushed twice (one stored but
    # never published is: test_sending_again_publishes_a_message_that_was_stored_but_never_published)
    assert again == ack and receiver.silent("message:new", 1.0)
    with app.app_context():
        assert db.session.scalars(select(Message.id)).all() == [ack["id"]]
    reply = receiver.call("message:send", {"conversation_id": conversation_id, "body": "Yes, 11am works",
                                           "client_id": "r-1"})
    assert sender.next("message:new")["id"] == reply["id"]
    rest = client.post(f"/api/conversations/{conversation_id}/messages", headers=cd[2],
                       json={"body": "Sent over REST", "client_id": "rest-1"}).json
    assert receiver.next("message:new", body="Sent over REST")["id"] == rest["id"]
    scam = sender.call("message:send", {"conversation_id": conversation_id, "client_id": "scam-1",
                                        "body": "Pay ₹1,500 today to confirm your selection."})
    warned = receiver.next("message:new", id=scam["id"])
    assert warned["safety"]["flagged"] and warned["safety"] == scam["safety"]  # delivered, with the warning
    assert stranger.silent("message:new", 0.5)


def test_read_receipts_and_typing_reach_the_other_process_and_typing_lapses(servers, people, client, chat):
    cd, asha, _ = people
    conversation_id = conversation(client, cd, asha)
    sender, receiver = chat(servers[0], cd[0]), chat(servers[1], asha[0])
    message = sender.call("message:send", {"conversation_id": conversation_id, "body": "Script attached",
                                           "client_id": uuid.uuid4().hex})
    receiver.next("message:new")
    receipt = receiver.call("message:read", {"conversation_id": conversation_id, "message_id": message["id"]})
    assert receipt["message_id"] == message["id"] and receipt["user_id"] == asha[1]
    assert sender.next("message:read", user_id=asha[1])["message_id"] == message["id"]
    history = client.get(f"/api/conversations/{conversation_id}/messages", headers=cd[2]).json["items"]
    assert [reader["user_id"] for reader in history[0]["read_by"]] == [asha[1]]

    assert receiver.call("typing", {"conversation_id": conversation_id, "is_typing": True})["expires_in"] == 1
    assert sender.next("typing", user_id=asha[1])["is_typing"] is True
    started = time.monotonic()
    assert sender.next("typing", timeout=4, user_id=asha[1])["is_typing"] is False  # lapsed by itself
    assert time.monotonic() - started >= 0.5
    receiver.call("typing", {"conversation_id": conversation_id, "is_typing": True})
    sender.next("typing", is_typing=True)
    receiver.call("message:send", {"conversation_id": conversation_id, "body": "Done", "client_id": "t-1"})
    sender.next("message:new", body="Done")
    assert sender.silent("typing", 2.0)  # a sent message ends the indicator: no late `false` is needed


def test_presence_follows_every_socket_across_processes(servers, people, client, chat):
    cd, asha, _ = people
    conversation(client, cd, asha)
    watcher = chat(servers[0], cd[0])
    first = chat(servers[1], asha[0])
    assert watcher.next("presence", user_id=asha[1])["online"] is True
    second = chat(servers[0], asha[0])
    assert second.next("presence", user_id=cd[1])["online"] is True  # told who is already online
    first.close()
    assert watcher.silent("presence", 1.0)  # still online on her other socket
    time.sleep(4)  # longer than CHAT_PRESENCE_SECONDS: the heartbeat keeps her counted
    listed = client.get("/api/conversations", headers=cd[2]).json["items"][0]["participants"]
    assert {p["id"]: p["online"] for p in listed}[asha[1]] is True
    second.close()
    assert watcher.next("presence", user_id=asha[1])["online"] is False
    listed = client.get("/api/conversations", headers=cd[2]).json["items"][0]["participants"]
    assert {p["id"]: p["online"] for p in listed}[asha[1]] is False


def test_errors_are_acked_as_the_envelope(servers, people, client, chat, app, redis_client):
    cd, asha, outsider = people
    conversation_id = conversation(client, cd, asha)
    stranger = chat(servers[0], outsider[0])
    refused = stranger.call("message:send", {"conversation_id": conversation_id, "body": "hi", "client_id": "x"})
    assert refused["code"] == "MESSAGE_001" and isinstance(refused["requestId"], str) and refused["requestId"]
    assert stranger.call("message:read", {"conversation_id": conversation_id, "message_id": 1})["code"] == "MESSAGE_001"
    assert stranger.call("typing", {"conversation_id": conversation_id, "is_typing": True})["code"] == "MESSAGE_001"
    invalid = stranger.call("message:send", {"conversation_id": "nine"})
    assert invalid["code"] == "VALIDATION_001" and {"conversation_id", "client_id"} <= set(invalid["details"]["fields"])
    assert stranger.call("typing", "not an object")["code"] == "VALIDATION_001"
    with app.app_context():  # the session ends with no listener told (a cache-only revocation)
        redis_client.set(f"casting:session:{decode_token(outsider[0])['sid']}", b"revoked")
    assert stranger.call("typing", {"conversation_id": conversation_id, "is_typing": False})["code"] == "AUTH_005"
    deadline = time.monotonic() + 5
    while stranger.sio.connected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not stranger.sio.connected


def test_a_flooding_client_is_stopped_and_signing_out_cuts_the_sockets_off(servers, people, client, chat):
    cd, asha, _ = people
    conversation_id = conversation(client, cd, asha)
    sender = chat(servers[0], cd[0])
    acks = [sender.call("message:send", {"conversation_id": conversation_id, "body": f"spam {n}",
                                         "client_id": f"f-{n}"}) for n in range(14)]
    codes = [ack.get("code") for ack in acks]
    assert codes[:12] == [None] * 12 and codes[12:] == ["MESSAGE_005"] * 2
    assert acks[-1]["details"]["retry_after"] >= 1
    elsewhere = chat(servers[1], cd[0])  # the same sign-in, on the other process
    client.post("/api/auth/logout", headers=cd[2], json={})
    for socket in (sender, elsewhere):  # signing out ends the session's live sockets, wherever they are
        deadline = time.monotonic() + 5
        while socket.sio.connected and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not socket.sio.connected


def test_socket_io_is_websocket_only_so_any_worker_can_take_a_client(servers):
    polling = requests.get(f"{servers[0]}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=5)
    assert polling.status_code == 400 and polling.headers["Content-Type"] == "application/json"
    envelope = polling.json()  # the error envelope, not Engine.IO's plain-text "Invalid transport"
    assert envelope["code"] == "MESSAGE_010" and envelope["details"]["transports"] == ["websocket"]
    assert {"message", "timestamp", "requestId"} <= set(envelope)
    default = requests.get(f"{servers[0]}/socket.io/", params={"EIO": "4"}, timeout=5)  # polling is the default
    assert default.status_code == 400 and default.json()["code"] == "MESSAGE_010"
    attempt = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):  # a client left on polling is refused at once
        attempt.connect(servers[0], namespaces=["/chat"], transports=["polling"], wait_timeout=5)


@pytest.fixture
def cramped(server_urls, tmp_path):
    """A server process that takes one event at a time and waits for none (CHAT_MAX_IN_FLIGHT=1)."""
    process, url = start_server(server_urls, tmp_path, settings={
        **SETTINGS, "CHAT_MAX_IN_FLIGHT": "1", "CHAT_BUSY_WAIT_MS": "0"})
    yield url
    process.terminate()
    process.wait(20)


def _emit_all(sio, event, payloads):
    """Emit every payload at once; returns {client_id: ack} once each is acked (10 s at most)."""
    acks, done = {}, queue.Queue()
    for payload in payloads:
        sio.emit(event, payload, namespace="/chat",
                 callback=lambda ack, key=payload["client_id"]: done.put((key, ack)))
    deadline = time.monotonic() + 10
    while len(acks) < len(payloads) and (left := deadline - time.monotonic()) > 0:
        try:
            key, ack = done.get(timeout=left)
        except queue.Empty:
            break
        acks[key] = ack
    return acks


def test_a_saturated_process_acks_busy_with_a_retry_hint_and_the_send_limit_still_applies(
        cramped, people, client, chat, app):
    cd, asha, _ = people
    conversation_id = conversation(client, cd, asha)
    sender = chat(cramped, cd[0])
    payloads = {f"b-{n}": {"conversation_id": conversation_id, "body": f"take {n}", "client_id": f"b-{n}"}
                for n in range(30)}
    first = _emit_all(sender.sio, "message:send", list(payloads.values()))
    assert set(first) == set(payloads)  # every send acked: none left to time out
    busy = [ack for ack in first.values() if ack.get("code") == "MESSAGE_009"]
    assert busy and all(ack["details"]["retry_after"] >= 1 and "requestId" in ack for ack in busy)
    final, rounds = dict(first), 0
    while (again := [key for key, ack in final.items() if ack.get("code") == "MESSAGE_009"]) and rounds < 50:
        rounds += 1
        time.sleep(0.05)
        final.update(_emit_all(sender.sio, "message:send", [payloads[key] for key in again[:1]]))
    codes = [ack.get("code") for ack in final.values()]
    assert codes.count(None) == 12 and codes.count("MESSAGE_005") == 18  # CHAT_SEND_LIMIT: 12 in 10 s
    with app.app_context():
        stored = db.session.scalars(select(Message.client_id).where(Message.conversation_id == conversation_id)).all()
    assert sorted(stored) == sorted(key for key, ack in final.items() if "code" not in ack)


def test_sending_again_publishes_a_message_that_was_stored_but_never_published(servers, people, client, chat, app):
    cd, asha, _ = people
    conversation_id = conversation(client, cd, asha)
    receiver = chat(servers[1], asha[0])
    with app.test_request_context():  # stored, then the process died before it was published
        from casting.messaging import services
        from casting.users.models import User

        stored = services.send(db.session.get(User, cd[1]), conversation_id, "Stored, never told", [], "lost-1")
    assert stored.created and receiver.silent("message:new", 0.5)
    sender = chat(servers[0], cd[0])
    again = sender.call("message:send", {"conversation_id": conversation_id, "body": "Stored, never told",
                                         "client_id": "lost-1"})
    assert again["id"] == stored.message["id"]
    assert receiver.next("message:new")["id"] == stored.message["id"]  # published now
    sender.call("message:send", {"conversation_id": conversation_id, "body": "x", "client_id": "lost-1"})
    assert receiver.silent("message:new", 1.0)  # and only once


def test_attachments_by_id_and_one_notice_for_whoever_is_away(servers, people, client, chat, app, tmp_path):
    cd, asha, _ = people
    app.config["MEDIA_ROOT"] = str(tmp_path)
    conversation_id = conversation(client, cd, asha)
    attachment = client.post("/api/attachments", headers=cd[2], content_type="multipart/form-data",
                             data={"file": (io.BytesIO(PDF), "brief.pdf", "application/pdf")}).json
    sender = chat(servers[0], cd[0])
    for n in range(3):  # she is not connected: three messages, one notice
        ack = sender.call("message:send", {"conversation_id": conversation_id, "client_id": f"away-{n}",
                                           "body": f"Brief, part {n}", "attachment_ids": [attachment["id"]] if n == 0
                                           else []})
        assert "code" not in ack, ack
    assert [a["id"] for a in client.get(f"/api/conversations/{conversation_id}/messages", headers=asha[2])
            .json["items"][-1]["attachments"]] == [attachment["id"]]
    assert client.get(attachment["url"], headers=asha[2]).data == PDF
    run_jobs(app)
    with app.app_context():
        told = db.session.execute(select(Notification.user_id, Notification.template)).all()
    assert [tuple(row) for row in told] == [(asha[1], "chat_unread")]
    receiver = chat(servers[1], asha[0])
    receiver.call("message:read", {"conversation_id": conversation_id, "message_id": ack["id"]})  # burst over
    sender.call("message:send", {"conversation_id": conversation_id, "body": "Online now?", "client_id": "on"})
    assert receiver.next("message:new")["body"] == "Online now?"
    run_jobs(app)
    with app.app_context():
        assert db.session.scalar(select(func.count(Notification.id))) == 1  # connected: told live, not by notice


def test_the_sockets_of_a_process_that_died_go_offline(servers, people, client, chat, server_urls, tmp_path):
    cd, asha, _ = people
    conversation(client, cd, asha)
    watcher = chat(servers[0], cd[0])
    doomed, url = start_server(server_urls, tmp_path)
    try:
        chat(url, asha[0])
        assert watcher.next("presence", user_id=asha[1])["online"] is True
        os.killpg(doomed.pid, signal.SIGKILL)  # no disconnect handler runs
        doomed.wait(10)
        assert watcher.next("presence", timeout=10, user_id=asha[1])["online"] is False  # swept by the survivor
    finally:
        if doomed.poll() is None:
            os.killpg(doomed.pid, signal.SIGKILL)


def _connect(url, token, seen=None, timeout=60):
    """A client on `/chat` (retried while the server's new worker boots); records message:new in `seen`."""
    deadline = time.monotonic() + timeout
    while True:
        sio = socketio.Client(reconnection=False)
        if seen is not None:
            sio.on("message:new", lambda data: seen.__setitem__(data["id"], data), namespace="/chat")
        try:
            sio.connect(url, namespaces=["/chat"], auth={"token": token}, transports=["websocket"], wait_timeout=10)
            return sio
        except socketio.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.solo
def test_a_worker_killed_mid_burst_loses_no_acknowledged_message_and_clients_catch_up(
        server_urls, tmp_path, people, client, app):
    import psutil

    cd, asha, _ = people
    conversation_id = conversation(client, cd, asha)
    process, url = start_server(server_urls, tmp_path, settings={**SETTINGS, "CHAT_SEND_LIMIT": "1000/10seconds"})
    try:
        seen = {}  # message id -> message:new, as the receiver saw them
        receiver = _connect(url, asha[0], seen)
        sender = _connect(url, cd[0])
        payloads = [{"conversation_id": conversation_id, "body": f"take {n}", "client_id": f"k-{n}"}
                    for n in range(300)]
        acks, done = {}, queue.Queue()
        for payload in payloads:
            sender.emit("message:send", payload, namespace="/chat",
                        callback=lambda ack, key=payload["client_id"]: done.put((key, ack)))
        while len(acks) < 20:  # the burst is under way: kill the worker that holds both sockets
            key, ack = done.get(timeout=10)
            acks[key] = ack
        [worker] = psutil.Process(process.pid).children()
        os.kill(worker.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                key, ack = done.get(timeout=0.5)
                acks[key] = ack
            except queue.Empty:
                pass
        assert len(acks) < len(payloads)  # the kill cut the burst short
        acked = {key: ack["id"] for key, ack in acks.items() if "code" not in ack}
        with app.app_context():
            stored = dict(db.session.execute(select(Message.client_id, Message.id).where(
                Message.conversation_id == conversation_id)).all())
        assert {key: stored.get(key) for key in acked} == acked  # every acknowledged message is stored

        for sio in (sender, receiver):
            sio.disconnect()
        last_seen = max(seen, default=0)
        receiver = _connect(url, asha[0], seen)  # the master's new worker takes the clients back
        sender = _connect(url, cd[0])
        caught_up, after = [], last_seen
        while after is not None:  # the receiver catches up from the last message it saw
            page = client.get(f"/api/conversations/{conversation_id}/messages", headers=asha[2],
                              query_string={"after": after, "limit": 100}).json
            caught_up += page["items"]
            after = page["meta"]["next_cursor"]
        assert [item["id"] for item in caught_up] == sorted(i for i in stored.values() if i > last_seen)
        resent = {}
        for payload in payloads:  # the sender sends what was never acknowledged again, with the same client_id
            if payload["client_id"] not in acked:
                ack = sender.call("message:send", payload, namespace="/chat", timeout=10)
                assert "code" not in ack, ack
                resent[payload["client_id"]] = ack["id"]
        deadline = time.monotonic() + 10
        with app.app_context():
            final = dict(db.session.execute(select(Message.client_id, Message.id).where(
                Message.conversation_id == conversation_id)).all())
        assert len(final) == len(payloads) and all(final[key] == value for key, value in {**acked, **resent}.items())
        everything = set(seen) | {item["id"] for item in caught_up}
        while everything != set(final.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
            everything = set(seen) | {item["id"] for item in caught_up}
        assert everything == set(final.values())  # live or caught up: the receiver has every message once
        for sio in (sender, receiver):
            sio.disconnect()
    finally:
        process.terminate()
        process.wait(20)
