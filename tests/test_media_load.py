"""Uploads cannot exhaust the service (issue 14, item 4): pixels are bounded by the header before any
decode, and image work runs on a bounded pool off the gevent loop, so a burst of costly uploads leaves
a real gunicorn/gevent server answering other requests."""
import io
import struct
import threading
import time
import zlib

import pytest
import requests
from PIL import Image

from casting.media import images
from tests.test_chat_live import start_server


def header_only_png(width, height):
    """A PNG whose header claims `width`x`height` and which has no pixel data at all: decoding it fails."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IEND", b""))


def png(width, height):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def attach(client, headers, data):
    return client.post("/api/attachments", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), "photo.png", "image/png")})


def test_the_default_pixel_ceiling_refuses_a_49_megapixel_image_by_its_header(client, signed_in, app):
    headers, _ = signed_in("talent", "asha@example.in")
    assert app.config["MEDIA_MAX_PIXELS"] == 40_000_000
    bomb = png(8100, 6050)  # 49 MP in about 150 KB
    assert len(bomb) < 200_000
    response = attach(client, headers, bomb)
    assert (response.status_code, response.json["code"], response.json["details"]) == (
        413, "MEDIA_002", {"max_pixels": 40_000_000})
    # A header with no pixels behind it: refused as too large (413), which it could only be before any
    # decode; decoding it would have found it damaged (415).
    response = attach(client, headers, header_only_png(8100, 6050))
    assert (response.status_code, response.json["code"]) == (413, "MEDIA_002")
    assert attach(client, headers, header_only_png(4000, 3000)).json["code"] == "MEDIA_001"
    started = time.process_time()
    with pytest.raises(Exception) as refused:
        images._process(bomb, 40_000_000)
    assert refused.value.status == 413 and time.process_time() - started < 0.1


def test_a_picture_is_shrunk_as_it_loads_and_keeps_its_colours_and_orientation():
    palette = Image.new("P", (5000, 100))
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    palette.paste(1, (0, 0, 5000, 100))
    out = io.BytesIO()
    palette.save(out, "PNG")
    picture = images._process(out.getvalue(), 40_000_000)
    assert (picture.width, picture.height) == (4096, 82)
    with Image.open(io.BytesIO(picture.data)) as stored:
        assert stored.mode == "RGB" and stored.getpixel((2000, 40)) == (10, 200, 30)


@pytest.fixture(scope="module")
def server(server_urls, tmp_path_factory):
    """One real server process: gunicorn with one gevent worker, two media threads."""
    process, url = start_server(server_urls, tmp_path_factory.mktemp("media-load"))
    try:
        yield url
    finally:
        process.terminate()
        process.wait(20)


@pytest.mark.timeout(180)
def test_a_burst_of_costly_uploads_does_not_stall_other_requests(server, signed_in):
    headers, _ = signed_in("talent", "asha@example.in")
    costly = png(7300, 5475)  # just under the 40 MP ceiling: about a second of decoding and resizing each
    session = requests.Session()

    def get_health():
        started = time.monotonic()
        assert session.get(f"{server}/api/health", timeout=30).status_code == 200
        return time.monotonic() - started

    normal = min(get_health() for _ in range(5))
    refusals = ((header_only_png(8100, 6050), 413, "MEDIA_002"), (header_only_png(400, 300), 415, "MEDIA_001"))
    for data, status, code in refusals:
        refused = requests.post(f"{server}/api/attachments", headers=headers, timeout=30,
                                files={"file": ("photo.png", data, "image/png")})
        assert (refused.status_code, refused.json()["code"]) == (status, code)  # errors come back from the pool
    results, finished = [], []

    def upload():
        response = requests.post(f"{server}/api/attachments", headers=headers, timeout=120,
                                 files={"file": ("photo.png", costly, "image/png")})
        results.append(response.status_code)
        finished.append(time.monotonic())

    uploads = [threading.Thread(target=upload) for _ in range(6)]
    burst_started = time.monotonic()
    for thread in uploads:
        thread.start()
    time.sleep(0.3)  # the uploads are in: their bodies are small, their pixels are not
    latencies = []
    while any(thread.is_alive() for thread in uploads):
        latencies.append(get_health())
        time.sleep(0.05)
    for thread in uploads:
        thread.join()
    assert results == [201] * 6
    burst = max(finished) - burst_started
    assert burst > 1.0 and latencies, burst  # the GETs ran while the pool was busy
    assert max(latencies) < 1.0, (normal, burst, latencies)
    print(f"burst {burst:.2f} s; GET normally {normal * 1000:.0f} ms, during the burst at most "
          f"{max(latencies) * 1000:.0f} ms over {len(latencies)} GETs")
