"""Talent photos (CONTRACT §3): checked by content, stripped of EXIF/GPS, thumbnailed, on disk or S3."""
import io
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image

from tests.test_talents import profile

GPS_IFD = 0x8825


def image_bytes(image_format="JPEG", size=(40, 20), orientation=None, gps=False, noise=False):
    image = Image.effect_noise(size, 80).convert("RGB") if noise else Image.new("RGB", size, (200, 40, 40))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (19.0, 4.0, 30.0), 3: "E", 4: (72.0, 52.0, 40.0)})
    out = io.BytesIO()
    options = {"exif": exif.tobytes()} if (orientation or gps) else {}
    if image_format == "JPEG":
        options["xmp"] = b"<x:xmpmeta><GPSLatitude>19,4.5N</GPSLatitude></x:xmpmeta>"
    image.save(out, image_format, **options)
    return out.getvalue()


def upload(client, talent_id, headers, data, kind="headshot", filename="photo.jpg", mimetype="image/jpeg"):
    return client.post(f"/api/talents/{talent_id}/media", headers=headers, content_type="multipart/form-data",
                       data={"kind": kind, "file": (io.BytesIO(data), filename, mimetype)})


@pytest.fixture(autouse=True)
def media_root(app, tmp_path):
    """Each test keeps its disk files in its own folder."""
    app.config["MEDIA_ROOT"] = str(tmp_path / "media")


@pytest.fixture
def own_talent(client, login):
    me = login("talent")
    return me, client.post("/api/talents/", json=profile(), headers=me).json["id"]


def fetch(client, url):
    """Fetch a disk-storage link through the app; returns the response."""
    parts = urlsplit(url)
    return client.get(parts.path, query_string={k: v[0] for k, v in parse_qs(parts.query).items()})


def test_a_headshot_is_re_encoded_without_metadata_and_thumbnailed(client, own_talent, app):
    me, talent_id = own_talent
    original = image_bytes(orientation=6, gps=True)
    assert b"GPSLatitude" in original
    created = upload(client, talent_id, me, original)
    assert created.status_code == 201, created.json
    media = created.json
    assert (media["kind"], media["content_type"], media["width"], media["height"]) == (
        "headshot", "image/jpeg", 20, 40)
    assert media["url"].startswith("http://localhost/api/media/talents/")
    stored = fetch(client, media["url"])
    assert stored.status_code == 200 and "private" in stored.headers["Cache-Control"]
    with Image.open(io.BytesIO(stored.data)) as image:
        assert image.format == "JPEG" and image.size == (20, 40)
        assert not image.getexif() and "xmp" not in image.info
    assert b"GPSLatitude" not in stored.data and b"Exif" not in stored.data
    with Image.open(io.BytesIO(fetch(client, media["thumbnail_url"]).data)) as thumbnail:
        assert thumbnail.format == "WEBP"
    seen = client.get(f"/api/talents/{talent_id}", headers=me).json
    assert seen["headshot"]["id"] == media["id"] and [m["id"] for m in seen["media"]] == [media["id"]]


def test_a_new_headshot_replaces_the_old_one_and_its_files(client, own_talent, app):
    me, talent_id = own_talent
    first = upload(client, talent_id, me, image_bytes()).json
    files = list(Path(app.config["MEDIA_ROOT"], "talents", str(talent_id)).iterdir())
    assert len(files) == 2
    second = upload(client, talent_id, me, image_bytes("PNG"), filename="me.png", mimetype="image/png").json
    assert second["content_type"] == "image/png"
    assert not any(path.exists() for path in files)
    seen = client.get(f"/api/talents/{talent_id}", headers=me).json
    assert seen["headshot"]["id"] == second["id"] and len(seen["media"]) == 1 and first["id"] != second["id"]


