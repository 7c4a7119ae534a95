"""What the in-process CPU timings (`bench.*_cpu`) share: the app on the benchmark's servers as `make bench` starts
the service, signing in, the statements a request sends, and the median CPU of this process per call."""
import os
import statistics
import time

from bench.__main__ import service_env, service_urls


def app_and_client():
    """The app on the servers of BENCH_INSTANCE, configured as `make bench` starts the service (limits lifted),
    and its test client."""
    os.environ.update(service_env(service_urls()))
    from casting.app import create_app

    app = create_app()
    return app, app.test_client()


def bearer(client, login):
    """The Authorization header of `login` (identifier and password) signed in."""
    return {"Authorization": "Bearer " + client.post("/api/auth/login", json=login).json["access_token"]}


def statements_of(app):
    """A list the SQL statements the app sends are appended to (clear it before what is counted): those through
    SQLAlchemy, and those `at_once` runs on psycopg itself (seen by the note it takes of each)."""
    from sqlalchemy import event

    from casting.kernel import extensions

    sent = []
    with app.app_context():
        event.listen(extensions.db.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    noted = extensions.note_statement

    def note(statement, *args):
        sent.append(statement)
        return noted(statement, *args)

    extensions.note_statement = note
    return sent


def cpu_ms(call, rounds, per_round, before_round=None):
    """The median over `rounds` rounds of `per_round` calls of `call()`: this process's CPU milliseconds per call
    (PostgreSQL's and Redis's work is not in it); `before_round()`, when given, runs untimed before each round."""
    times = []
    for _ in range(rounds):
        if before_round:
            before_round()
        started = time.process_time()
        for _ in range(per_round):
            call()
        times.append((time.process_time() - started) * 1000 / per_round)
    return statistics.median(times)
