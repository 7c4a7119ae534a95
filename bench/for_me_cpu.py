"""CPU per uncached "roles for me" page in one process, for demo talent 1 over the seeded open calls.

`BENCH_INSTANCE=<instance> python -m bench.for_me_cpu` (under `flock /work/bench.lock`, on the benchmark's seeded
servers): signs the talent in, then before every request moves the calls' version on (as a new call would), so
each page is computed, not served from the cache; 5 warm-up requests, then 5 rounds of 10. Prints the statements
one page makes and the median round's CPU milliseconds per page (this process only; PostgreSQL's work is not in it).
"""
from bench.cpu import app_and_client, bearer, cpu_ms, statements_of
from bench.routes import DEMO_LOGIN

ROUNDS, PER_ROUND = 5, 10


def main():
    app, client = app_and_client()
    from casting.calls.services import VERSION_KEY
    from casting.kernel.extensions import redis

    headers = bearer(client, DEMO_LOGIN)
    statements = statements_of(app)
    with app.app_context():
        def computed():
            redis.incr(VERSION_KEY)
            statements.clear()
            page = client.get("/api/calls/for-me", headers=headers)
            assert page.status_code == 200, page.json
            return page

        for _ in range(5):
            page = computed()
        print(f"{page.json['meta']['total']} open calls fit; {len(statements)} statements a page")
        spent = cpu_ms(computed, ROUNDS, PER_ROUND)
    print(f"{spent:.2f} ms of CPU per computed page (median of {ROUNDS} rounds of {PER_ROUND})")


if __name__ == "__main__":
    main()
