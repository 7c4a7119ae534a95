"""Talent profiles (CONTRACT §3): permissions, visibility, soft delete, every filter, search, indexes."""
from datetime import date

import pytest

from casting.kernel.extensions import db
from casting.talents import cache as talent_cache
from tests.support import Statements, redis_round_trips


def profile(**changes):
    return {"stage_name": "Priyanka Joshi", "gender": "female", "date_of_birth": "1998-04-12",
            "playing_age_min": 22, "playing_age_max": 30, "height_cm": 165, "experience_years": 5,
            "location": {"city": "mumbai", "state": "Maharashtra"}, "skills": ["Acting", "Dancing"],
            "languages": [{"name": "Marathi", "proficiency": "native"}], **changes}


def test_a_talent_creates_one_own_profile(client, login):
    me = login("talent")
    created = client.post("/api/talents/", json=profile(bio="<script>x</script>Trained in <b>Kathak</b>"),
                          headers=me)
    assert created.status_code == 201
    body = created.json
    assert (body["location"], body["bio"]) == ({"city": "Mumbai", "state": "Maharashtra", "country": "India"},
                                               "Trained in Kathak")
    assert body["age"] == date.today().year - 1998 - ((date.today().month, date.today().day) < (4, 12))
    assert client.post("/api/talents/", json=profile(), headers=me).json["code"] == "TALENT_001"


def test_who_may_create_edit_and_delete(client, login):
    talent, other, agent, director, admin = (login("talent"), login("talent", "b@example.in"), login("agent"),
                                             login("casting_director"), login("admin"))
    own = client.post("/api/talents/", json=profile(), headers=talent).json["id"]
    represented = client.post("/api/talents/", json=profile(stage_name="Ravi"), headers=agent).json["id"]
    assert client.post("/api/talents/", json=profile(), headers=director).status_code == 403
    assert client.put(f"/api/talents/{own}", json={"bio": "hacked"}, headers=other).status_code == 403
    assert client.put(f"/api/talents/{own}", json={"bio": "hacked"}, headers=agent).status_code == 403
    assert client.put(f"/api/talents/{represented}", json={"day_rate_inr": 9000}, headers=agent).json[
        "day_rate_inr"] == 9000
    assert client.put(f"/api/talents/{own}", json={"height_cm": 170}, headers=admin).json["height_cm"] == 170
    assert client.delete(f"/api/talents/{represented}", headers=agent).status_code == 403
    assert client.delete(f"/api/talents/{own}", headers=other).status_code == 403
    assert client.delete(f"/api/talents/{own}", headers=talent).status_code == 204
    assert client.get(f"/api/talents/{own}", headers=director).json["code"] == "TALENT_002"


def test_put_leaves_omitted_fields_and_refuses_privileged_ones(client, login):
    me = login("talent")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    updated = client.put(f"/api/talents/{talent_id}", json={"availability_status": "busy"}, headers=me).json
    assert (updated["availability_status"], updated["stage_name"], updated["skills"]) == (
        "busy", "Priyanka Joshi", ["Acting", "Dancing"])
    for field in ("is_verified", "is_featured"):
        response = client.put(f"/api/talents/{talent_id}", json={field: True}, headers=me)
        assert response.status_code == 403 and field in response.json["details"]["fields"]
    response = client.put(f"/api/talents/{talent_id}", json={"user_id": 9}, headers=me)
    assert response.status_code == 422 and "user_id" in response.json["details"]["fields"]
    assert client.get(f"/api/talents/{talent_id}", headers=me).json["is_verified"] is False
    bad = client.put(f"/api/talents/{talent_id}", json={"playing_age_min": 40}, headers=me)
    assert bad.status_code == 422


def test_date_of_birth_is_shown_only_to_those_who_manage_the_profile(client, login):
    me, director = login("talent"), login("casting_director")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    assert client.get(f"/api/talents/{talent_id}", headers=me).json["date_of_birth"] == "1998-04-12"
    seen = client.get(f"/api/talents/{talent_id}", headers=director).json
    assert "date_of_birth" not in seen and seen["age"] > 20
    listed = client.get("/api/talents/", headers=director).json["items"][0]
    assert "date_of_birth" not in listed and "email" not in listed and "phone" not in listed


