"""Cached reads cost almost nothing and writes only what they must (issue 16): cached pages and profiles
are served from JSON made once, with no database connection, and still show each viewer only what
that viewer may see; a profile edit reads its row once."""
import tempfile
import threading

from psycopg import pq
from sqlalchemy import event

from casting.kernel.extensions import db
from tests.support import Counted, Statements, redis_round_trips, slowed
from tests.test_talents import profile
from tests.test_talent_media import image_bytes, media_root, upload  # noqa: F401 - a fixture
from tests.test_auditions import stage  # noqa: F401 - a fixture


class Checkouts(Counted):
    """Counts the connections the app takes from its pool while it is active."""

    def __init__(self, engine):
        super().__init__(engine.pool, "checkout")


class RoundTrips:
    """Counts what the app sends PostgreSQL and then waits on (a simple `Query` such as BEGIN, COMMIT or
    ROLLBACK, or the `Sync` that ends a statement), from libpq's own protocol trace of every connection the
    app takes from its pool while it is active (from check-out, after the pool's ping, to check-in). Its
    `sent` lists the simple queries and the statements (`Parse`) in order."""

    def __init__(self, engine):
        self.pool, self.count, self.sent, self._files, self._lock = engine.pool, 0, [], {}, threading.Lock()

    def _out(self, dbapi_connection, *args):
        trace = tempfile.TemporaryFile("w+")
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        self._files[id(dbapi_connection)] = trace

    def _in(self, dbapi_connection, *args):
        trace = self._files.pop(id(dbapi_connection), None)
        if trace is None:
            return
        dbapi_connection.pgconn.untrace()
        trace.seek(0)
        messages = []  # a statement's text may span lines: a line that is no message continues the last one
        for line in trace.read().splitlines():
            if line[:2] in ("F\t", "B\t") or not messages:
                messages.append(line.split("\t"))
            else:
                messages[-1][-1] += "\n" + line
        with self._lock:
            for parts in messages:
                if len(parts) > 2 and parts[0] == "F" and parts[2].startswith(("Query", "Sync")):
                    self.count += 1
                if len(parts) > 2 and parts[0] == "F" and parts[2].startswith(("Query", "Parse")):
                    self.sent.append(" ".join(parts[2:]))
        trace.close()

    def __enter__(self):
        event.listen(self.pool, "checkout", self._out)
        event.listen(self.pool, "checkin", self._in)
        return self

    def __exit__(self, *exc):
        event.remove(self.pool, "checkout", self._out)
        event.remove(self.pool, "checkin", self._in)


class Commands:
    """The commands clients send Redis while it is active, in order (its MONITOR; not those a Lua script runs)."""

    DONE = "casting-test-monitor-done"
    UPKEEP = {"PING", "SELECT", "CLIENT", "HELLO", "AUTH"}  # a connection's own checks, not the request's

    def __init__(self, redis_client):
        self.redis, self.sent = redis_client, []

    def _watch(self, monitor):
        while True:
            command = monitor.next_command()
            if command["command"] == f"ECHO {self.DONE}":
                return
            if command.get("client_type") != "lua" and command["command"].split()[0].upper() not in self.UPKEEP:
                self.sent.append(command["command"].split()[0].upper())

    def __enter__(self):
        self._monitor = self.redis.monitor()
        self._thread = threading.Thread(target=self._watch, args=(self._monitor.__enter__(),))
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.redis.echo(self.DONE)
        self._thread.join(10)
        self._monitor.__exit__(*exc)


def test_a_cached_page_or_profile_is_one_redis_round_trip_and_no_database_connection(app, client, login):
    """A list, a search, the featured page and a profile, once cached, are read with the sign-in check's
    one script call; nothing touches PostgreSQL."""
    me, director = login("talent"), login("casting_director")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    reads = [("get", "/api/talents/?city=Mumbai", None), ("get", "/api/talents/featured", None),
             ("get", f"/api/talents/{talent_id}", None), ("post", "/api/talents/search", {"q": "Priyanka"})]
    with app.app_context():
        engine = db.engine
    for method, path, body in reads:
        first = getattr(client, method)(path, headers=director, json=body)
        with Checkouts(engine) as checkouts:
            again, sent = redis_round_trips(app, lambda: getattr(client, method)(path, headers=director, json=body))
        assert (again.status_code, again.json) == (200, first.json)
        assert (checkouts.count, sent) == (0, ["EVALSHA"]), path


