"""Self-tapes (issue 23): resumable multipart uploads on disk and S3, the worker's ffprobe/ffmpeg pass, sending a
tape to a self-tape audition or a call submission before the deadline, who may watch, and range requests."""
import json
import subprocess  # nosec B404
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import update

from casting.extensions import db
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
    assert not parts_dir.exists()
    assert client.get(f"/api/tapes/{old['id']}", headers=me).json["code"] == "TAPE_001"
    assert client.get(f"/api/tapes/{fresh['id']}", headers=me).json["status"] == "uploading"