@pytest.fixture
def catalogue(client, login):
    agent = login("agent")
    people = [
        profile(stage_name="Priyanka Joshi"),
        profile(stage_name="Arjun Mehta", gender="male", height_cm=182, skills=["Acting", "Horse riding"],
                location={"city": "Delhi"}, languages=[{"name": "Hindi", "proficiency": "native"}],
                playing_age_min=None, playing_age_max=None, date_of_birth="1980-01-01", experience_years=20),
        profile(stage_name="Meera Iyer", skills=["Bharatanatyam"], location={"city": "Chennai"},
                availability_status="busy", playing_age_min=40, playing_age_max=50, experience_years=1,
                languages=[{"name": "Tamil", "proficiency": "native"}, {"name": "Hindi", "proficiency": "fluent"}]),
    ]
    ids = [client.post("/api/talents/", json=person, headers=agent).json["id"] for person in people]
    return agent, ids


@pytest.mark.parametrize("query,expected", [
    ("city=Mumbai", ["Priyanka Joshi"]), ("city=delhi", ["Arjun Mehta"]),
    ("skills=acting,dancing", ["Priyanka Joshi"]),
    ("skills_any=Horse riding,Bharatanatyam", ["Arjun Mehta", "Meera Iyer"]),
    ("languages=hindi", ["Arjun Mehta", "Meera Iyer"]), ("gender=male", ["Arjun Mehta"]),
    ("age_min=25&age_max=35", ["Priyanka Joshi"]), ("age_min=40&age_max=48", ["Arjun Mehta", "Meera Iyer"]),
    ("height_min=180", ["Arjun Mehta"]), ("height_max=170", ["Meera Iyer", "Priyanka Joshi"]),
    ("availability_status=busy", ["Meera Iyer"]), ("experience_min=5", ["Arjun Mehta", "Priyanka Joshi"]),
    ("is_verified=true", []), ("city=Mumbai&gender=male", []),
])
def test_every_filter_alone_and_combined(client, catalogue, query, expected):
    agent, _ = catalogue
    response = client.get(f"/api/talents/?{query}&sort=stage_name", headers=agent)
    assert response.status_code == 200, response.json
    assert [t["stage_name"] for t in response.json["items"]] == expected


def test_search_is_typo_tolerant_and_ranked(client, catalogue):
    agent, _ = catalogue
    found = client.post("/api/talents/search", json={"q": "Priyanca"}, headers=agent).json
    assert [t["stage_name"] for t in found["items"]] == ["Priyanka Joshi"]
    by_skill = client.post("/api/talents/search", json={"q": "bharatnatyam", "skills_any": ["Bharatanatyam"]},
                           headers=agent).json
    assert [t["stage_name"] for t in by_skill["items"]] == ["Meera Iyer"]


def test_sorting_paging_and_bad_arguments(client, catalogue):
    agent, _ = catalogue
    page = client.get("/api/talents/?sort=-height_cm&per_page=2&page=2", headers=agent).json
    assert page["meta"] == {"page": 2, "per_page": 2, "total": 3, "total_pages": 2}
    assert [t["height_cm"] for t in page["items"]] == [165]
    for query, field in (("sort=-height", "sort"), ("per_page=101", "per_page"), ("gender=robot", "gender"),
                         ("age_min=-1", "age_min")):
        response = client.get(f"/api/talents/?{query}", headers=agent)
        assert response.status_code == 422 and field in response.json["details"]["fields"], query


def test_deleted_talent_is_gone_from_lists_and_search(client, catalogue, login):
    agent, ids = catalogue
    client.delete(f"/api/talents/{ids[0]}", headers=login("admin"))
    assert "Priyanka Joshi" not in [t["stage_name"] for t in client.get("/api/talents/", headers=agent).json["items"]]
    assert client.post("/api/talents/search", json={"q": "Priyanka"}, headers=agent).json["meta"]["total"] == 0