def test_an_uncached_search_is_five_redis_round_trips(app, client, login):
    """A search nobody made before, its profiles' JSON cached: the sign-in check; the claim on running the
    view; the page's listing read and, missing, claimed in the same script; after the query, the listing
    stored, its claim let go and the profiles' JSON read, in one script; the body kept and its claim let
    go."""
    me, director = login("talent"), login("casting_director")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    assert client.get(f"/api/talents/{talent_id}", headers=director).status_code == 200  # its JSON is cached
    found, sent = redis_round_trips(app, lambda: client.post("/api/talents/search", headers=director,
                                                             json={"city": "Mumbai", "age_min": 21}))
    assert [item["id"] for item in found.json["items"]] == [talent_id]
    assert sent == ["EVALSHA", "SET", "EVALSHA", "EVALSHA", "EVALSHA"]
    admin = login("admin")  # another caller: the body is not theirs, the listing is kept
    again, sent = redis_round_trips(app, lambda: client.post("/api/talents/search", headers=admin,
                                                             json={"city": "Mumbai", "age_min": 21}))
    assert again.json["items"][0]["id"] == talent_id and sent == ["EVALSHA", "SET", "EVALSHA", "EVALSHA"]


def test_concurrent_misses_of_one_listing_run_its_query_once(app, login, client, monkeypatch):
    """Four callers (each with a body cache of their own) search the same new filters at once: the query
    runs once, claimed in the script that found the listing missing; the others wait and read it."""
    from casting.talents import services

    me = login("talent")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    callers = [login("casting_director"), login("admin"), login("agent"), login("producer")]
    ran = slowed(monkeypatch, services, "search_statement")
    found, start = [], threading.Barrier(len(callers))

    def ask(headers):
        with app.app_context():
            start.wait()
            answer = app.test_client().post("/api/talents/search", headers=headers, json={"city": "Mumbai"})
            found.append((answer.status_code, [item["id"] for item in answer.json["items"]]))

    threads = [threading.Thread(target=ask, args=(headers,)) for headers in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(ran) == 1 and found == [(200, [talent_id])] * len(callers)


def test_a_cached_page_follows_a_role_change_and_a_write(app, client, login, signed_in):
    """The page kept for a caller is theirs for the role they had: made admin, they see the dates of birth
    at once; a profile edit shows in everyone's next read."""
    me = login("talent")
    director, director_id = signed_in("casting_director", "cd@example.in")
    admin = login("admin")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    for _ in range(2):
        items = client.get("/api/talents/?city=Mumbai", headers=director).json["items"]
        assert [("date_of_birth" in item) for item in items] == [False]
    assert client.put(f"/api/admin/users/{director_id}/role", json={"role": "admin"}, headers=admin).status_code == 200
    assert client.get("/api/talents/?city=Mumbai", headers=director).json["items"][0]["date_of_birth"] == "1998-04-12"
    assert client.put(f"/api/talents/{talent_id}", json={"bio": "Kathak, ten years."}, headers=me).status_code == 200
    assert client.get("/api/talents/?city=Mumbai", headers=director).json["items"][0]["bio"] == "Kathak, ten years."


def test_the_cached_json_shows_the_date_of_birth_only_to_those_who_manage_the_profile(client, login):
    me, director, admin = login("talent"), login("casting_director"), login("admin")
    agent = login("agent")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    represented = client.post("/api/talents/", json=profile(stage_name="Ravi Kumar", date_of_birth=None),
                              headers=agent).json["id"]
    for _ in range(2):  # filled by the first reader, served from the cache to the second
        for viewer, sees in ((director, set()), (me, {talent_id}), (agent, {represented}),
                             (admin, {talent_id, represented})):
            items = client.get("/api/talents/?city=Mumbai", headers=viewer).json["items"]
            assert {item["id"] for item in items if "date_of_birth" in item} == sees
            for item in items:
                single = client.get(f"/api/talents/{item['id']}", headers=viewer).json
                assert single == item
    owned = client.get(f"/api/talents/{talent_id}", headers=me).json
    assert owned["date_of_birth"] == "1998-04-12" and owned["stage_name"] == "Priyanka Joshi"
    assert client.get(f"/api/talents/{represented}", headers=agent).json["date_of_birth"] is None


def test_an_edit_that_derives_nothing_is_one_statement_and_shows_on_the_next_read(app, client, login):
    me, director = login("talent"), login("casting_director")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    for kind in ("headshot", "portfolio", "portfolio"):  # the media come back with the row, in order
        assert upload(client, talent_id, me, image_bytes(), kind=kind).status_code == 201
    before = client.get(f"/api/talents/{talent_id}", headers=director).json
    assert len(before["media"]) == 3
    with app.app_context():
        engine = db.engine
    with RoundTrips(engine) as trips:
        edited = client.put(f"/api/talents/{talent_id}", json={"day_rate_inr": 18000, "availability_status": "busy"},
                            headers=me)
    assert edited.status_code == 200, edited.json
    assert trips.count == 1, trips.sent  # the UPDATE that checks, writes and returns the row with its media
    assert trips.sent[0].startswith("Parse") and "UPDATE talents" in trips.sent[0], trips.sent
    assert edited.json["updated_at"] > before["updated_at"]
    assert {**before, "day_rate_inr": 18000, "availability_status": "busy", "updated_at": edited.json["updated_at"],
            "date_of_birth": "1998-04-12"} == edited.json  # the same profile as a read gives, and her birth date
    assert client.get(f"/api/talents/{talent_id}", headers=director).json["day_rate_inr"] == 18000


def test_an_edit_that_derives_nothing_is_refused_and_moves_only_what_it_changed(client, login, redis_client):
    """The one-statement edit checks what the read-first one does: whose profile, who features, live."""
    from casting.talents.cache import TOPICS_KEY

    me, other, admin = login("talent"), login("talent", "b@example.in"), login("admin")
    talent_id = client.post("/api/talents/", json=profile(day_rate_inr=15000), headers=me).json["id"]
    url = f"/api/talents/{talent_id}"
    client.get(url, headers=other)  # her profile is cached: the refusal must not come from it
    assert client.put(url, json={"day_rate_inr": 1}, headers=other).status_code == 403
    refused = client.put(url, json={"is_featured": True}, headers=me)
    assert refused.status_code == 403 and "is_featured" in refused.json["details"]["fields"]
    assert client.put(url, json={"is_featured": True}, headers=admin).json["is_featured"] is True
    status = client.get(url, headers=me).json["availability_status"]
    before = redis_client.hgetall(TOPICS_KEY)
    assert client.put(url, json={"availability_status": status, "day_rate_inr": 16000}, headers=me).status_code == 200
    after = redis_client.hgetall(TOPICS_KEY)
    assert {topic for topic in after if after[topic] != before.get(topic)} == {b"day_rate_inr", b"updated_at"}
    shown = client.get(url, headers=me).json
    assert (shown["day_rate_inr"], shown["is_featured"]) == (16000, True)
    assert client.delete(url, headers=me).status_code == 204
    gone = client.put(url, json={"day_rate_inr": 2}, headers=me)
    assert gone.status_code == 404 and gone.json["code"] == "TALENT_002"


def test_a_profile_edit_is_two_round_trips_to_postgresql_and_one_to_redis_after_the_principal(
        app, client, login, redis_client):
    """The row with its media, then the UPDATE ... RETURNING, which commits on its own: no BEGIN or COMMIT
    round trip, and no lock held across the request's Python. The cache is dropped in one script call."""
    from casting.talents.cache import JSON_PREFIX, TOPICS_KEY, VERSION_KEY, _owner_key

    me = login("talent")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    client.put(f"/api/talents/{talent_id}", json={"day_rate_inr": 17000}, headers=me)  # the principal is cached
    client.get(f"/api/talents/{talent_id}", headers=me)  # and the profile
    with app.app_context():
        engine = db.engine
    me_id = client.get("/api/auth/me", headers=me).json["id"]
    version, topics, owned = (redis_client.get(VERSION_KEY), redis_client.hgetall(TOPICS_KEY),
                              redis_client.get(_owner_key(me_id, "skills")))
    assert redis_client.exists(JSON_PREFIX + str(talent_id))
    with Commands(redis_client) as commands, RoundTrips(engine) as trips:
        edited = client.put(f"/api/talents/{talent_id}", json={"day_rate_inr": 18000, "skills": ["Kathak"]},
                            headers=me)
    assert edited.status_code == 200 and edited.json["day_rate_inr"] == 18000 and edited.json["skills"] == ["Kathak"]
    assert trips.count == 2, trips.sent
    assert not any(sent.startswith("Query") for sent in trips.sent), trips.sent  # no BEGIN, COMMIT, ROLLBACK
    # the principal's script, then one more: the list version, then each changed column's topic moved on for
    # every list and for its owner, this profile's entries dropped
    assert commands.sent == ["EVALSHA", "EVALSHA"], commands.sent
    assert int(redis_client.get(VERSION_KEY)) == int(version) + 1
    moved = redis_client.hgetall(TOPICS_KEY)
    assert {topic for topic in moved if moved[topic] != topics.get(topic)} >= {b"skills", b"day_rate_inr"}
    assert int(redis_client.get(_owner_key(me_id, "skills"))) == int(owned or 0) + 1
    assert not redis_client.exists(JSON_PREFIX + str(talent_id))
    with engine.connect() as connection:  # the pool put it back out of autocommit: a transaction again
        assert connection.connection.dbapi_connection.autocommit is False
    assert client.get(f"/api/talents/{talent_id}", headers=login("casting_director")).json["skills"] == ["Kathak"]


def test_the_same_rsvp_again_is_one_round_trip_and_a_change_still_locks_in_a_transaction(
        app, client, stage):  # noqa: F811 - the fixture
    audition = stage["audition"]
    client.post(f"/api/auditions/{audition}/schedule", headers=stage["owner"], json={
        "start_at": "2026-12-05T10:00:00", "end_at": "2026-12-05T10:30:00", "slot_minutes": 15,
        "capacity_per_slot": 1})
    talent_id, headers = stage["talent"]("Asha")
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [talent_id]}, headers=stage["owner"])
    path = f"/api/auditions/{audition}/rsvp"
    with app.app_context():
        engine = db.engine
    with RoundTrips(engine) as change:
        accepted = client.post(path, json={"response": "accept"}, headers=headers)
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted" and accepted.json["slot"]
    assert "BEGIN" in " ".join(change.sent) and "FOR UPDATE" in " ".join(change.sent), change.sent
    with RoundTrips(engine) as again:
        twice = client.post(path, json={"response": "accept"}, headers=headers)
    assert twice.status_code == 200 and twice.json == accepted.json and len(twice.json["history"]) == 2
    # the audition, whether it is shown, the invitation with its slot and history: one statement, no
    # BEGIN and no ROLLBACK
    assert again.count == 1, again.sent


