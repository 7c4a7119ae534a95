"""CPU per audition list and per audition in one process, for the invited demo talent and the demo casting director.

`python -m bench.audition_list_cpu` (under `flock /work/bench.lock`, on the benchmark's seeded servers,
BENCH_INSTANCE): signs each in, reads `/api/auditions/` and the first audition it lists 20 times each to warm
up, then 5 rounds of 40, and prints the median round's CPU milliseconds per read (this process only;
PostgreSQL's work is not in it).
"""
from bench.cpu import app_and_client, bearer, cpu_ms
from bench.routes import DEMO_LOGIN, DIRECTOR_LOGIN

ROUNDS, PER_ROUND = 5, 40


def main():
    _, client = app_and_client()
    for name, login in (("invited talent", DEMO_LOGIN), ("casting director", DIRECTOR_LOGIN)):
        headers = bearer(client, login)
        first = client.get("/api/auditions/", headers=headers).json["items"][0]["id"]
        for what, path in (("list", "/api/auditions/"), ("audition", f"/api/auditions/{first}")):
            def read():
                assert client.get(path, headers=headers).status_code == 200

            for _ in range(20):
                read()
            print(f"{name}: {cpu_ms(read, ROUNDS, PER_ROUND):.2f} ms of CPU per {what} "
                  f"(median of {ROUNDS} rounds of {PER_ROUND})")


if __name__ == "__main__":
    main()
