"""`make load`: the load test of real journeys (bench/locustfile.py) against the service run as production.

Like `make bench` it starts gunicorn (gevent, WEB_CONCURRENCY workers) on a seeded database of its own
(LOAD_INSTANCE, default instance/load) with the `flask seed` commands, adds the accounts the crowd signs
in with, and drives it from Locust, headless, on the loopback address only. Modes (LOAD_MODE):

- `run` (default): LOAD_USERS people (1,000), spawned LOAD_SPAWN_RATE a second, then LOAD_MINUTES (5) at
  full strength; the statistics cover that steady part only, from LOAD_SETTLE_SECONDS (15) after the crowd is
  complete, so the requests the ramp queued are not counted in it (the locustfile resets them then).
- `steps`: one shorter run (LOAD_STEP_MINUTES) per crowd size in LOAD_STEPS; finds the knee, the most
  people at which the run's goals hold (every read's p99 under 200 ms, every write's under 500 ms, errors
  under 0.1 %), with the service's CPU per request there.
- `overload`: wrk with LOAD_OVERLOAD_CONNECTIONS (1,000) connections and no think time on a casting
  team's read mix for LOAD_OVERLOAD_SECONDS, with a 2 s timeout: every request must be answered in time,
  served or refused (503 SERVER_003 / 429 with Retry-After), none timed out.

Each prints a Markdown table (bench/results/load-*.md) with the load average beside it.
"""
import csv
import json
import os
import random
import subprocess  # nosec B404
import sys
import time
from pathlib import Path

import psutil
import requests

from bench.__main__ import BIN, RESULTS, ROOT, cpu_seconds, service_env, service_urls, start, stop

USERS = int(os.environ.get("LOAD_USERS", "1000"))
SPAWN_RATE = float(os.environ.get("LOAD_SPAWN_RATE", "10"))
MINUTES = float(os.environ.get("LOAD_MINUTES", "5"))
SETTLE = float(os.environ.get("LOAD_SETTLE_SECONDS", "15"))
MODE = os.environ.get("LOAD_MODE", "run")
STEPS = [int(step) for step in os.environ.get("LOAD_STEPS", "100,200,300,400,600,800,1000").split(",")]
STEP_MINUTES = float(os.environ.get("LOAD_STEP_MINUTES", "1"))
TALENTS = int(os.environ.get("LOAD_TALENTS", "20000"))  # seeded profiles (searched, opened, invited)
CASTING_PERCENT = int(os.environ.get("LOAD_CASTING_PERCENT", "20"))
OVERLOAD_CONNECTIONS = int(os.environ.get("LOAD_OVERLOAD_CONNECTIONS", "1000"))
OVERLOAD_SECONDS = int(os.environ.get("LOAD_OVERLOAD_SECONDS", "30"))
INSTANCE = Path(os.environ.get("LOAD_INSTANCE", ROOT / "instance" / "load"))
PREPARE = [["flask", "db", "upgrade"], ["flask", "seed", "demo"],
           ["flask", "seed", "talents", str(TALENTS), "--up-to", "--vectors"]]
READ_GOAL_MS, WRITE_GOAL_MS, ERROR_GOAL = 200, 500, 0.001
# A request reads unless it changes something: searches are POSTs that only read.
READ_POSTS = {"/api/talents/search"}