def test_the_same_rsvp_again_answers_what_the_schema_writes_and_checks_the_slot_first(
        app, client, stage):  # noqa: F811 - the fixture
    """The same answer again is made from one row per event, outside the ORM: it equals the invitation as the
    schema writes it (statuses, slot, who, when, a note in Hindi with quotes), and a slot of another audition
    is refused before anything else, whether the answer would change or not."""
    audition, owner = stage["audition"], stage["owner"]
    window = {"start_at": "2026-12-05T10:00:00", "end_at": "2026-12-05T10:30:00", "slot_minutes": 15,
              "capacity_per_slot": 1}
    slot = client.post(f"/api/auditions/{audition}/schedule", headers=owner, json=window).json["slots"][0]["id"]
    other = client.post("/api/auditions/", headers=owner, json={
        "production_id": stage["production"], "title": "Second round", "mode": "in_person"}).json["id"]
    foreign = client.post(f"/api/auditions/{other}/schedule", headers=owner, json=window).json["slots"][0]["id"]
    talent_id, headers = stage["talent"]("Asha")
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [talent_id]}, headers=owner)
    path = f"/api/auditions/{audition}/rsvp"
    assert client.post(path, json={"response": "accept", "slot_id": slot}, headers=headers).json["slot"]["id"] == slot
    note = 'मंगलवार ठीक रहेगा — "Tuesday" works'
    moved = client.post(path, json={"response": "reschedule", "note": note}, headers=headers)
    assert moved.status_code == 200 and moved.json["status"] == "reschedule_requested"
    with app.app_context():
        engine = db.engine
    with RoundTrips(engine) as trips:
        again = client.post(path, json={"response": "reschedule"}, headers=headers)
    assert trips.count == 1, trips.sent
    listed = client.get(f"/api/auditions/{audition}/invitations", headers=headers).json["items"]
    assert again.status_code == 200 and again.json == moved.json == listed[0]
    last = again.json["history"][-1]
    assert (last["from_status"], last["to_status"], last["note"]) == ("accepted", "reschedule_requested", note)
    assert last["by_user_id"] is not None and again.json["slot"] is None
    for answer in ({"response": "reschedule", "slot_id": foreign}, {"response": "accept", "slot_id": foreign},
                   {"response": "accept", "slot_id": 10 ** 6}):
        refused = client.post(path, json=answer, headers=headers)
        assert refused.status_code == 422 and "slot_id" in refused.json["details"]["fields"], answer
    assert client.get(f"/api/auditions/{audition}/invitations", headers=headers).json["items"] == listed


