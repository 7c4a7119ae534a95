"""Self-tapes under load: `python -m bench.tapes` (run it under `flock /work/bench.lock`).

1. Transcode cost: BENCH_TAPE_SECONDS (default 20) of 1080p30 video with sound, made by ffmpeg's test
   sources, through the worker's own conversion (`casting.tapes.video.transcode`, H.264/AAC at most
   1080p, fast start): wall and CPU seconds per minute of video.
2. Uploads do not slow the other routes: a real gunicorn/gevent server (one worker) and an RQ worker
   (`flask worker`), media on disk. A signed-in `GET /api/tapes/` (a database query) is timed one
   request after another, idle, then while BENCH_TAPE_UPLOADS clients each upload that video through
   the part URLs (8 MiB parts through the API's own part route, the disk stand-in for S3) and the worker
   converts every one of them. Reports p50/p99/max of the probe idle, while the parts arrive and while
   the worker converts, the upload rate and how long until every tape was ready.

The service runs on embedded servers under BENCH_INSTANCE (default instance/bench-tapes) or on
DATABASE_URL/REDIS_URL; everything else lives in a temporary folder.
"""
import os
import resource
import statistics
import subprocess  # nosec B404
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.__main__ import BIN, ROOT, free_port

SECONDS = int(os.environ.get("BENCH_TAPE_SECONDS", "20"))
UPLOADS = int(os.environ.get("BENCH_TAPE_UPLOADS", "4"))
PROBES_IDLE = int(os.environ.get("BENCH_TAPE_PROBES", "200"))
PASSWORD = "monsoon-kathak-audition"


def make_clip(path, seconds):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",  # nosec B603 B607
                    f"testsrc2=size=1920x1080:rate=30:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                    "-crf", "18", "-c:a", "aac", "-shortest", str(path)], check=True, timeout=600)


def transcode_cost(clip, work):
    from casting.tapes import video

    info = video.probe("ffprobe", clip)
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    video.transcode("ffmpeg", clip, work / "out.mp4", info)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    per_minute = 60 / info["duration"]
    return {"seconds": info["duration"], "wall_per_minute": wall * per_minute, "cpu_per_minute": cpu * per_minute}


def percentiles(samples):
    ordered = sorted(ms for _, ms in samples)
    return {"p50": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "max": ordered[-1], "n": len(ordered)}


def probe_until(session, url, headers, stop=None, count=None):
    """Time one request after another: [(when it started, milliseconds)]."""
    samples = []
    while (count is None or len(samples) < count) and not (stop and stop.is_set()):
        started = time.perf_counter()
        response = session.get(url, headers=headers, timeout=30)
        samples.append((started, (time.perf_counter() - started) * 1000))
        assert response.status_code == 200, response.text
    return samples


def upload(base, headers, data, filename):
    session = requests.Session()
    made = session.post(f"{base}/api/tapes/", headers=headers, timeout=30,
                        json={"filename": filename, "size_bytes": len(data), "content_type": "video/mp4"}).json()
    size = made["upload"]["part_size"]
    for part in made["upload"]["parts"]:
        start = (part["number"] - 1) * size
        sent = session.put(part["url"], data=data[start:start + size], timeout=120)
        assert sent.status_code == 200, sent.text
    done = session.post(f"{base}/api/tapes/{made['id']}/upload/complete", headers=headers, timeout=30)
    assert done.status_code == 202, done.text
    return made["id"]


