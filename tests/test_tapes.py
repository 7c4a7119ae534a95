"""Self-tapes (issue 23): resumable multipart uploads on disk and S3, the worker's ffprobe/ffmpeg pass, sending a
tape to a self-tape audition or a call submission before the deadline, who may watch, and range requests."""
import json
import subprocess  # nosec B404
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import update

from casting.kernel.extensions import db
from casting.tapes.models import Tape
from tests.support import run_jobs
from tests.test_talents import profile

PART = 16 * 1024  # tiny parts, so a few seconds of tiny video is several of them


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)  # nosec B603


def probe(path):
    done = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                           str(path)], capture_output=True, check=True, timeout=60)  # nosec B603
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    """Small real videos from ffmpeg's test sources, and files that only pretend to be videos."""
    folder = tmp_path_factory.mktemp("videos")
    sources = ["-f", "lavfi", "-i", "testsrc=size=192x108:rate=15:duration=3",
               "-f", "lavfi", "-i", "sine=frequency=440:duration=3"]
    # a phone's QuickTime file, with where it was shot in its metadata
    ffmpeg(*sources, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest",
           "-metadata", "location=+19.0760+072.8777/", "-metadata", "title=at home", str(folder / "phone.mov"))
    # an MP4 with its index at the end (as a camera writes it) and one with it first
    ffmpeg(*sources, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(folder / "end.mp4"))
    ffmpeg("-i", str(folder / "end.mp4"), "-c", "copy", "-movflags", "+faststart", str(folder / "first.mp4"))
    # portrait and larger than 1080p (scaled down on the way)
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=1088x2400:rate=5:duration=1", "-c:v", "libx264", "-preset",
           "ultrafast", str(folder / "tall.mp4"))
    end, first = (folder / "end.mp4").read_bytes(), (folder / "first.mp4").read_bytes()
    return {"phone": (folder / "phone.mov").read_bytes(), "tall": (folder / "tall.mp4").read_bytes(),
            "not_video": b"%PDF-1.7\n" + b"this is a letter, not a video\n" * 2000,
            "cut_index": end[:len(end) // 2],  # the index (at the end) is gone
            "cut_frames": first[:len(first) // 3]}  # the index is there, most of the frames are not


@pytest.fixture(autouse=True)
def small_parts(app, tmp_path):
    app.config.update(MEDIA_ROOT=str(tmp_path / "media"), VIDEO_PART_BYTES=PART)


def put_part(client, url, data):
    """PUT one part to its URL: the API's own route on disk, S3 (moto) itself otherwise."""
    parts = urlsplit(url)
    if parts.path.startswith("/api/"):
        return client.put(parts.path, query_string={k: v[0] for k, v in parse_qs(parts.query).items()}, data=data)
    return requests.put(url, data=data, timeout=10)


def fetch(client, url, **headers):
    parts = urlsplit(url)
    if parts.path.startswith("/api/media/"):
        return client.get(parts.path, query_string={k: v[0] for k, v in parse_qs(parts.query).items()},
                          headers=headers)
    return requests.get(url, headers=headers, timeout=10)


def status(response):
    return response.status_code


def body(response):
    return response.json() if callable(response.json) else response.json


def start(client, headers, data, **extra):
    made = client.post("/api/tapes/", headers=headers, json={"filename": "take1.mov", "size_bytes": len(data),
                                                             "content_type": "video/quicktime", **extra})
    assert made.status_code == 201, made.json
    return made.json


def upload(client, headers, data, complete=True, **extra):
    """The whole client flow: start, PUT every part, complete. Returns the tape."""
    tape = start(client, headers, data, **extra)
    size = tape["upload"]["part_size"]
    for part in tape["upload"]["parts"]:
        sent = put_part(client, part["url"], data[(part["number"] - 1) * size:part["number"] * size])
        assert status(sent) == 200 and sent.headers["ETag"]
    if complete:
        done = client.post(f"/api/tapes/{tape['id']}/upload/complete", headers=headers)
        assert done.status_code == 202, done.json
        return done.json
    return tape


@pytest.fixture
def talent(client, login):
    me = login("talent", "radha@example.in")
    return me, client.post("/api/talents/", json=profile(stage_name="Radha"), headers=me).json["id"]


def test_a_tape_is_uploaded_in_parts_checked_and_made_web_friendly_without_location(app, client, talent, videos):
    me, talent_id = talent
    data = videos["phone"]
    assert b"+19.0760+072.8777" in data and len(data) > 2 * PART
    tape = upload(client, me, data)
    assert (tape["status"], tape["talent_id"], tape["video_url"], tape["sent_to"]) == ("queued", talent_id, None, [])
    parts_dir = Path(app.config["MEDIA_ROOT"], "uploads", str(tape["id"]))
    assert len(list(parts_dir.iterdir())) == -(-len(data) // PART)
    again = client.post(f"/api/tapes/{tape['id']}/upload/complete", headers=me)
    assert (again.status_code, again.json["status"]) == (202, "queued")  # a retried complete changes nothing
    run_jobs(app)
    ready = client.get(f"/api/tapes/{tape['id']}", headers=me).json
    assert (ready["status"], ready["progress"], ready["failure_code"]) == ("ready", 100, None)
    assert 2.5 < ready["duration_seconds"] < 3.5 and (ready["width"], ready["height"]) == (192, 108)
    watched = fetch(client, ready["video_url"])
    assert status(watched) == 200 and watched.headers["Content-Type"] == "video/mp4"
    stored = Path(app.config["MEDIA_ROOT"]) / urlsplit(ready["video_url"]).path.removeprefix("/api/media/")
    info = probe(stored)
    codecs = {stream["codec_type"]: stream["codec_name"] for stream in info["streams"]}
    assert codecs == {"video": "h264", "audio": "aac"} and "mp4" in info["format"]["format_name"]
    assert "location" not in info["format"].get("tags", {}) and "title" not in info["format"].get("tags", {})
    assert b"+19.0760+072.8777" not in watched.data and b"at home" not in watched.data
    assert watched.data.index(b"moov") < watched.data.index(b"mdat")  # fast start: the index first
    poster = fetch(client, ready["poster_url"])
    assert status(poster) == 200 and poster.data[:3] == b"\xff\xd8\xff"
    # the upload with its metadata is gone: only the MP4 and the poster are kept
    kept = sorted(path.suffix for path in Path(app.config["MEDIA_ROOT"]).rglob("*") if path.is_file())
    assert kept == [".jpg", ".mp4"]
    listed = client.get("/api/tapes/", headers=me).json
    assert [item["id"] for item in listed["items"]] == [tape["id"]] and listed["items"][0]["poster_url"]


def test_a_dropped_upload_resumes_from_the_parts_received(app, client, talent, videos):
    me, _ = talent
    data = videos["phone"]
    tape = start(client, me, data)
    urls = {part["number"]: part["url"] for part in tape["upload"]["parts"]}
    assert sorted(urls) == list(range(1, tape["upload"]["part_count"] + 1))
    assert put_part(client, urls[1], data[:PART]).status_code == 200
    half = put_part(client, urls[2], data[PART:PART + 100])  # the connection dropped mid-part
    assert half.status_code == 200
    early = client.post(f"/api/tapes/{tape['id']}/upload/complete", headers=me)
    assert (early.status_code, early.json["code"]) == (409, "TAPE_003")
    assert early.json["details"]["wrong_size"] == [2] and 3 in early.json["details"]["missing"]
    state = client.get(f"/api/tapes/{tape['id']}/upload", headers=me).json
    assert [part["number"] for part in state["received"]] == [1]
    assert [part["number"] for part in state["parts"]] == list(range(2, tape["upload"]["part_count"] + 1))
    for part in state["parts"]:  # fresh URLs for the rest; part 2 is sent again whole
        sent = put_part(client, part["url"], data[(part["number"] - 1) * PART:part["number"] * PART])
        assert sent.json["size"] == len(data[(part["number"] - 1) * PART:part["number"] * PART])
    assert client.post(f"/api/tapes/{tape['id']}/upload/complete", headers=me).status_code == 202
    run_jobs(app)
    assert client.get(f"/api/tapes/{tape['id']}", headers=me).json["status"] == "ready"
    over = client.get(f"/api/tapes/{tape['id']}/upload", headers=me)
    assert (over.status_code, over.json["code"]) == (409, "TAPE_004")


def test_part_links_are_signed_and_bounded(app, client, talent, videos):
    me, _ = talent
    data = videos["phone"]
    tape = start(client, me, data)
    url = urlsplit(tape["upload"]["parts"][0]["url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    forged = client.put(url.path, query_string={**query, "signature": "0" * 64}, data=b"x")
    assert (forged.status_code, forged.json["code"]) == (403, "TAPE_007")
    other_part = client.put(url.path.replace("/parts/1", "/parts/2"), query_string=query, data=b"x")
    assert other_part.json["code"] == "TAPE_007"
    too_big = client.put(url.path, query_string=query, data=b"x" * (PART + 1))
    assert (too_big.status_code, too_big.json["code"]) == (413, "TAPE_002")
    assert client.get(f"/api/tapes/{tape['id']}/upload", headers=me).json["received"] == []
    app.config["MAX_CONTENT_LENGTH"] = 1024  # the app-wide bound is for JSON and images: a part has its own
    # as gunicorn hands it over: the server ends the stream, Werkzeug bounds it by the limit
    whole = client.put(url.path, query_string=query, data=data[:PART],
                       environ_overrides={"wsgi.input_terminated": True})
    assert (whole.status_code, whole.json["size"]) == (200, PART)
    assert whole.headers["ETag"].strip('"') == whole.json["etag"]
    assert client.post("/api/tapes/", headers=me, json={"filename": "x" * 2000, "size_bytes": 1}).status_code == 413
    app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    huge = client.post("/api/tapes/", headers=me, json={"filename": "long.mov", "size_bytes": 2 ** 30 + 1})
    assert (huge.status_code, huge.json["code"], huge.json["details"]) == (413, "TAPE_002", {"max_bytes": 2 ** 30})
    assert client.post("/api/tapes/", headers=me, json={"filename": "x.mov"}).status_code == 422
    not_mine = client.post("/api/tapes/", headers=login_other(client), json={"filename": "a", "size_bytes": 1})
    assert (not_mine.status_code, not_mine.json["code"]) == (404, "TALENT_002")  # no profile of their own yet


def login_other(client):
    from tests.conftest import TEST_PASSWORD
    from casting.users.services import create_user

    with client.application.app_context():
        create_user("Someone", "talent", password=TEST_PASSWORD, email="someone@example.in")
    token = client.post("/api/auth/login", json={"identifier": "someone@example.in",
                                                 "password": TEST_PASSWORD}).json["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("name,status_,code", [
    ("not_video", "rejected", "not_video"),
    ("cut_index", "rejected", "not_video"),
    ("cut_frames", "failed", "unconvertible"),
])
def test_what_is_not_a_whole_video_gets_a_clear_status(app, client, talent, videos, name, status_, code):
    me, _ = talent
    tape = upload(client, me, videos[name])
    run_jobs(app)
    seen = client.get(f"/api/tapes/{tape['id']}", headers=me).json
    assert (seen["status"], seen["failure_code"], seen["video_url"], seen["poster_url"]) == (status_, code, None, None)
    assert seen["failure_message"]
    assert [path for path in Path(app.config["MEDIA_ROOT"]).rglob("*") if path.is_file()] == []


def test_too_long_a_video_is_refused_and_a_tall_one_is_scaled_to_1080p(app, client, talent, videos):
    me, _ = talent
    app.config["VIDEO_MAX_SECONDS"] = 2
    long_one = upload(client, me, videos["phone"])
    app.config["VIDEO_PART_BYTES"] = 1024 * 1024
    tall = upload(client, me, videos["tall"])
    run_jobs(app)
    refused = client.get(f"/api/tapes/{long_one['id']}", headers=me).json
    assert (refused["status"], refused["failure_code"]) == ("rejected", "too_long")
    assert "at most 2" in refused["failure_message"]
    scaled = client.get(f"/api/tapes/{tall['id']}", headers=me).json
    assert scaled["status"] == "ready" and (scaled["width"], scaled["height"]) == (870, 1920)


def test_abandoned_uploads_are_cleaned_up(app, client, talent, videos):
    from casting.tapes.tasks import prune_abandoned_uploads

    me, _ = talent
    old = upload(client, me, videos["phone"], complete=False)
    fresh = start(client, me, videos["phone"])
    parts_dir = Path(app.config["MEDIA_ROOT"], "uploads", str(old["id"]))
    assert parts_dir.is_dir()
    with app.app_context():
        db.session.execute(update(Tape).where(Tape.id == old["id"]).values(
            created_at=datetime.now(timezone.utc) - timedelta(hours=25)))
        db.session.commit()
        assert prune_abandoned_uploads() == 1
        from casting.kernel.jobs import enqueue_due_periodic_jobs, periodic_intervals

        # a week ahead: due even if a scheduler of another test's worker claimed this moment's run already
        due = enqueue_due_periodic_jobs(app.extensions["redis"], periodic_intervals(app), time.time() + 7 * 86400)
    assert "casting.tapes.tasks.prune_abandoned_uploads" in due
    assert not parts_dir.exists()
    assert client.get(f"/api/tapes/{old['id']}", headers=me).json["code"] == "TAPE_001"
    assert client.get(f"/api/tapes/{fresh['id']}", headers=me).json["status"] == "uploading"


def soon(days=7):
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


@pytest.fixture
def team(client, login):
    """A casting director's production (casting), a role, and a self-tape audition due in a week."""
    owner = login("casting_director")
    production = client.post("/api/productions/", headers=owner, json={
        "title": "Monsoon Wedding 2", "type": "film", "status": "casting"}).json["id"]
    role = client.post(f"/api/productions/{production}/roles", headers=owner, json={"name": "Radha"}).json["id"]

    def audition(mode="self_tape", **extra):
        made = client.post("/api/auditions/", headers=owner, json={
            "production_id": production, "role_id": role, "title": "Tape round", "mode": mode, **extra})
        assert made.status_code == 201, made.json
        return made.json

    return {"owner": owner, "production": production, "role": role, "audition": audition}


def test_a_tape_goes_to_a_self_tape_audition_before_its_deadline_and_only_its_team_watches(
        app, client, login, talent, team, videos):
    me, talent_id = talent
    owner = team["owner"]
    audition = team["audition"](tape_due_at=soon())
    assert audition["tape_due_at"]
    invited = client.post(f"/api/auditions/{audition['id']}/invite", headers=owner, json={"talent_ids": [talent_id]})
    assert invited.json["invited"] == 1
    first = upload(client, me, videos["phone"])
    sent = client.post(f"/api/tapes/{first['id']}/submit", headers=me, json={"audition_id": audition["id"]})
    assert sent.status_code == 200, sent.json
    assert [(item["kind"], item["audition_id"]) for item in sent.json["sent_to"]] == [("audition", audition["id"])]
    # the team sees it at once, and can watch it once the worker is done
    assert client.get(f"/api/tapes/{first['id']}", headers=owner).json["video_url"] is None
    run_jobs(app)
    seen = client.get(f"/api/tapes/{first['id']}", headers=owner).json
    assert seen["status"] == "ready" and seen["video_url"] and seen["poster_url"] and "upload" not in seen
    review = client.get("/api/tapes/", headers=owner, query_string={"audition_id": audition["id"]}).json
    assert [(item["id"], item["talent_id"]) for item in review["items"]] == [(first["id"], talent_id)]
    assert review["items"][0]["poster_url"]
    # nobody else: another casting director, another talent; the team changes nothing
    stranger, other_talent = login("casting_director", "other@example.in"), login("talent", "asha@example.in")
    for headers in (stranger, other_talent):
        assert client.get(f"/api/tapes/{first['id']}", headers=headers).json["code"] == "TAPE_001"
    assert client.get("/api/tapes/", headers=stranger, query_string={"audition_id": audition["id"]}).status_code == 404
    assert client.get("/api/tapes/", headers=other_talent).json["items"] == []
    assert client.delete(f"/api/tapes/{first['id']}", headers=owner).json["code"] == "AUTH_007"
    assert client.post(f"/api/tapes/{first['id']}/submit", headers=owner,
                       json={"audition_id": audition["id"]}).status_code == 403
    # replaced before the deadline: the team's list shows the new one only
    second = upload(client, me, videos["phone"])
    assert client.post(f"/api/tapes/{second['id']}/submit", headers=me,
                       json={"audition_id": audition["id"]}).status_code == 200
    review = client.get("/api/tapes/", headers=owner, query_string={"audition_id": audition["id"]}).json
    assert [item["id"] for item in review["items"]] == [second["id"]]
    assert client.get(f"/api/tapes/{first['id']}", headers=owner).json["code"] == "TAPE_001"
    assert client.get(f"/api/tapes/{first['id']}", headers=me).json["sent_to"] == []
    # after the deadline, no more
    client.put(f"/api/auditions/{audition['id']}", headers=owner, json={
        "tape_due_at": (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()})
    late = client.post(f"/api/tapes/{first['id']}/submit", headers=me, json={"audition_id": audition["id"]})
    assert (late.status_code, late.json["code"]) == (409, "TAPE_005") and late.json["details"]["deadline"]
    review = client.get("/api/tapes/", headers=owner, query_string={"audition_id": audition["id"]}).json
    assert [item["id"] for item in review["items"]] == [second["id"]]


def test_where_a_tape_cannot_go(app, client, talent, team, videos):
    me, talent_id = talent
    owner = team["owner"]
    in_person = team["audition"]("in_person")
    not_invited = team["audition"]()
    dated = team["audition"]()
    for audition in (in_person, dated):
        client.post(f"/api/auditions/{audition['id']}/invite", headers=owner, json={"talent_ids": [talent_id]})
    still_uploading = upload(client, me, videos["phone"], complete=False)
    refused = client.post(f"/api/tapes/{still_uploading['id']}/submit", headers=me,
                          json={"audition_id": dated["id"]})
    assert (refused.status_code, refused.json["code"]) == (409, "TAPE_004")
    tape = upload(client, me, videos["phone"])
    path = f"/api/tapes/{tape['id']}/submit"
    wrong_mode = client.post(path, headers=me, json={"audition_id": in_person["id"]})
    assert (wrong_mode.status_code, wrong_mode.json["code"]) == (409, "TAPE_006")
    assert client.post(path, headers=me, json={"audition_id": not_invited["id"]}).json["code"] == "AUDITION_003"
    assert client.post(path, headers=me, json={}).status_code == 422
    assert client.post(path, headers=me, json={"audition_id": 1, "submission_id": 1}).status_code == 422
    # without tape_due_at, tapes are due by the end of the scheduled day in the audition's zone
    with app.app_context():
        from casting.auditions.models import Audition
        from casting.tapes.services import deadline_of

        db.session.execute(update(Audition).where(Audition.id == dated["id"]).values(
            scheduled_date=(datetime.now(timezone.utc) - timedelta(days=2)).date()))
        db.session.commit()
        due = deadline_of(db.session.get(Audition, dated["id"]))
        assert due.utcoffset() == timedelta(hours=5, minutes=30) and (due.hour, due.minute) == (0, 0)
    late = client.post(path, headers=me, json={"audition_id": dated["id"]})
    assert (late.status_code, late.json["code"]) == (409, "TAPE_005")


def test_a_tape_goes_with_a_call_submission_and_shows_in_the_review_list(
        app, client, signed_in, talent, team, videos):
    from casting.calls.models import CastingCall
    from tests.test_calls import add_media
    from casting.talents.models import MediaKind

    me, talent_id = talent
    owner = team["owner"]
    add_media(app, talent_id, MediaKind.HEADSHOT)
    call = client.post("/api/calls/", headers=owner,
                       json={"role_id": team["role"], "deadline": soon(), "self_tape": True}).json
    submission = client.post(f"/api/calls/{call['id']}/submissions", headers=me, json={})
    assert submission.status_code == 201, submission.json
    tape = upload(client, me, videos["phone"])
    run_jobs(app)
    sent = client.post(f"/api/tapes/{tape['id']}/submit", headers=me, json={"submission_id": submission.json["id"]})
    assert sent.status_code == 200 and sent.json["sent_to"][0]["call_id"] == call["id"]
    review = client.get(f"/api/calls/{call['id']}/submissions", headers=owner,
                        query_string={"has_self_tape": "true"}).json["items"]
    assert [item["self_tape_id"] for item in review] == [tape["id"]]
    shown = review[0]["self_tape"]
    assert shown["status"] == "ready" and shown["poster_url"] and shown["video_url"]
    assert client.get(f"/api/tapes/{tape['id']}", headers=owner).json["video_url"]
    assert client.get("/api/tapes/", headers=owner, query_string={"call_id": call["id"]}).json["meta"]["total"] == 1
    # someone else's submission is not yours to send to; a closed call takes no tape
    other, other_id = signed_in("talent", "asha@example.in")
    other_talent = client.post("/api/talents/", json=profile(stage_name="Asha"), headers=other).json["id"]
    add_media(app, other_talent, MediaKind.HEADSHOT)
    theirs = client.post(f"/api/calls/{call['id']}/submissions", headers=other, json={}).json["id"]
    assert client.post(f"/api/tapes/{tape['id']}/submit", headers=me,
                       json={"submission_id": theirs}).json["code"] == "CALL_007"
    with app.app_context():
        db.session.execute(update(CastingCall).where(CastingCall.id == call["id"]).values(self_tape=False))
        db.session.commit()
    no_tapes = client.post(f"/api/tapes/{tape['id']}/submit", headers=me, json={"submission_id": submission.json["id"]})
    assert (no_tapes.status_code, no_tapes.json["code"]) == (409, "TAPE_006")
    with app.app_context():
        db.session.execute(update(CastingCall).where(CastingCall.id == call["id"]).values(
            self_tape=True, deadline=datetime.now(timezone.utc) - timedelta(minutes=1)))
        db.session.commit()
    late = client.post(f"/api/tapes/{tape['id']}/submit", headers=me, json={"submission_id": submission.json["id"]})
    assert (late.status_code, late.json["code"]) == (409, "TAPE_005")


def test_an_agent_uploads_for_the_talent_they_represent_and_watches_with_range_requests(app, client, login, videos):
    agent = login("agent")
    talent_id = client.post("/api/talents/", json=profile(stage_name="Meera"), headers=agent).json["id"]
    assert client.post("/api/tapes/", headers=agent, json={"filename": "a.mov", "size_bytes": 10}).status_code == 422
    tape = upload(client, agent, videos["phone"], talent_id=talent_id)
    run_jobs(app)
    ready = client.get(f"/api/tapes/{tape['id']}", headers=agent).json
    whole = fetch(client, ready["video_url"])
    ranged = fetch(client, ready["video_url"], Range="bytes=100-299")
    assert ranged.status_code == 206 and ranged.data == whole.data[100:300]
    assert ranged.headers["Content-Range"] == f"bytes 100-299/{len(whole.data)}"
    assert ranged.headers["Accept-Ranges"] == "bytes" and "private" in ranged.headers["Cache-Control"]
    url = urlsplit(ready["video_url"])
    expired = client.get(url.path, query_string={**{k: v[0] for k, v in parse_qs(url.query).items()},
                                                 "expires": "1000"})
    assert expired.json["code"] == "MEDIA_005"
    assert client.delete(f"/api/tapes/{tape['id']}", headers=agent).status_code == 204
    assert [path for path in Path(app.config["MEDIA_ROOT"]).rglob("*") if path.is_file()] == []


def test_on_s3_parts_go_straight_to_the_bucket_and_links_are_presigned(app, client, talent, videos, s3, monkeypatch):
    import boto3
    from moto.s3 import models as moto_s3

    me, _ = talent
    data = videos["phone"]
    # moto, like S3, refuses parts under 5 MiB but the last; these test videos are a few KiB
    monkeypatch.setattr(moto_s3, "S3_UPLOAD_PART_MIN_SIZE", 256)
    tape = start(client, me, data)
    first = tape["upload"]["parts"][0]["url"]
    assert first.startswith(app.config["S3_ENDPOINT_URL"]) and "uploadId=" in first and "X-Amz-Signature" in first
    assert requests.put(first, data=data[:PART], timeout=10).status_code == 200
    state = client.get(f"/api/tapes/{tape['id']}/upload", headers=me).json
    assert [part["number"] for part in state["received"]] == [1]
    for part in state["parts"]:
        sent = requests.put(part["url"], data=data[(part["number"] - 1) * PART:part["number"] * PART], timeout=10)
        assert sent.status_code == 200 and sent.headers["ETag"]
    assert client.post(f"/api/tapes/{tape['id']}/upload/complete", headers=me).status_code == 202
    run_jobs(app)
    ready = client.get(f"/api/tapes/{tape['id']}", headers=me).json
    assert ready["status"] == "ready" and "X-Amz-Signature" in ready["video_url"]
    whole = requests.get(ready["video_url"], timeout=10)
    ranged = requests.get(ready["video_url"], headers={"Range": "bytes=0-99"}, timeout=10)
    assert whole.status_code == 200 and ranged.status_code == 206 and ranged.content == whole.content[:100]
    assert requests.get(ready["poster_url"], timeout=10).content[:3] == b"\xff\xd8\xff"
    assert [key.rsplit(".", 1)[-1] for key in s3()] == ["jpg", "mp4"]  # the raw upload is gone
    # an abandoned upload is aborted on S3 too
    from casting.tapes.tasks import prune_abandoned_uploads

    abandoned = start(client, me, data)
    bucket = boto3.client("s3", region_name="ap-south-1", endpoint_url=app.config["S3_ENDPOINT_URL"])
    uploads = bucket.list_multipart_uploads(Bucket=app.config["S3_BUCKET"]).get("Uploads", [])
    assert len(uploads) == 1
    with app.app_context():
        db.session.execute(update(Tape).where(Tape.id == abandoned["id"]).values(
            created_at=datetime.now(timezone.utc) - timedelta(hours=25)))
        db.session.commit()
        assert prune_abandoned_uploads() == 1
    assert bucket.list_multipart_uploads(Bucket=app.config["S3_BUCKET"]).get("Uploads", []) == []
