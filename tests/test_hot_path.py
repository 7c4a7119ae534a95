"""Cached reads cost almost nothing and writes only what they must (issue 16): cached pages and profiles
are served from JSON made once, with no database connection, and still show each viewer only what
that viewer may see; a profile edit reads its row once."""
from sqlalchemy import event

from casting.kernel.extensions import db
from tests.test_principal import Statements, _commands
from tests.test_talents import profile


class Checkouts:
    """Counts the connections the app takes from its pool while it is active."""

    def __init__(self, engine):
        self.pool, self.count = engine.pool, 0

    def _taken(self, *args):
        self.count += 1

    def __enter__(self):
        event.listen(self.pool, "checkout", self._taken)
        return self

    def __exit__(self, *exc):
        event.remove(self.pool, "checkout", self._taken)


def test_cached_pages_take_two_round_trips_and_profiles_one_and_no_database_connection(
        app, client, login, redis_client):
    me, director = login("talent"), login("casting_director")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    reads = ["/api/talents/?city=Mumbai", "/api/talents/featured", f"/api/talents/{talent_id}"]
    first = [client.get(path, headers=director).json for path in reads]
    with app.app_context():
        engine = db.engine
    for path, answer in zip(reads, first):
        before = _commands(redis_client)
        with Checkouts(engine) as checkouts:
            again = client.get(path, headers=director)
        after = _commands(redis_client)
        assert again.status_code == 200 and again.json == answer
        assert checkouts.count == 0, path
        calls = {name[8:]: after[name] - before.get(name, 0) for name in ("cmdstat_evalsha", "cmdstat_mget")}
        # the principal, then the page; a profile's entry is read with the principal (the route's prefetch)
        assert calls["evalsha"] + calls["mget"] == (1 if path.endswith(str(talent_id)) else 2), (path, calls)


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


def test_a_profile_edit_reads_its_row_once_and_shows_on_the_next_read(app, client, login):
    me, director = login("talent"), login("casting_director")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    client.get(f"/api/talents/{talent_id}", headers=director)
    with app.app_context():
        engine = db.engine
    with Statements(engine) as statements:
        edited = client.put(f"/api/talents/{talent_id}", json={"day_rate_inr": 18000}, headers=me)
    assert edited.status_code == 200 and edited.json["day_rate_inr"] == 18000
    assert edited.json["updated_at"] > edited.json["created_at"]
    assert statements.count == 2  # the row with its media, the UPDATE ... RETURNING; nothing read again
    assert client.get(f"/api/talents/{talent_id}", headers=director).json["day_rate_inr"] == 18000
