"""CPU per RSVP that changes the answer (accept, then decline, and so on), in one process.

`BENCH_INSTANCE=<instance> python -m bench.rsvp_cpu` (under `flock /work/bench.lock`, on the benchmark's seeded
servers): the demo casting director makes an audition of 48 slots and invites demo talent 2, who answers 4 times to
warm up, then 7 rounds of 10; prints the statements of one accept and one decline and the median round's CPU
milliseconds per RSVP (this process only). Each round starts from an empty history, and the audition is deleted at
the end, so runs do not drift.
"""
import os
import statistics
import time

from sqlalchemy import event, text

from bench.__main__ import service_env, service_urls
from bench.routes import DIRECTOR_LOGIN
from casting.seeding import DEMO_PASSWORD

ROUNDS, PER_ROUND = 7, 10
ANSWERS = ("accept", "decline")


def main():
    os.environ.update(service_env(service_urls()))  # as `make bench` starts the service: limits lifted
    from casting.app import create_app
    from casting.kernel.extensions import db

    app = create_app()
    client = app.test_client()

    def bearer(login):
        return {"Authorization": "Bearer " + client.post("/api/auth/login", json=login).json["access_token"]}

    talent = bearer({"identifier": "talent2@demo.casting.in", "password": DEMO_PASSWORD})
    director = bearer(DIRECTOR_LOGIN)
    talent_id = client.get("/api/talents/me", headers=talent).json["id"]
    audition = client.post("/api/auditions/", headers=director, json={
        "production_id": 1, "title": "RSVP CPU", "mode": "in_person"}).json["id"]
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def rsvp(answer):
        answered = client.post(f"/api/auditions/{audition}/rsvp", json={"response": answer}, headers=talent)
        assert answered.status_code == 200, answered.json

    try:
        assert client.post(f"/api/auditions/{audition}/schedule", headers=director, json={
            "start_at": "2027-01-10T10:00:00", "end_at": "2027-01-10T18:00:00", "slot_minutes": 10,
            "capacity_per_slot": 5}).status_code == 200
        assert client.post(f"/api/auditions/{audition}/invite", headers=director,
                           json={"talent_ids": [talent_id]}).status_code == 202
        for n in range(4):
            rsvp(ANSWERS[n % 2])
        for answer in ANSWERS:
            statements.clear()
            rsvp(answer)
            print(f"{answer}: {len(statements)} statements")
        rounds = []
        for _ in range(ROUNDS):
            with app.app_context():
                db.session.execute(text("DELETE FROM invitation_events WHERE invitation_id IN "
                                        "(SELECT id FROM invitations WHERE audition_id = :audition)"),
                                   {"audition": audition})
                db.session.commit()
            started = time.process_time()
            for n in range(PER_ROUND):
                rsvp(ANSWERS[n % 2])
            rounds.append((time.process_time() - started) * 1000 / PER_ROUND)
        print(f"{statistics.median(rounds):.2f} ms of CPU per changing RSVP (median of {ROUNDS} rounds of {PER_ROUND})")
    finally:
        with app.app_context():
            db.session.execute(text("DELETE FROM auditions WHERE id = :audition"), {"audition": audition})
            db.session.commit()


if __name__ == "__main__":
    main()
