"""CPU per audition list in one process, for the invited demo talent and the demo casting director.

`python -m bench.audition_list_cpu` (under `flock /work/bench.lock`, on the benchmark's seeded servers,
BENCH_INSTANCE): signs each in, lists `/api/auditions/` 20 times to warm up, then 5 rounds of 40, and prints
the median round's CPU milliseconds per list (this process only; PostgreSQL's work is not in it).
"""
import os
import statistics
import time

from bench.__main__ import service_env, service_urls
from bench.routes import DEMO_LOGIN, DIRECTOR_LOGIN

ROUNDS, PER_ROUND = 5, 40


def main():
    os.environ.update(service_env(service_urls()))  # as `make bench` starts the service: limits lifted
    from casting.app import create_app

    client = create_app().test_client()
    for name, login in (("invited talent", DEMO_LOGIN), ("casting director", DIRECTOR_LOGIN)):
        headers = {"Authorization": "Bearer " + client.post("/api/auth/login", json=login).json["access_token"]}
        for _ in range(20):
            client.get("/api/auditions/", headers=headers)
        rounds = []
        for _ in range(ROUNDS):
            started = time.process_time()
            for _ in range(PER_ROUND):
                assert client.get("/api/auditions/", headers=headers).status_code == 200
            rounds.append((time.process_time() - started) * 1000 / PER_ROUND)
        print(f"{name}: {statistics.median(rounds):.2f} ms of CPU per list (median of {ROUNDS} rounds of {PER_ROUND})")


if __name__ == "__main__":
    main()
