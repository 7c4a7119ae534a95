"""Run the service as production would, drive it with wrk, compare it with a bare Flask app.

Each route's row gives req/s, p50, p99 and errors from wrk, and the CPU milliseconds per request that the
service's processes (gunicorn master and workers, from psutil) spent over the timed run: steadier than
req/s on a shared machine.

Settings: BENCH_DURATION (seconds per route), BENCH_CONNECTIONS, BENCH_THREADS, WEB_CONCURRENCY,
BENCH_TALENTS (profiles to seed), BENCH_AUDITIONS (auditions to seed, with slots and invitations),
BENCH_ONLY (only routes whose name contains it; `a|b` for either of two). The service runs
on its own embedded servers under BENCH_INSTANCE (default instance/bench; keep one per size) or on
DATABASE_URL/REDIS_URL.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess  # nosec B404
import sys
import time
import urllib.request

import psutil
from pathlib import Path

from bench import chat, vectors
from bench.routes import APP_ROUTES, REFERENCE_HELLO, REFERENCE_SELECT, admitted, audition_routes, calls_routes

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
WORKERS = int(os.environ.get("WEB_CONCURRENCY", "2"))
ONLY = os.environ.get("BENCH_ONLY", "")  # run only the routes whose name contains this (`a|b`: either)

# The benchmark's database lives on between runs, so its (fake) data keeps fixed PII keys.
TALENTS = int(os.environ.get("BENCH_TALENTS", "100000"))
AUDITIONS = int(os.environ.get("BENCH_AUDITIONS", "10000"))
CALLS = int(os.environ.get("BENCH_CALLS", "100000"))  # open casting calls (roles for me ranks them all)
# Loading the data is a development step (the demo admin is never seeded in production); the service
# itself then runs in production mode, on the same database and keys.
PREPARE = [["flask", "db", "upgrade"], ["flask", "seed", "demo"],
           ["flask", "seed", "talents", str(TALENTS), "--up-to", "--vectors"],
           ["flask", "seed", "auditions", str(AUDITIONS), "--up-to"],
           ["flask", "seed", "calls", str(CALLS), "--up-to", "--submissions", "10000", "--represented", "100000"]]


def chosen(name):
    """Whether BENCH_ONLY asks for the route `name` (any of its `|`-separated fragments in the name)."""
    return any(part in name for part in ONLY.split("|"))


def pii_key(secret, purpose):
    from config import pii_key as derive

    return derive(secret, purpose)


def service_urls(instance=None):
    """DATABASE_URL and REDIS_URL, or embedded servers of the benchmark's own under `instance` (default
    BENCH_INSTANCE, else instance/bench)."""
    from casting.kernel.embedded import EmbeddedPostgres, EmbeddedRedis

    instance = Path(instance or os.environ.get("BENCH_INSTANCE", ROOT / "instance" / "bench"))
    return {"DATABASE_URL": os.environ.get("DATABASE_URL") or EmbeddedPostgres(instance).attach(),
            "REDIS_URL": os.environ.get("REDIS_URL") or EmbeddedRedis(instance).attach()}


SEED_QUERY = ("SELECT id FROM talents WHERE location @> '{\"city\": \"Mumbai\"}' "
              "AND skills @> '[\"Acting\", \"Dancing\"]' AND availability_status = 'available' "
              "AND deleted_at IS NULL")


def _index_names(plan):
    names = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", []):
        names |= _index_names(child)
    return names


def _plan_shape(plan):
    """A plan in one line: `Bitmap Heap Scan on talents < Bitmap Index Scan on ix_talents_seed`."""
    node = plan["Node Type"] + (f" on {plan['Relation Name']}" if "Relation Name" in plan else "") + (
        f" on {plan['Index Name']}" if "Index Name" in plan else "")
    children = [_plan_shape(child) for child in plan.get("Plans", [])]
    return node + (" < " + ", ".join(children) if children else "")


def seed_query_report(database_url):
    """The issue's seed query on the benchmark database: its plan's indexes and the median of 5 runs."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        talents = conn.execute("SELECT count(*) FROM talents").fetchone()[0]
        conn.execute("ANALYZE talents")
        runs = [conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + SEED_QUERY).fetchone()[0][0] for _ in range(5)]
    times = sorted(run["Execution Time"] for run in runs)
    indexes = sorted(_index_names(runs[-1]["Plan"]))
    rows = runs[-1]["Plan"]["Actual Rows"]
    return (f"seed query on {talents:,} talents: {times[2]:.1f} ms median of 5 ({rows:,.0f} rows; "
            f"indexes: {', '.join(indexes) or 'none'}; plan: {_plan_shape(runs[-1]['Plan'])})")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(name, app, env):
    """Start gunicorn for `app` with the project's gunicorn.conf.py; its log goes to bench/results."""
    port = free_port()
    log = open(RESULTS / f"{name}.log", "w")
    process = subprocess.Popen(  # nosec B603
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", app], cwd=ROOT, stdout=log, stderr=log,
        env={**env, "PORT": str(port), "WEB_CONCURRENCY": str(WORKERS)}, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    probe = base + ("/api/health" if app == "wsgi:app" else "/hello")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            urllib.request.urlopen(probe, timeout=2)  # nosec B310
            return process, base
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise SystemExit(f"{name} did not start; see {log.name}:\n" + Path(log.name).read_text()[-2000:])


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


_sequence = {}  # route name -> the next `{n}` it may use (a number is never sent twice, across runs too)


def drive(base, route, seconds):
    """One wrk run against `route`; returns its JSON line (req/s, p50, p99, errors)."""
    first = _sequence.get(route.name, route.sequence_from)
    env = {**os.environ, "BENCH_METHOD": route.method, "BENCH_BODY": route.body,
           "BENCH_FIRST": str(first), "BENCH_STRIDE": str(THREADS),
           "BENCH_EXPECT": str(route.expect), "BENCH_VARY": "1" if route.vary else "0",
           "BENCH_AUTHORIZATION": route.authorization(base) if route.authorization else ""}
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(ROOT / "bench" / "report.lua"), base + route.path]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout  # nosec B603
    result = json.loads(output.strip().splitlines()[-1])
    _sequence[route.name] = first + (result["requests"] + 1) * THREADS  # no thread sent more than all of them
    return result