def test_an_edit_that_changes_nothing_is_one_round_trip_and_drops_no_cached_list(app, client, login, redis_client):
    me, director = login("talent"), login("casting_director")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    edit = {"availability_status": "available", "day_rate_inr": 15000}
    first = client.put(f"/api/talents/{talent_id}", json=edit, headers=me)
    listed = client.get("/api/talents/?city=Mumbai", headers=director).json  # cached under the list version
    with app.app_context():
        engine = db.engine
    with Commands(redis_client) as commands, RoundTrips(engine) as trips:
        again = client.put(f"/api/talents/{talent_id}", json=edit, headers=me)
    assert again.status_code == 200 and again.json == first.json  # updated_at too: nothing was written
    assert trips.count == 1, trips.sent  # the UPDATE that finds nothing to change; no read of the row
    assert commands.sent == ["EVALSHA"], commands.sent  # the principal with the cached profile; the list version stays
    with Commands(redis_client) as commands:
        assert client.get("/api/talents/?city=Mumbai", headers=director).json == listed
    assert commands.sent == ["EVALSHA"], commands.sent  # the principal, with the cached page


def test_a_save_that_changes_nothing_caches_the_profile_it_answers_with(app, client, login, redis_client):
    """Nobody has read the profile yet: the first such save reads it (and keeps it), the next is one statement."""
    from casting.talents.cache import PROFILE_PREFIX

    me = login("talent")
    talent_id = client.post("/api/talents/", json=profile(day_rate_inr=15000), headers=me).json["id"]
    redis_client.delete(PROFILE_PREFIX + str(talent_id))
    first = client.put(f"/api/talents/{talent_id}", json={"day_rate_inr": 15000}, headers=me)
    assert first.status_code == 200 and first.json["day_rate_inr"] == 15000
    with app.app_context():
        engine = db.engine
    with RoundTrips(engine) as trips:
        again = client.put(f"/api/talents/{talent_id}", json={"day_rate_inr": 15000}, headers=me)
    assert again.json == first.json and trips.count == 1, trips.sent


