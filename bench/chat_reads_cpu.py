"""CPU per chat read in one process: the conversation list, and a page of a conversation's messages, for a
talent (one conversation) and a casting director (several).

`BENCH_INSTANCE=instance/load python -m bench.chat_reads_cpu` (under `flock /work/bench.lock`, on the servers
of the load test's instance, which `make load` seeds with these accounts): signs each in, reads each route 10
times to warm up, then 5 rounds of 30, and prints the statements one read makes and the median round's CPU
milliseconds per read (this process only; PostgreSQL's work is not in it).
"""
import os
import statistics
import time

from sqlalchemy import event

from bench.__main__ import service_env, service_urls
from casting.seeding import DEMO_PASSWORD

ROUNDS, PER_ROUND = 5, 30
PEOPLE = {"talent": "load-talent-7@example.in", "casting director": "load-casting-3@example.in"}


def main():
    os.environ.update(service_env(service_urls()))  # as `make bench` starts the service: limits lifted
    from casting.app import create_app
    from casting.kernel.extensions import db

    app = create_app()
    client = app.test_client()
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for name, email in PEOPLE.items():
        token = client.post("/api/auth/login", json={"identifier": email, "password": DEMO_PASSWORD}).json
        headers = {"Authorization": "Bearer " + token["access_token"]}
        listed = client.get("/api/conversations", headers=headers).json
        reads = {"conversation list": "/api/conversations",
                 "messages": f"/api/conversations/{listed['items'][0]['id']}/messages"}
        for route, path in reads.items():
            for _ in range(10):
                client.get(path, headers=headers)
            statements.clear()
            client.get(path, headers=headers)
            made = len(statements)
            rounds = []
            for _ in range(ROUNDS):
                started = time.process_time()
                for _ in range(PER_ROUND):
                    assert client.get(path, headers=headers).status_code == 200
                rounds.append((time.process_time() - started) * 1000 / PER_ROUND)
            print(f"{name} ({listed['meta']['total']} conversations), {route}: {made} statements, "
                  f"{statistics.median(rounds):.2f} ms of CPU per read (median of {ROUNDS} rounds of {PER_ROUND})")


if __name__ == "__main__":
    main()