@pytest.mark.parametrize("data,filename,mimetype", [
    (b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF", "headshot.jpg", "image/jpeg"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "anim.gif", "image/gif"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "x.png", "image/png"),
    (image_bytes()[:200], "cut.jpg", "image/jpeg"),
])
def test_anything_but_a_whole_jpeg_png_or_webp_is_a_415(client, own_talent, data, filename, mimetype):
    me, talent_id = own_talent
    response = upload(client, talent_id, me, data, filename=filename, mimetype=mimetype)
    assert (response.status_code, response.json["code"]) == (415, "MEDIA_001")
    assert client.get(f"/api/talents/{talent_id}", headers=me).json["media"] == []


def test_size_and_pixel_limits_are_413s_and_other_bad_input_is_refused(app, client, own_talent):
    me, talent_id = own_talent
    app.config.update(MEDIA_MAX_BYTES=30_000, MEDIA_MAX_PIXELS=100_000)
    big = image_bytes("PNG", size=(150, 150), noise=True)
    assert len(big) > 30_000
    response = upload(client, talent_id, me, big, filename="big.png", mimetype="image/png")
    assert (response.status_code, response.json["code"]) == (413, "MEDIA_002")
    response = upload(client, talent_id, me, image_bytes(size=(400, 300)))
    assert (response.status_code, response.json["code"], response.json["details"]) == (
        413, "MEDIA_002", {"max_pixels": 100_000})
    response = client.post(f"/api/talents/{talent_id}/media", headers=me, json={"kind": "headshot"})
    assert (response.status_code, response.json["code"]) == (415, "REQUEST_005")
    response = upload(client, talent_id, me, image_bytes(), kind="poster")
    assert response.status_code == 422 and "kind" in response.json["details"]["fields"]
    response = client.post(f"/api/talents/{talent_id}/media", headers=me, content_type="multipart/form-data",
                           data={"kind": "headshot"})
    assert response.status_code == 422 and "file" in response.json["details"]["fields"]


def test_who_may_add_and_delete_media(client, login, own_talent):
    me, talent_id = own_talent
    other, director, agent, admin = (login("talent", "other@example.in"), login("casting_director"),
                                     login("agent"), login("admin"))
    assert upload(client, talent_id, other, image_bytes()).status_code == 403
    assert upload(client, talent_id, director, image_bytes()).status_code == 403
    assert upload(client, talent_id, agent, image_bytes()).status_code == 403
    represented = client.post("/api/talents/", json=profile(stage_name="Ravi"), headers=agent).json["id"]
    assert upload(client, represented, agent, image_bytes(), kind="portfolio").status_code == 201
    item = upload(client, talent_id, admin, image_bytes(), kind="portfolio").json
    assert client.delete(f"/api/talents/{talent_id}/media/{item['id']}", headers=other).status_code == 403
    assert client.delete(f"/api/talents/{represented}/media/{item['id']}", headers=agent).json["code"] == "MEDIA_003"
    assert client.post("/api/talents/999/media", headers=me, content_type="multipart/form-data",
                       data={"kind": "headshot", "file": (io.BytesIO(image_bytes()), "a.jpg")}).status_code == 404
    assert client.delete(f"/api/talents/{talent_id}/media/{item['id']}", headers=me).status_code == 204
    assert client.get(f"/api/talents/{talent_id}", headers=me).json["media"] == []
    assert fetch(client, item["url"]).status_code == 404


def test_media_links_are_signed_and_expire(client, own_talent):
    me, talent_id = own_talent
    url = upload(client, talent_id, me, image_bytes()).json["url"]
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert client.get(parts.path, query_string={**query, "signature": "0" * 64}).json["code"] == "MEDIA_005"
    assert client.get(parts.path, query_string={**query, "expires": 1}).json["code"] == "MEDIA_005"
    assert client.get("/api/media/../../config.py", query_string=query).status_code in (403, 404)


def test_s3_storage_with_presigned_links(client, own_talent, s3):
    me, talent_id = own_talent
    created = upload(client, talent_id, me, image_bytes("WEBP"), filename="me.webp", mimetype="image/webp")
    assert created.status_code == 201, created.json
    media = created.json
    keys = s3()
    assert len(keys) == 2 and all(key.startswith(f"talents/{talent_id}/") for key in keys)
    assert "X-Amz-Signature" in media["url"] and "X-Amz-Expires=3600" in media["url"]
    downloaded = requests.get(media["url"], timeout=10)
    assert downloaded.status_code == 200 and downloaded.headers["Content-Type"] == "image/webp"
    with Image.open(io.BytesIO(downloaded.content)) as image:
        assert image.format == "WEBP" and image.size == (40, 20)
    assert client.delete(f"/api/talents/{talent_id}/media/{media['id']}", headers=me).status_code == 204
    assert s3() == []


def test_a_refused_upload_leaves_no_files_behind(app, client, own_talent, s3):
    me, talent_id = own_talent
    app.config["MEDIA_PORTFOLIO_MAX"] = 1
    assert upload(client, talent_id, me, image_bytes(), kind="portfolio").status_code == 201
    kept = s3()
    response = upload(client, talent_id, me, image_bytes(), kind="portfolio")
    assert (response.status_code, response.json["code"]) == (409, "MEDIA_004")
    assert s3() == kept and len(client.get(f"/api/talents/{talent_id}", headers=me).json["media"]) == 1


def test_uploads_at_once_never_pass_the_portfolio_limit(app, client, own_talent):
    """Each upload counts the portfolio under the talent's row lock: four at once with room for two, two stored."""
    me, talent_id = own_talent
    app.config["MEDIA_PORTFOLIO_MAX"] = 2
    start, codes = threading.Barrier(4), []

    def send():
        with app.app_context():
            start.wait()
            codes.append(upload(app.test_client(), talent_id, me, image_bytes(), kind="portfolio").status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(codes) == [201, 201, 409, 409]
    assert len(client.get(f"/api/talents/{talent_id}", headers=me).json["media"]) == 2


def test_a_malformed_link_signature_is_a_422_not_a_crash(client):
    response = client.get("/api/media/talents/1/x.jpg", query_string={"expires": 1795503409, "signature": "\x80"})
    assert (response.status_code, response.json["code"]) == (422, "VALIDATION_001")
