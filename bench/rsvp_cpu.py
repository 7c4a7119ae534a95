"""CPU per RSVP that changes the answer (accept, then decline, and so on), in one process.

`BENCH_INSTANCE=<instance> python -m bench.rsvp_cpu` (under `flock /work/bench.lock`, on the benchmark's seeded
servers): the demo casting director makes an audition of 48 slots and invites demo talent 2, who answers 4 times to
warm up, then 7 rounds of 10; prints the statements of one accept and one decline and the median round's CPU
milliseconds per RSVP (this process only). Each round starts from an empty history, and the audition is deleted at
the end, so runs do not drift.
"""
from itertools import cycle

from sqlalchemy import text

from bench.cpu import app_and_client, bearer, cpu_ms, statements_of
from bench.routes import DIRECTOR_LOGIN
from casting.seeding import DEMO_PASSWORD

ROUNDS, PER_ROUND = 7, 10
ANSWERS = ("accept", "decline")


def main():
    app, client = app_and_client()
    from casting.kernel.extensions import db

    talent = bearer(client, {"identifier": "talent2@demo.casting.in", "password": DEMO_PASSWORD})
    director = bearer(client, DIRECTOR_LOGIN)
    talent_id = client.get("/api/talents/me", headers=talent).json["id"]
    audition = client.post("/api/auditions/", headers=director, json={
        "production_id": 1, "title": "RSVP CPU", "mode": "in_person"}).json["id"]
    statements = statements_of(app)
    answers = cycle(ANSWERS)  # an even number of answers a round: each round starts with an accept

    def rsvp(answer=None):
        answered = client.post(f"/api/auditions/{audition}/rsvp", json={"response": answer or next(answers)},
                               headers=talent)
        assert answered.status_code == 200, answered.json

    def empty_history():
        with app.app_context():
            db.session.execute(text("DELETE FROM invitation_events WHERE invitation_id IN "
                                    "(SELECT id FROM invitations WHERE audition_id = :audition)"),
                               {"audition": audition})
            db.session.commit()

    try:
        assert client.post(f"/api/auditions/{audition}/schedule", headers=director, json={
            "start_at": "2027-01-10T10:00:00", "end_at": "2027-01-10T18:00:00", "slot_minutes": 10,
            "capacity_per_slot": 5}).status_code == 200
        assert client.post(f"/api/auditions/{audition}/invite", headers=director,
                           json={"talent_ids": [talent_id]}).status_code == 202
        for _ in range(4):
            rsvp()
        for answer in ANSWERS:
            statements.clear()
            rsvp(answer)
            print(f"{answer}: {len(statements)} statements")
        spent = cpu_ms(rsvp, ROUNDS, PER_ROUND, before_round=empty_history)
        print(f"{spent:.2f} ms of CPU per changing RSVP (median of {ROUNDS} rounds of {PER_ROUND})")
    finally:
        with app.app_context():
            db.session.execute(text("DELETE FROM auditions WHERE id = :audition"), {"audition": audition})
            db.session.commit()


if __name__ == "__main__":
    main()