def test_an_edit_drops_only_the_cached_lists_that_read_what_it_changed(app, client, login):
    """A new day rate leaves a list by city cached (no database connection to serve it again), and
    reorders the list sorted by day rate at once; moving city brings the talent into that city's list."""
    agent, director = login("agent"), login("casting_director")
    mumbai = client.post("/api/talents/", json=profile(day_rate_inr=15000), headers=agent).json["id"]
    pune = client.post("/api/talents/", json=profile(stage_name="Ravi Kumar", day_rate_inr=20000,
                                                     location={"city": "Pune"}), headers=agent).json["id"]
    by_city, by_rate = "/api/talents/?city=Pune", "/api/talents/?sort=-day_rate_inr"
    assert [item["id"] for item in client.get(by_city, headers=director).json["items"]] == [pune]
    assert [item["id"] for item in client.get(by_rate, headers=director).json["items"]] == [pune, mumbai]
    assert client.put(f"/api/talents/{mumbai}", json={"day_rate_inr": 30000}, headers=agent).status_code == 200
    with app.app_context():
        engine = db.engine
    with Checkouts(engine) as checkouts:
        assert [item["id"] for item in client.get(by_city, headers=director).json["items"]] == [pune]
    assert checkouts.count == 0  # the listing and Ravi's profile were still cached
    assert [item["id"] for item in client.get(by_rate, headers=director).json["items"]] == [mumbai, pune]
    assert client.put(f"/api/talents/{mumbai}", json={"location": {"city": "Pune"}}, headers=agent).status_code == 200
    assert {item["id"] for item in client.get(by_city, headers=director).json["items"]} == {mumbai, pune}


