"""CPU per uncached "roles for me" page in one process, for demo talent 1 over the seeded open calls.

`BENCH_INSTANCE=<instance> python -m bench.for_me_cpu` (under `flock /work/bench.lock`, on the benchmark's seeded
servers): signs the talent in, then before every request moves the calls' version on (as a new call would), so
each page is computed, not served from the cache; 5 warm-up requests, then 5 rounds of 10. Prints the statements
one page makes and the median round's CPU milliseconds per page (this process only; PostgreSQL's work is not in it).
"""
import os
import statistics
import time

from sqlalchemy import event

from bench.__main__ import service_env, service_urls
from bench.routes import DEMO_LOGIN

ROUNDS, PER_ROUND = 5, 10


def main():
    os.environ.update(service_env(service_urls()))  # as `make bench` starts the service: limits lifted
    from casting.app import create_app
    from casting.calls.services import VERSION_KEY
    from casting.kernel.extensions import db, redis

    app = create_app()
    client = app.test_client()
    headers = {"Authorization": "Bearer " + client.post("/api/auth/login", json=DEMO_LOGIN).json["access_token"]}
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

        def computed():
            redis.incr(VERSION_KEY)
            statements.clear()
            page = client.get("/api/calls/for-me", headers=headers)
            assert page.status_code == 200, page.json
            return page

        for _ in range(5):
            page = computed()
        print(f"{page.json['meta']['total']} open calls fit; {len(statements)} statements a page")
        rounds = []
        for _ in range(ROUNDS):
            started = time.process_time()
            for _ in range(PER_ROUND):
                computed()
            rounds.append((time.process_time() - started) * 1000 / PER_ROUND)
    print(f"{statistics.median(rounds):.2f} ms of CPU per computed page (median of {ROUNDS} rounds of {PER_ROUND})")


if __name__ == "__main__":
    main()
