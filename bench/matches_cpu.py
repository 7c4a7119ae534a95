"""CPU per uncached page of a role's matches in one process, for the benchmark's three roles.

`BENCH_INSTANCE=<instance> python -m bench.matches_cpu` (under `flock /work/bench.lock`, on the benchmark's seeded
servers): signs the demo casting director in, then before every request moves the talent list's version and a
topic the rankings read (as an edit of a talent's experience does), so each page is ranked, not served from the
cache; 3 warm-up requests per role, then 5 rounds of 10. Prints the statements one page makes and the median
round's CPU milliseconds per page (this process only; PostgreSQL's work is not in it).
"""
from bench.cpu import app_and_client, bearer, cpu_ms, statements_of
from bench.routes import DIRECTOR_LOGIN

ROLES = ["/api/productions/1/roles/1/matches", "/api/productions/1/roles/2/matches",
         "/api/productions/2/roles/3/matches"]
ROUNDS, PER_ROUND = 5, 10


def main():
    app, client = app_and_client()
    from casting.kernel.extensions import redis
    from casting.talents.cache import TOPICS_KEY, VERSION_KEY

    headers = bearer(client, DIRECTOR_LOGIN)
    statements = statements_of(app)
    with app.app_context():
        def ranked(path):
            with redis.pipeline() as pipe:  # the caller's kept page and the ranking both miss
                pipe.incr(VERSION_KEY).hincrby(TOPICS_KEY, "experience_years", 1).execute()
            statements.clear()
            page = client.get(path, headers=headers)
            assert page.status_code == 200, page.json

        for path in ROLES:
            for _ in range(3):
                ranked(path)
            print(f"{path}: {len(statements)} statements a page")
        for path in ROLES:
            spent = cpu_ms(lambda: ranked(path), ROUNDS, PER_ROUND)
            print(f"{path}: {spent:.2f} ms of CPU per ranked page (median of {ROUNDS} rounds of {PER_ROUND})")


if __name__ == "__main__":
    main()