def test_a_photo_drops_no_cached_list_yet_shows_in_it_at_once(app, client, login):
    """A portfolio photo changes nothing a list filters or sorts on: the cached list by city is served again
    with only the talent's own profile read afresh (the photo in it). A first headshot raises the profile
    score: the featured list, sorted by it, is worked out again and puts that talent first."""
    agent, director = login("agent"), login("casting_director")
    second = client.post("/api/talents/", json=profile(stage_name="Ravi Kumar"), headers=agent).json["id"]
    first = client.post("/api/talents/", json=profile(), headers=agent).json["id"]
    by_city, featured = "/api/talents/?city=Mumbai", "/api/talents/featured"
    assert {item["id"] for item in client.get(by_city, headers=director).json["items"]} == {first, second}
    assert [item["id"] for item in client.get(featured, headers=director).json["items"]][:2] == [first, second]
    photo = upload(client, first, agent, image_bytes(), kind="portfolio")
    assert photo.status_code == 201, photo.json
    with app.app_context():
        engine = db.engine
    with Statements(engine) as statements:
        listed = client.get(by_city, headers=director).json["items"]
    assert {item["id"]: [media["id"] for media in item["media"]] for item in listed} == {
        first: [photo.json["id"]], second: []}
    assert statements.count == 1  # the changed profile alone: the listing was still cached
    assert upload(client, second, agent, image_bytes()).status_code == 201  # a headshot: a fuller profile
    assert [item["id"] for item in client.get(featured, headers=director).json["items"]][:2] == [second, first]


def test_every_list_filter_names_the_columns_it_reads(app):
    """A filter missing from FILTER_TOPICS would fall back to `updated_at`: correct, but it would drop its
    lists on every edit. Each one is named."""
    from casting.talents.schemas import TalentQueryArgsSchema, TalentSearchSchema
    from casting.talents.services import FILTER_TOPICS

    with app.app_context():
        names = set(TalentQueryArgsSchema().fields) | set(TalentSearchSchema().fields)
    assert names - set(FILTER_TOPICS) == set()