def test_lists_need_a_signed_in_user(client):
    assert client.get("/api/talents/").status_code == 401


def test_seed_talents_loads_realistic_searchable_profiles(app, runner, login, client):
    assert "300 talent profiles loaded" in runner.invoke(args=["seed", "talents", "300"]).output
    assert "0 talent profiles loaded" in runner.invoke(args=["seed", "talents", "300", "--up-to"]).output
    headers = login("casting_director")
    page = client.get("/api/talents/?per_page=100", headers=headers).json
    assert page["meta"]["total"] == 300
    cities = {talent["location"]["city"] for talent in page["items"]}
    assert len(cities) > 5 and all(talent["location"]["country"] == "India" for talent in page["items"])
    city, skill = page["items"][0]["location"]["city"], page["items"][0]["skills"][0]
    found = client.get(f"/api/talents/?city={city}&skills={skill}&per_page=100", headers=headers).json
    assert found["meta"]["total"] >= 1
    assert all(talent["location"]["city"] == city and skill in talent["skills"] for talent in found["items"])


def test_lists_and_profiles_are_cached_and_a_write_shows_at_once(app, client, login, redis_client):
    me, director = login("talent"), login("casting_director")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    assert client.get("/api/talents/?city=Mumbai", headers=director).json["meta"]["total"] == 1
    assert client.get(f"/api/talents/{talent_id}", headers=director).json["day_rate_inr"] is None
    keys = {key.decode() for key in redis_client.keys("casting:cache:talents:*")}
    assert any(":list:" in key for key in keys) and f"casting:cache:talents:profile:{talent_id}" in keys
    assert 0 < redis_client.ttl(f"casting:cache:talents:profile:{talent_id}") <= 3600
    client.put(f"/api/talents/{talent_id}", json={"day_rate_inr": 20000, "location": {"city": "Pune"}},
               headers=me)
    assert client.get(f"/api/talents/{talent_id}", headers=director).json["day_rate_inr"] == 20000
    assert client.get("/api/talents/?city=Mumbai", headers=director).json["meta"]["total"] == 0
    assert client.get(f"/api/talents/{talent_id}", headers=me).json["date_of_birth"] == "1998-04-12"
    assert "date_of_birth" not in client.get(f"/api/talents/{talent_id}", headers=director).json


def test_a_cached_list_is_served_without_the_database(app, client, login):
    from sqlalchemy import event

    director = login("casting_director")
    client.get("/api/talents/?skills=Acting", headers=director)
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        client.get("/api/talents/?skills=Acting", headers=director)
    assert not any("count(" in statement.lower() for statement in statements)


def test_featured_ranks_admin_picks_then_verified_complete_profiles(client, login):
    agent, admin, director = login("agent"), login("admin"), login("casting_director")
    verified = client.post("/api/talents/", json={"stage_name": "Verified"}, headers=agent).json["id"]
    sparse = client.post("/api/talents/", json={"stage_name": "Sparse"}, headers=agent).json["id"]
    complete = client.post("/api/talents/", json=profile(stage_name="Complete", bio="Theatre."),
                           headers=agent).json["id"]
    picked = client.post("/api/talents/", json={"stage_name": "Picked"}, headers=agent).json["id"]

    def featured():
        return [talent["id"] for talent in client.get("/api/talents/featured", headers=director).json["items"]]

    assert featured() == [complete, picked, sparse, verified]  # complete first, then the newest
    assert client.put(f"/api/talents/{verified}", json={"is_verified": True}, headers=admin).json["is_verified"]
    assert client.put(f"/api/talents/{picked}", json={"is_featured": True}, headers=admin).json["is_featured"]
    assert featured() == [picked, complete, verified, sparse]
    client.delete(f"/api/talents/{picked}", headers=admin)
    assert featured() == [complete, verified, sparse]
    page = client.get("/api/talents/featured?per_page=1&page=2", headers=director).json
    assert page["meta"] == {"page": 2, "per_page": 1, "total": 3, "total_pages": 3}
    assert client.get("/api/talents/featured?per_page=500", headers=director).status_code == 422


