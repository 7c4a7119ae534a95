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
    # a resend is answered with the stored message and published again (its first send may have died between
    # storing and publishing): the same id, which clients already hold
    assert again == ack and receiver.next("message:new")["id"] == ack["id"]
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
    assert refused["code"] == "MESSAGE_001" and "requestId" in refused
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
    assert polling.status_code == 400


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
