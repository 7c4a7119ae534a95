"""CPU per chat read in one process: the conversation list, and a page of a conversation's messages, for a
talent (one conversation) and a casting director (several).

`BENCH_INSTANCE=instance/load python -m bench.chat_reads_cpu` (under `flock /work/bench.lock`, on the servers
of the load test's instance, which `make load` seeds with these accounts): signs each in, reads each route 10
times to warm up, then 5 rounds of 30, and prints the statements one read makes and the median round's CPU
milliseconds per read (this process only; PostgreSQL's work is not in it).
"""
from bench.cpu import app_and_client, bearer, cpu_ms, statements_of
from casting.seeding import DEMO_PASSWORD

ROUNDS, PER_ROUND = 5, 30
PEOPLE = {"talent": "load-talent-7@example.in", "casting director": "load-casting-3@example.in"}


def main():
    app, client = app_and_client()
    statements = statements_of(app)
    for name, email in PEOPLE.items():
        headers = bearer(client, {"identifier": email, "password": DEMO_PASSWORD})
        listed = client.get("/api/conversations", headers=headers).json
        reads = {"conversation list": "/api/conversations",
                 "messages": f"/api/conversations/{listed['items'][0]['id']}/messages"}
        for route, path in reads.items():
            def read():
                assert client.get(path, headers=headers).status_code == 200

            for _ in range(10):
                read()
            statements.clear()
            read()
            made = len(statements)
            print(f"{name} ({listed['meta']['total']} conversations), {route}: {made} statements, "
                  f"{cpu_ms(read, ROUNDS, PER_ROUND):.2f} ms of CPU per read "
                  f"(median of {ROUNDS} rounds of {PER_ROUND})")


if __name__ == "__main__":
    main()