def test_admins_restore_a_deleted_profile(client, login):
    me, admin = login("talent"), login("admin")
    talent_id = client.post("/api/talents/", json=profile(), headers=me).json["id"]
    client.delete(f"/api/talents/{talent_id}", headers=me)
    assert client.post(f"/api/talents/{talent_id}/restore", headers=me).status_code == 403
    assert client.post(f"/api/talents/{talent_id}/restore", headers=admin).json["id"] == talent_id
    assert client.get("/api/talents/", headers=me).json["meta"]["total"] == 1
    assert client.post("/api/talents/999/restore", headers=admin).json["code"] == "TALENT_002"


@pytest.mark.parametrize("path,first", [("skills", {"name": "Acting"}), ("languages", {"name": "Hindi"}),
                                        ("categories", {"name": "Actor"}),
                                        ("cities", {"city": "Mumbai", "state": "Maharashtra", "country": "India"})])
def test_meta_lists_are_public_paged_and_cached_for_a_day(app, client, path, first):
    """Clients may keep them a day; the service serves each page from bytes made once per process (the
    lists are part of the code): no cache read, no database, only the rate limit's count."""
    response = client.get(f"/api/meta/{path}?per_page=5")
    assert response.status_code == 200 and response.json["items"][0] == first
    assert len(response.json["items"]) == 5 and response.json["meta"]["total"] > 5
    assert response.headers["Cache-Control"] in ("public, max-age=86400", "max-age=86400, public")
    again, sent = redis_round_trips(app, lambda: client.get(f"/api/meta/{path}?per_page=5"))
    assert (again.json, sent) == (response.json, ["EVALSHA"])
    assert client.get(f"/api/meta/{path}?per_page=5&page=2").json["items"][0] != first
    assert client.get(f"/api/meta/{path}?per_page=101").status_code == 422


def test_a_profile_read_while_a_write_lands_is_not_cached(app, redis_client):
    from casting.talents import cache as talent_cache

    def load_during_a_write(ids):
        talent_cache.forget(ids[0], None)
        return {ids[0]: {"id": ids[0], "stage_name": "before the write"}}

    with app.test_request_context():
        assert talent_cache.cached_profiles([5], load_during_a_write)[0]["stage_name"] == "before the write"
        assert redis_client.get(talent_cache.PROFILE_PREFIX + "5") is None
        talent_cache.cached_profiles([5], lambda ids: {5: {"id": 5, "stage_name": "after"}})
        assert talent_cache.cached_profiles([5], lambda ids: {})[0]["stage_name"] == "after"
        assert 3500 < redis_client.ttl(talent_cache.PROFILE_PREFIX + "5") <= 3600


def test_concurrent_misses_of_one_list_compute_it_once(app, redis_client):
    import threading

    from casting.kernel.extensions import cache
    from casting.talents import cache as talent_cache

    filters, computed, answers = {"city": "Mumbai"}, [], []

    def reader():
        with app.app_context():
            answers.append(talent_cache.cached_page(filters, {"location"}, lambda: computed.append(1) or ([9], 1)))

    with app.app_context():
        key = talent_cache.list_key(filters, talent_cache.topics_version({"location"}))
        first = redis_client.lock(f"casting:lock:{cache.cache.key_prefix}{key}", timeout=5)
        assert first.acquire()
        waiting = threading.Thread(target=reader)
        waiting.start()
        waiting.join(0.3)
        assert waiting.is_alive()  # it waits for the first computation instead of running its own
        cache.set(key, ([7], 1))
        first.release()
        waiting.join(5)
    assert answers == [([7], 1)] and computed == []


