"""The matches of the benchmark's three roles read right after a talent's day rate changed, in one process.

`python -m bench.matches_after_edit [N]` (under `flock /work/bench.lock`, on the benchmark's seeded servers,
BENCH_INSTANCE): signs in the demo casting director and admin, reads each role's matches once, then N times
(8) moves talent 3's day rate and reads the three again, and prints each role's median time (the first
round left out). A day rate is a column no ranking reads: the page must show it, and need not rank again.
"""
import os
import statistics
import sys
import time

from bench.__main__ import service_env, service_urls
from bench.routes import ADMIN_LOGIN, DIRECTOR_LOGIN

ROLES = ["/api/productions/1/roles/1/matches", "/api/productions/1/roles/2/matches",
         "/api/productions/2/roles/3/matches"]


def main(rounds):
    os.environ.update(service_env(service_urls()))  # as `make bench` starts the service: limits lifted
    from casting.app import create_app

    client = create_app().test_client()

    def bearer(login):
        return {"Authorization": "Bearer " + client.post("/api/auth/login", json=login).json["access_token"]}

    director, admin = bearer(DIRECTOR_LOGIN), bearer(ADMIN_LOGIN)
    for path in ROLES:
        client.get(path, headers=director)
    times = {path: [] for path in ROLES}
    for n in range(rounds):
        assert client.put("/api/talents/3", json={"day_rate_inr": 20000 + n}, headers=admin).status_code == 200
        for path in ROLES:
            start = time.perf_counter()
            answer = client.get(path, headers=director)
            assert answer.status_code == 200, answer.get_data(as_text=True)
            times[path].append((time.perf_counter() - start) * 1000)
    for path in ROLES:
        print(f"{path} after a day-rate edit: median {statistics.median(times[path][1:]):.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