REDIS = {}  # the service's Redis URL, to make a route's first request miss every cached list


def first_request_ms(base, route):
    """One request on its own, before wrk warms any cache: the uncached latency (the talent list version
    and the `rows` topic are moved on first, as a new talent would, so nothing an earlier run cached
    answers it)."""
    if REDIS.get("url"):
        import redis

        from casting.talents.cache import ROWS, TOPICS_KEY, VERSION_KEY

        with redis.Redis.from_url(REDIS["url"]).pipeline(transaction=False) as pipe:
            pipe.incr(VERSION_KEY).hincrby(TOPICS_KEY, ROWS, 1).execute()
    headers = {"Authorization": route.authorization(base)} if route.authorization else {}
    if route.body:
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    response = admitted(route.method, base + route.path, headers=headers, data=route.body or None, timeout=120)
    assert response.status_code == route.expect, response.text[:300]
    return (time.perf_counter() - started) * 1000


def cpu_seconds(process):
    """User + system CPU seconds so far of a gunicorn master and its workers (those alive now)."""
    total = 0.0
    for member in [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def measure(process, base, route):
    """One route: the uncached first request (if asked), a warm-up, then the timed run with its CPU cost."""
    cold = first_request_ms(base, route) if route.cold else None
    drive(base, route, 1)
    cpu_before = cpu_seconds(process)
    result = drive(base, route, DURATION)
    result["cpu_ms"] = (cpu_seconds(process) - cpu_before) * 1000 / max(result["requests"], 1)
    if cold is not None:
        print(f"{route.name}: first request (uncached) {cold:.1f} ms", flush=True)
        result["first_ms"] = cold
    return result


def chat_report(process, base, env):
    """Chat with BENCH_CHAT_CLIENTS clients connected: connect, steady, burst (see bench/chat.py)."""
    made = subprocess.run([str(BIN / "python"), "-m", "bench.chat", "setup", str(chat.CLIENTS)], cwd=ROOT,  # nosec
                          env=env, check=True, capture_output=True, text=True)
    result = chat.report(chat.measure(base, json.loads(made.stdout.strip().splitlines()[-1]),
                                      lambda: cpu_seconds(process)))
    print(result, flush=True)
    return result


def chat_only(env):
    """`BENCH_ONLY=chat`: the service and the chat phases alone, on a migrated database, nothing seeded."""
    subprocess.run(["flask", "db", "upgrade"], cwd=ROOT, env={**env, "APP_ENV": "development"},  # nosec B603 B607
                   check=True, capture_output=True, text=True)
    service, base = start("service", "wsgi:app", env)
    try:
        result = chat_report(service, base, env)
    finally:
        stop(service)
    report = f"WEB_CONCURRENCY={WORKERS}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end\n"
    (RESULTS / "chat.md").write_text(report + result + "\n")
    print(report, flush=True)


def table(rows, hello, select):
    lines = ["| route | req/s | p50 ms | p99 ms | errors | CPU ms/req | vs hello | vs select 1 | p99 vs select 1 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, result in rows:
        rps = result["rps"]
        if "first_ms" in result:
            name += f" (first, uncached: {result['first_ms']:.0f} ms)"
        lines.append(f"| {name} | {rps:.0f} | {result['p50_ms']:.1f} | {result['p99_ms']:.1f} | "
                     f"{result['errors']} | {result['cpu_ms']:.2f} | {rps / hello['rps']:.2f} | "
                     f"{rps / select['rps']:.2f} | {result['p99_ms'] / select['p99_ms']:.2f} |")
    return "\n".join(lines)


def service_env(urls):
    """The service's environment: production mode on `urls`, fixed PII keys, providers that deliver nothing
    (no worker runs), and limits lifted, since every client of a run comes from one loopback address."""
    return {**os.environ, **urls, "APP_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
            "JWT_SECRET_KEY": secrets.token_hex(32), "PII_KEYS": pii_key("bench", "pii"),
            "PII_INDEX_KEY": pii_key("bench", "pii-index"), "METRICS_TOKEN": secrets.token_hex(32),
            "PUBLIC_BASE_URL": "http://127.0.0.1",  # production refuses to start without it; no link is followed
            # Production refuses the console providers; nothing is delivered during a run (no worker).
            "WHATSAPP_PROVIDER": "cloud", "WHATSAPP_API_BASE": "http://127.0.0.1:9", "WHATSAPP_PHONE_NUMBER_ID": "0",
            "WHATSAPP_ACCESS_TOKEN": "bench", "WHATSAPP_APP_SECRET": "bench", "WHATSAPP_VERIFY_TOKEN": "bench",
            "SMS_PROVIDER": "msg91", "MSG91_API_BASE": "http://127.0.0.1:9", "MSG91_AUTH_KEY": "bench",
            "MSG91_SENDER_ID": "BENCH", "MSG91_WEBHOOK_TOKEN": "bench", "EMAIL_PROVIDER": "smtp",
            "RATELIMIT_DEFAULT": "10000000/minute", "RATELIMIT_SEARCH": "10000000/minute",
            "RATELIMIT_UPLOAD": "10000000/minute", "RATELIMIT_SIGN_IN": "10000000/minute",
            # the login route signs one account in over and over: its flood guards would refuse it
            "LOGIN_LIMIT_PER_IDENTIFIER": "10000000/minute", "LOGIN_LIMIT_PER_IP": "10000000/minute",
            "CHAT_SEND_LIMIT": "10000000/minute", "CHAT_CONVERSATION_LIMIT": "10000000/minute",
            # every run invites the same 500 talent again: the per-talent cap would skip them after a few runs
            "INVITE_LIMIT_PER_TALENT": "10000000/minute",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def main():
    if not shutil.which("wrk"):
        raise SystemExit("bench needs wrk: install Debian's `wrk` package (make bench does it).")
    RESULTS.mkdir(parents=True, exist_ok=True)
    env, seeded = service_env(service_urls()), ""
    if ONLY == "chat":  # the chat phases need only the schema (their users are made by bench.chat setup)
        return chat_only(env)
    for command in PREPARE:
        done = subprocess.run(command, cwd=ROOT, env={**env, "APP_ENV": "development"},  # nosec B603
                              check=True, capture_output=True, text=True)
        last = (done.stdout.strip().splitlines() or [''])[-1]
        seeded = last if command[:3] == ["flask", "seed", "talents"] else seeded  # the HNSW build time
        print(f"{' '.join(command)}: {last}", flush=True)
    REDIS["url"] = env["REDIS_URL"]
    seed_query = seed_query_report(env["DATABASE_URL"])
    print(seed_query, flush=True)
    if ONLY in "vectors":
        measured = subprocess.run([str(BIN / "python"), "-m", "bench.vectors"], cwd=ROOT, env=env,  # nosec B603
                                  check=True, stdout=subprocess.PIPE, text=True)  # its errors reach the console
        seed_query += "\n" + vectors.report(json.loads(measured.stdout.strip().splitlines()[-1]), seeded)
        print(seed_query.splitlines()[-1], flush=True)
    processes, chat_result = [], None
    try:
        reference, reference_base = start("reference", "bench.reference:app", env)
        processes.append(reference)
        hello = measure(reference, reference_base, REFERENCE_HELLO)
        select = measure(reference, reference_base, REFERENCE_SELECT)
        stop(reference)
        service, base = start("service", "wsgi:app", env)
        processes.append(service)
        rows = [(REFERENCE_HELLO.name, hello), (REFERENCE_SELECT.name, select)]
        routes = APP_ROUTES + audition_routes(base) + calls_routes(base)
        rows += [(route.name, measure(service, base, route)) for route in routes if chosen(route.name)]
        if ONLY in "chat":
            chat_result = chat_report(service, base, env)
    finally:
        for process in processes:
            stop(process)
    header = (f"duration {DURATION}s per route, {CONNECTIONS} connections, {THREADS} wrk threads, "
              f"WEB_CONCURRENCY={WORKERS}, {os.cpu_count()} CPUs")
    report = header + "\n" + seed_query + "\n\n" + table(rows, hello, select) + "\n"
    if chat_result:
        report += "\n" + chat_result + "\n"
    (RESULTS / "latest.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
