"""CPU per uncached page of a role's matches in one process, for the benchmark's three roles.

`BENCH_INSTANCE=<instance> python -m bench.matches_cpu` (under `flock /work/bench.lock`, on the benchmark's seeded
servers): signs the demo casting director in, then before every request moves the talent list's version and a
topic the rankings read (as an edit of a talent's experience does), so each page is ranked, not served from the
cache; 3 warm-up requests per role, then 5 rounds of 10. Prints the statements one page makes and the median
round's CPU milliseconds per page (this process only; PostgreSQL's work is not in it).
"""
import os
import statistics
import time

from sqlalchemy import event

from bench.__main__ import service_env, service_urls
from bench.routes import DIRECTOR_LOGIN

ROLES = ["/api/productions/1/roles/1/matches", "/api/productions/1/roles/2/matches",
         "/api/productions/2/roles/3/matches"]
ROUNDS, PER_ROUND = 5, 10


def main():
    os.environ.update(service_env(service_urls()))  # as `make bench` starts the service: limits lifted
    from casting.app import create_app
    from casting.kernel.extensions import db, redis
    from casting.talents.cache import TOPICS_KEY, VERSION_KEY

    app = create_app()
    client = app.test_client()
    headers = {"Authorization": "Bearer " + client.post("/api/auth/login", json=DIRECTOR_LOGIN).json["access_token"]}
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

        def ranked(path):
            with redis.pipeline() as pipe:  # the caller's kept page and the ranking both miss
                pipe.incr(VERSION_KEY).hincrby(TOPICS_KEY, "experience_years", 1).execute()
            statements.clear()
            page = client.get(path, headers=headers)
            assert page.status_code == 200, page.json
            return len(statements)

        for path in ROLES:
            counts = [ranked(path) for _ in range(3)]
            print(f"{path}: {counts[-1]} statements a page")
        for path in ROLES:
            rounds = []
            for _ in range(ROUNDS):
                started = time.process_time()
                for _ in range(PER_ROUND):
                    ranked(path)
                rounds.append((time.process_time() - started) * 1000 / PER_ROUND)
            print(f"{path}: {statistics.median(rounds):.2f} ms of CPU per ranked page "
                  f"(median of {ROUNDS} rounds of {PER_ROUND})")


if __name__ == "__main__":
    main()