def main():
    from bench.__main__ import service_urls

    os.environ.setdefault("BENCH_INSTANCE", str(ROOT / "instance" / "bench-tapes"))
    urls = service_urls()
    with tempfile.TemporaryDirectory(prefix="bench-tapes-") as folder:
        work = Path(folder)
        clip = work / "clip.mp4"
        make_clip(clip, SECONDS)
        cost = transcode_cost(clip, work)
        print(f"transcode: {cost['seconds']:.0f} s of 1080p30 video: {cost['wall_per_minute']:.1f} s wall and "
              f"{cost['cpu_per_minute']:.1f} s CPU per minute of video ({os.cpu_count()} CPUs, load "
              f"{os.getloadavg()[0]:.2f})", flush=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "COV_"))}
        env.update(urls, APP_ENV="test", INSTANCE_PATH=str(work / "instance"), MEDIA_ROOT=str(work / "media"),
                   PORT=str(port), PUBLIC_BASE_URL=base, WEB_CONCURRENCY="1", LOG_LEVEL="WARNING",
                   PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True,  # nosec B603
                       capture_output=True)
        subprocess.run([str(BIN / "python"), "-c", (  # nosec B603
            "from casting import create_app; from casting.users.services import create_user\n"
            "from casting.users.models import User; from casting.kernel.extensions import db\n"
            "from sqlalchemy import select\n"
            "app = create_app()\n"
            "with app.app_context():\n"
            f"    create_user('Bench Tape', 'talent', password='{PASSWORD}', email='tapes@bench.casting.in')\n"
            )], cwd=ROOT, env=env, capture_output=True)  # a second run finds the user there already
        web = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,  # nosec B603
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        worker = subprocess.Popen([str(BIN / "flask"), "worker", "--queues", "low"], cwd=ROOT, env=env,  # nosec B603
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{base}/api/health", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.3)
            token = requests.post(f"{base}/api/auth/login", timeout=30, json={
                "identifier": "tapes@bench.casting.in", "password": PASSWORD}).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            requests.post(f"{base}/api/talents/", headers=headers, timeout=30, json={
                "stage_name": "Bench Tape", "gender": "female", "date_of_birth": "1998-04-12",
                "location": {"city": "mumbai"}})
            session, probe_url = requests.Session(), f"{base}/api/tapes/?per_page=5"
            idle = percentiles(probe_until(session, probe_url, headers, count=PROBES_IDLE))
            data = clip.read_bytes()
            stop, busy = threading.Event(), []
            prober = threading.Thread(target=lambda: busy.extend(probe_until(session, probe_url, headers, stop)))
            prober.start()
            started = time.perf_counter()
            ids, threads = [], [threading.Thread(target=lambda n=n: ids.append(upload(base, headers, data, f"{n}.mp4")))
                                for n in range(UPLOADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            uploaded = time.perf_counter() - started
            while True:
                states = [requests.get(f"{base}/api/tapes/{tape_id}", headers=headers, timeout=30).json()["status"]
                          for tape_id in ids]
                if all(state in ("ready", "rejected", "failed") for state in states):
                    break
                time.sleep(1)
            ready = time.perf_counter() - started
            stop.set()
            prober.join()
        finally:
            for process in (web, worker):
                process.terminate()
                process.wait(30)
        uploading = percentiles([sample for sample in busy if sample[0] < started + uploaded])
        converting = percentiles([sample for sample in busy if sample[0] >= started + uploaded])
        mib = len(data) * UPLOADS / 2 ** 20
        print(f"uploads: {UPLOADS} x {len(data) / 2 ** 20:.1f} MiB in {uploaded:.1f} s "
              f"({mib / uploaded:.1f} MiB/s through the disk part route); all converted by the worker "
              f"{ready:.1f} s after the first byte ({', '.join(sorted(set(states)))})")
        print(f"GET /api/tapes/ idle: p50 {idle['p50']:.1f} ms, p99 {idle['p99']:.1f} ms, max {idle['max']:.1f} ms "
              f"({idle['n']} requests)")
        for phase, measured in (("while the parts arrive", uploading), ("while the worker converts", converting)):
            print(f"GET /api/tapes/ {phase}: p50 {measured['p50']:.1f} ms, p99 {measured['p99']:.1f} ms, "
                  f"max {measured['max']:.1f} ms ({measured['n']} requests)")
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