def setup(talents, casting):
    """Accounts for the crowd (made once, kept): `talents` talent users, each owning a seeded profile, and
    `casting` casting directors, each with a production and a role; one conversation per talent with
    their casting director. Prints them as JSON, with a session token per casting director."""
    from sqlalchemy import func, select, text
    from sqlalchemy.dialects.postgresql import insert

    from casting import create_app
    from casting.auth import sessions
    from casting.kernel.extensions import db
    from casting.kernel.requestid import Client
    from casting.messaging import services as messaging
    from casting.kernel.pii import blind_index
    from casting.productions.models import CastingRole, Production
    from casting.seeding import DEMO_PASSWORD, DEMO_PRODUCTIONS
    from casting.talents.models import Talent
    from casting.users.models import Role, User
    from casting.users.services import hash_password

    device = Client("127.0.0.1", "casting-load-test")  # the sessions' device, as a sign-in records it

    app = create_app()
    with app.test_request_context(headers={"User-Agent": "load"}):
        password_hash = hash_password(DEMO_PASSWORD)
        emails = [(f"load-talent-{n}@example.in", Role.TALENT) for n in range(talents)]
        emails += [(f"load-casting-{n}@example.in", Role.CASTING_DIRECTOR) for n in range(casting)]
        rows = [{"full_name": f"Load {role.value} {n}", "role": role, "email": email, "email_index": blind_index(email),
                 "password_hash": password_hash, "email_verified": True} for n, (email, role) in enumerate(emails)]
        for first in range(0, len(rows), 1000):
            db.session.execute(insert(User).values(rows[first:first + 1000]).on_conflict_do_nothing())
        db.session.commit()
        ids = dict(db.session.execute(select(User.email_index, User.id).where(
            User.email_index.in_([row["email_index"] for row in rows]))).all())
        user_ids = [ids[row["email_index"]] for row in rows]
        talent_users, casting_users = user_ids[:talents], user_ids[talents:]
        # each talent user without a profile takes a seeded one nobody owns
        db.session.execute(text(
            "WITH need AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users WHERE id = ANY(:ids) "
            "  AND NOT EXISTS (SELECT 1 FROM talents t WHERE t.user_id = users.id)), "
            "free AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM talents "
            "  WHERE user_id IS NULL AND deleted_at IS NULL ORDER BY id LIMIT :count) "
            "UPDATE talents SET user_id = need.id FROM need JOIN free USING (n) WHERE talents.id = free.id"),
            {"ids": talent_users, "count": talents})
        db.session.commit()
        profiles = dict(db.session.execute(select(Talent.user_id, Talent.id).where(
            Talent.user_id.in_(talent_users))).all())
        empty_portfolios(profiles)
        spec = DEMO_PRODUCTIONS[0]
        for user_id in casting_users:
            if not db.session.scalar(select(func.count()).where(Production.owner_id == user_id)):
                fields = {key: value for key, value in spec.items() if key != "roles"}
                db.session.add(Production(owner_id=user_id, **{**fields, "title": f"Load production {user_id}"},
                                          roles=[CastingRole(**spec["roles"][0])]))
        db.session.commit()
        productions = {owner: (production, role) for owner, production, role in db.session.execute(
            select(Production.owner_id, Production.id, func.min(CastingRole.id))
            .join(CastingRole, CastingRole.production_id == Production.id)
            .where(Production.owner_id.in_(casting_users)).group_by(Production.owner_id, Production.id)).all()}
        people = {"password": DEMO_PASSWORD, "seeded_talents": TALENTS, "talents": [], "casting": []}
        for n, user_id in enumerate(casting_users):
            production, role = productions[user_id]
            people["casting"].append({"email": emails[talents + n][0], "user_id": user_id, "production_id": production,
                                      "role_id": role, "token": sessions.start(db.session.get(User, user_id), device)[
                                          "access_token"], "talents": []})
        for n, user_id in enumerate(talent_users):
            team = people["casting"][n % casting]
            conversation, _ = messaging.start(db.session.get(User, team["user_id"]), [user_id])
            people["talents"].append({"email": emails[n][0], "user_id": user_id, "talent_id": profiles[user_id],
                                      "conversation_id": conversation.id, "casting": n % casting})
            team["talents"].append(profiles[user_id])
            team.setdefault("conversation_id", conversation.id)
        db.session.commit()
    return people


def empty_portfolios(profiles):
    """Every crowd talent starts with an empty portfolio (`profiles`: user id -> talent id): an earlier run left up
    to three photos each, and runs enough would fill the portfolios (409 `MEDIA_LIMIT`) and the media folder.
    Portfolio photos only: they derive nothing (a headshot would move the profile score), so no list moves."""
    from sqlalchemy import delete

    from casting.kernel.extensions import db
    from casting.media import file_storage
    from casting.talents import cache as talent_cache
    from casting.talents.models import MediaKind, TalentMedia

    left = db.session.execute(delete(TalentMedia).where(TalentMedia.talent_id.in_(list(profiles.values())),
                                                        TalentMedia.kind == MediaKind.PORTFOLIO)
                              .returning(TalentMedia.talent_id, TalentMedia.key, TalentMedia.thumbnail_key)).all()
    db.session.commit()
    file_storage().forget(*(key for _, *keys in left for key in keys if key))
    owners = {talent_id: user_id for user_id, talent_id in profiles.items()}
    for talent_id in {talent_id for talent_id, *_ in left}:
        talent_cache.forget(talent_id, owners[talent_id], set())  # their cached profiles list the photos