def test_a_talent_finds_their_own_profile(client, login):
    me, director = login("talent"), login("casting_director")
    assert client.get("/api/talents/me", headers=me).json["code"] == "TALENT_002"
    created = client.post("/api/talents/", json=profile(), headers=me).json
    assert client.get("/api/talents/me", headers=me).json == created
    assert client.get("/api/talents/me", headers=director).status_code == 404


def test_ones_own_profile_is_read_without_a_statement_and_follows_edits_deletion_and_restore(app, client, login):
    me, admin = login("talent"), login("admin")
    created = client.post("/api/talents/", json=profile(), headers=me).json
    client.get("/api/talents/me", headers=me)  # finds which profile is theirs
    with app.app_context():
        engine = db.engine
    with Statements(engine) as statements:
        assert client.get("/api/talents/me", headers=me).json == created
    assert statements.count == 0
    client.put(f"/api/talents/{created['id']}", json={"day_rate_inr": 9000}, headers=me)
    assert client.get("/api/talents/me", headers=me).json["day_rate_inr"] == 9000
    client.delete(f"/api/talents/{created['id']}", headers=me)
    assert client.get("/api/talents/me", headers=me).json["code"] == "TALENT_002"
    client.post(f"/api/talents/{created['id']}/restore", headers=admin)
    assert client.get("/api/talents/me", headers=me).json["id"] == created["id"]


def test_a_kept_hint_of_someone_elses_profile_is_not_trusted(client, login, redis_client):
    """Which talent is theirs is a hint kept in Redis: the profile's own owner decides."""
    me, other, director = login("talent"), login("talent", "b@example.in"), login("casting_director")
    mine = client.post("/api/talents/", json=profile(), headers=me).json
    theirs = client.post("/api/talents/", json=profile(stage_name="Ravi"), headers=other).json
    director_id = client.get("/api/auth/me", headers=director).json["id"]
    for user_id in (director_id, mine["user_id"]):
        redis_client.set(talent_cache.own_talent_keys(user_id)[0], theirs["id"])
    assert client.get("/api/talents/me", headers=director).json["code"] == "TALENT_002"
    assert client.get("/api/talents/me", headers=me).json == mine


def test_searches_of_one_form_share_their_statement_but_find_by_their_own_values(client, login):
    """The select of a search is built once per set of filters, its values bound on each run."""
    from casting.talents import services

    agent, director = login("agent"), login("casting_director")
    made = {(city, height): client.post("/api/talents/", headers=agent, json=profile(
        stage_name=f"{city} {height}", location={"city": city}, height_cm=height, date_of_birth="1990-01-01",
        playing_age_min=None, playing_age_max=None)).json["id"]
        for city in ("Pune", "Delhi") for height in (160, 180)}

    def found(city, height_min, age_max):
        body = {"city": city, "skills": ["Acting"], "height_min": height_min, "age_max": age_max}
        return {item["id"] for item in client.post("/api/talents/search", json=body, headers=director).json["items"]}

    assert found("Pune", 170, 80) == {made["Pune", 180]}
    built = services._listed.cache_info().currsize
    assert found("Delhi", 150, 80) == {made["Delhi", 160], made["Delhi", 180]}
    assert found("Delhi", 150, 20) == set()  # born in 1990: older than 20
    assert services._listed.cache_info().currsize == built


def test_a_descending_sort_lists_empty_values_last(client, login):
    """`sort=-day_rate_inr`: the highest day rate first, the talent who gave none last (PostgreSQL alone
    puts them first)."""
    agent, director = login("agent"), login("casting_director")
    ids = {rate: client.post("/api/talents/", json=profile(stage_name=f"Rate {rate}", day_rate_inr=rate),
                             headers=agent).json["id"] for rate in (None, 20000, 15000)}
    for sort, order in (("-day_rate_inr", [20000, 15000, None]), ("day_rate_inr", [15000, 20000, None])):
        items = client.get(f"/api/talents/?sort={sort}", headers=director).json["items"]
        assert [item["id"] for item in items] == [ids[rate] for rate in order], sort