def auditions(base, people):
    """Over HTTP, as a casting team would: each director makes an audition of their production, schedules
    its slots and invites their talents, so every talent has an invitation to read and answer."""
    for team in people["casting"]:
        headers = {"Authorization": f"Bearer {team.pop('token')}"}
        made = requests.post(f"{base}/api/auditions/", headers=headers, timeout=60, json={
            "production_id": team["production_id"], "role_id": team["role_id"], "title": "Load test round",
            "mode": "in_person"})
        made.raise_for_status()
        team["audition_id"] = made.json()["id"]
        requests.post(f"{base}/api/auditions/{team['audition_id']}/schedule", headers=headers, timeout=60, json={
            "start_at": "2027-03-10T10:00:00", "end_at": "2027-03-10T18:00:00", "slot_minutes": 10,
            "capacity_per_slot": 5}).raise_for_status()
        requests.post(f"{base}/api/auditions/{team['audition_id']}/invite", headers=headers, timeout=60,
                      json={"talent_ids": team["talents"]}).raise_for_status()
    for talent in people["talents"]:
        talent["auditions"] = [people["casting"][talent["casting"]]["audition_id"]]
    return people


def load_average():
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def is_read(method, name):
    return method == "GET" or name in READ_POSTS


def locust(base, env, service, users, minutes, label):
    """One headless Locust run: `users` people, spawned at SPAWN_RATE, SETTLE seconds for what the ramp queued,
    then `minutes` at full strength. Returns (rows of the stats CSV, the service's CPU seconds over the steady
    part, its seconds)."""
    ramp = users / SPAWN_RATE + SETTLE
    prefix = RESULTS / f"load-{label}"
    command = [str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "--host", base,
               "-u", str(users), "-r", str(SPAWN_RATE), "-t", f"{int(ramp + minutes * 60)}s",
               "--csv", str(prefix), "--only-summary", "--stop-timeout", "15", "--loglevel", "WARNING"]
    log = open(RESULTS / f"load-{label}.log", "w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)  # nosec B603
    time.sleep(ramp)
    cpu_before, generator_before, started = cpu_seconds(service), cpu_seconds(process), time.monotonic()
    load_during, generator = [], 0.0
    while process.poll() is None:
        load_during.append(os.getloadavg()[0])
        try:
            generator = cpu_seconds(process) - generator_before
        except psutil.NoSuchProcess:
            pass
        time.sleep(5)
    cpu, seconds = cpu_seconds(service) - cpu_before, time.monotonic() - started
    with open(f"{prefix}_stats.csv") as stats:
        rows = list(csv.DictReader(stats))
    return rows, cpu, seconds, {"peak_load": max(load_during, default=float("nan")),
                                "generator_cores": generator / seconds}


def summary(rows):
    """Per request: p50, p95, p99, errors, req/s; then reads, writes and everything together."""
    requests_rows = [row for row in rows if row["Name"] != "Aggregated"]
    table = ["| request | kind | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    kinds = {"read": [], "write": []}
    for row in sorted(requests_rows, key=lambda row: -int(row["Request Count"])):
        kind = "read" if is_read(row["Type"], row["Name"]) else "write"
        kinds[kind].append(row)
        table.append(f"| {row['Type']} {row['Name']} | {kind} | {row['Request Count']} | {row['Failure Count']} | "
                     f"{_number(row['Requests/s']):.1f} | {row['50%']} | {row['95%']} | {row['99%']} |")
    total = next(row for row in rows if row["Name"] == "Aggregated")
    count, failures = int(total["Request Count"]), int(total["Failure Count"])
    worst = {kind: max((_number(row["99%"]) for row in found if int(row["Request Count"])), default=float("nan"))
             for kind, found in kinds.items()}  # a type with no request in the steady part (the connects) has no p99
    table.append(f"| **all** | | {count} | {failures} | {_number(total['Requests/s']):.1f} | {total['50%']} | "
                 f"{total['95%']} | {total['99%']} |")
    return "\n".join(table), {"requests": count, "failures": failures, "error_rate": failures / max(count, 1),
                              "rps": _number(total["Requests/s"]), "p99": _number(total["99%"]),
                              "worst_read_p99": worst["read"], "worst_write_p99": worst["write"]}


def goals(totals):
    """(goal, met, figure) for each of the crowd's goals: errors, every read's p99, every write's p99."""
    return [("errors < 0.1 %", totals["error_rate"] < ERROR_GOAL, f"{totals['error_rate'] * 100:.3f} %"),
            (f"every read's p99 < {READ_GOAL_MS} ms", totals["worst_read_p99"] < READ_GOAL_MS,
             f"worst {totals['worst_read_p99']:.0f} ms"),
            (f"every write's p99 < {WRITE_GOAL_MS} ms", totals["worst_write_p99"] < WRITE_GOAL_MS,
             f"worst {totals['worst_write_p99']:.0f} ms")]


def verdict(totals):
    return "\n".join(f"- {name}: {'met' if ok else 'NOT met'} ({value})" for name, ok, value in goals(totals))


def run(base, env, service):
    rows, cpu, seconds, machine = locust(base, env, service, USERS, MINUTES, "run")
    table, totals = summary(rows)
    header = (f"{USERS} people (spawned {SPAWN_RATE:g}/s), {MINUTES:g} min at full strength (counted from "
              f"{SETTLE:g} s after the crowd was complete), think time "
              f"{env.get('LOAD_THINK_MIN', '5')}-{env.get('LOAD_THINK_MAX', '30')} s, WEB_CONCURRENCY="
              f"{env['WEB_CONCURRENCY']}, {os.cpu_count()} CPUs (Locust on the same machine); "
              f"{load_average()} at the end, 1-min peak {machine['peak_load']:.1f} during the run")
    cpu_note = (f"service CPU: {cpu * 1000 / max(totals['requests'], 1):.2f} ms per request "
                f"({cpu / seconds:.2f} cores); Locust: {machine['generator_cores']:.2f} cores")
    return f"{header}\n\n{table}\n\n{cpu_note}\n{verdict(totals)}\n"


def steps(base, env, service):
    lines = ["| people | req/s | p50 ms | p99 ms | worst read p99 | worst write p99 | errors | CPU ms/req | "
             "service cores | Locust cores | load avg (peak) |", "|" + "---:|" * 11]
    knee, details = None, []
    for users in STEPS:
        rows, cpu, seconds, machine = locust(base, env, service, users, STEP_MINUTES, f"step-{users}")
        table, totals = summary(rows)
        cpu_ms = cpu * 1000 / max(totals["requests"], 1)
        total = next(row for row in rows if row["Name"] == "Aggregated")
        lines.append(f"| {users} | {totals['rps']:.1f} | {total['50%']} | {total['99%']} | "
                     f"{totals['worst_read_p99']:.0f} | {totals['worst_write_p99']:.0f} | "
                     f"{totals['failures']} ({totals['error_rate'] * 100:.2f} %) | {cpu_ms:.2f} | "
                     f"{cpu / seconds:.2f} | {machine['generator_cores']:.2f} | {machine['peak_load']:.1f} |")
        print(lines[-1], flush=True)
        details.append(f"### {users} people\n\n{table}\n")
        if all(met for _, met, _ in goals(totals)):
            knee = (users, cpu_ms)
    note = (f"knee: {knee[0]} people (the most at which every read's p99 stays under {READ_GOAL_MS} ms, every "
            f"write's under {WRITE_GOAL_MS} ms and errors under 0.1 %), {knee[1]:.2f} ms of service CPU per "
            "request there" if knee else "no step met the goals")
    return (f"step test, {STEP_MINUTES:g} min per step at full strength (counted from {SETTLE:g} s after the "
            f"crowd was complete), spawned {SPAWN_RATE:g}/s; "
            f"{load_average()} at the end\n\n" + "\n".join(lines) + f"\n\n{note}\n\n" + "\n".join(details))


def overload(base, env, people):
    """wrk, no think time, LOAD_OVERLOAD_CONNECTIONS connections, 2 s timeout, a casting team's read mix."""
    team = people["casting"][0]
    token = requests.post(f"{base}/api/auth/login", timeout=30, json={
        "identifier": team["email"], "password": people["password"]}).json()["access_token"]
    paths = ["/api/talents/", "/api/talents/?city=Mumbai&skills=Acting", "/api/talents/featured", "/api/auth/me",
             *(f"/api/talents/{random.randint(1, TALENTS)}" for _ in range(20))]
    wrk_env = {**os.environ, "LOAD_PATHS": "\n".join(paths), "LOAD_AUTHORIZATION": f"Bearer {token}"}
    command = ["wrk", "-t2", f"-c{OVERLOAD_CONNECTIONS}", f"-d{OVERLOAD_SECONDS}s", "--timeout", "2s",
               "-s", str(ROOT / "bench" / "overload.lua"), base + "/api/talents/"]
    output = subprocess.run(command, env=wrk_env, capture_output=True, text=True, check=True).stdout  # nosec B603
    result = json.loads(output.strip().splitlines()[-1])
    answered_in_time = result["timeouts"] == 0 and result["socket_errors"] == 0
    explicit = result["other"] == 0
    return (f"overload: wrk, {OVERLOAD_CONNECTIONS} connections, no think time, {OVERLOAD_SECONDS} s, 2 s timeout, "
            f"read mix (list, filtered list, featured, me, profiles); {load_average()} at the end\n\n"
            "| requests | req/s | served (2xx) | refused 503 | refused 429 | other | timed out | socket errors | "
            "p50 ms | p99 ms | max ms | served req/s |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            f"| {result['requests']} | {result['rps']:.0f} | {result['ok']} | {result['busy']} | {result['limited']} | "
            f"{result['other']} | {result['timeouts']} | {result['socket_errors']} | {result['p50_ms']:.0f} | "
            f"{result['p99_ms']:.0f} | {result['max_ms']:.0f} | {result['ok'] / OVERLOAD_SECONDS:.0f} |\n\n"
            f"- every request answered within 2 s, served or refused: {'met' if answered_in_time else 'NOT met'}\n"
            f"- every answer a success or an explicit refusal: {'met' if explicit else 'NOT met'}\n")


def main():
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = service_env(service_urls(INSTANCE))
    for command in PREPARE:
        done = subprocess.run(command, cwd=ROOT, env={**env, "APP_ENV": "development"},  # nosec B603
                              check=True, capture_output=True, text=True)
        print(f"{' '.join(command)}: {(done.stdout.strip().splitlines() or [''])[-1]}", flush=True)
    accounts = max(STEPS) if MODE == "steps" else USERS
    casting = max(1, accounts * CASTING_PERCENT // 100)
    made = subprocess.run([str(BIN / "python"), "-m", "bench.load", "setup", str(accounts), str(casting)],  # nosec
                          cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    people = json.loads(made.stdout.strip().splitlines()[-1])
    service, base = start("load-service", "wsgi:app", env)
    try:
        people = auditions(base, people)
        accounts = RESULTS / "load-accounts.json"
        accounts.write_text(json.dumps(people))
        locust_env = {**env, "LOAD_ACCOUNTS": str(accounts), "LOAD_SETTLE_SECONDS": str(SETTLE),
                      "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2")}
        print(f"service at {base}; {len(people['talents'])} talent and {casting} casting accounts; mode {MODE}",
              flush=True)
        if MODE == "steps":
            report = steps(base, locust_env, service)
        elif MODE == "overload":
            report = overload(base, locust_env, people)
        else:
            report = run(base, locust_env, service)
    finally:
        stop(service)
    (RESULTS / f"load-{MODE}.md").write_text(report)
    print(report)


if __name__ == "__main__" and sys.argv[1:2] == ["setup"]:
    print(json.dumps(setup(int(sys.argv[2]) - int(sys.argv[3]), int(sys.argv[3]))))
elif __name__ == "__main__":
    main()
