"""Productions and roles (CONTRACT §4): ownership, visibility, status moves, and the delete guard."""
import pytest

from casting.kernel.extensions import db
from casting.productions import services
from tests.support import Statements, redis_round_trips

FILM = {"title": "Monsoon Wedding 2", "type": "film", "language": "Hindi", "location": {"city": "delhi"}}
RADHA = {"name": "Young Radha", "gender": "female", "age_min": 20, "age_max": 28, "skills": ["Acting"],
         "languages": [{"name": "Hindi", "proficiency": "fluent"}], "city": "Delhi", "pay_inr": 25000}


@pytest.fixture
def people(login):
    return {role: login(role) for role in ("casting_director", "producer", "talent", "agent", "admin")}


def test_who_creates_productions_and_what_they_start_as(client, people):
    for role in ("talent", "agent"):
        assert client.post("/api/productions/", json=FILM, headers=people[role]).status_code == 403
    made = client.post("/api/productions/", json=FILM, headers=people["casting_director"])
    assert made.status_code == 201
    assert (made.json["status"], made.json["location"]["city"]) == ("draft", "Delhi")
    produced = client.post("/api/productions/", json={**FILM, "status": "casting"}, headers=people["producer"])
    assert produced.json["status"] == "casting"
    closed = client.post("/api/productions/", json={**FILM, "status": "closed"}, headers=people["producer"])
    assert closed.status_code == 422 and "status" in closed.json["details"]["fields"]
    late = client.post("/api/productions/", json={**FILM, "shoot_start": "2027-03-01", "shoot_end": "2027-01-01"},
                       headers=people["producer"])
    assert late.status_code == 422 and "shoot_end" in late.json["details"]["fields"]


def test_drafts_are_private_and_lists_are_filtered(client, people, login):
    director, talent, admin = people["casting_director"], people["talent"], people["admin"]
    draft = client.post("/api/productions/", json=FILM, headers=director).json["id"]
    public = client.post("/api/productions/", json={**FILM, "title": "Open call", "status": "casting"},
                         headers=people["producer"]).json["id"]
    assert client.get(f"/api/productions/{draft}", headers=talent).json["code"] == "PRODUCTION_001"
    assert client.get(f"/api/productions/{draft}/roles", headers=talent).status_code == 404
    assert client.get(f"/api/productions/{draft}", headers=admin).status_code == 200

    def ids(headers, query=""):
        return [item["id"] for item in client.get(f"/api/productions/?{query}", headers=headers).json["items"]]

    assert ids(talent) == [public]
    assert ids(director) == [public, draft] and ids(director, "mine=true") == [draft]
    assert ids(admin, "status=draft") == [draft] and ids(admin, "type=ad") == []


def test_only_the_owner_or_an_admin_changes_a_production(client, people, login):
    owner, other = people["casting_director"], login("casting_director", "other@example.in")
    production = client.post("/api/productions/", json={**FILM, "status": "casting"}, headers=owner).json["id"]
    assert client.put(f"/api/productions/{production}", json={"title": "Mine now"}, headers=other).status_code == 403
    assert client.delete(f"/api/productions/{production}", headers=other).status_code == 403
    assert client.post(f"/api/productions/{production}/roles", json=RADHA, headers=other).status_code == 403
    edited = client.put(f"/api/productions/{production}", json={"description": "<b>Delhi</b> wedding"},
                        headers=people["admin"]).json
    assert (edited["description"], edited["title"]) == ("Delhi wedding", FILM["title"])
    bad = client.put(f"/api/productions/{production}", json={"shoot_start": "2027-05-01"}, headers=owner)
    assert bad.status_code == 200
    bad = client.put(f"/api/productions/{production}", json={"shoot_end": "2027-04-01"}, headers=owner)
    assert bad.status_code == 422 and "shoot_end" in bad.json["details"]["fields"]


@pytest.mark.parametrize("moves,refused", [
    (["casting", "closed", "casting"], "draft"),
    (["closed"], "draft"),
])
def test_production_status_moves(client, people, moves, refused):
    owner = people["casting_director"]
    production = client.post("/api/productions/", json=FILM, headers=owner).json["id"]
    for status in moves:
        assert client.put(f"/api/productions/{production}", json={"status": status},
                          headers=owner).json["status"] == status
    response = client.put(f"/api/productions/{production}", json={"status": refused}, headers=owner)
    assert (response.status_code, response.json["code"]) == (409, "PRODUCTION_002")
    assert response.json["details"]["from"] == moves[-1] and refused not in response.json["details"]["allowed"]
    assert response.json["message"] == f"A production that is {moves[-1]} cannot become {refused}."


def test_roles_crud_and_status_moves(client, people):
    owner, talent = people["casting_director"], people["talent"]
    production = client.post("/api/productions/", json={**FILM, "status": "casting"}, headers=owner).json["id"]
    other = client.post("/api/productions/", json=FILM, headers=owner).json["id"]
    role = client.post(f"/api/productions/{production}/roles", json=RADHA, headers=owner)
    assert role.status_code == 201 and role.json["status"] == "open"
    role_id = role.json["id"]
    assert client.get(f"/api/productions/{production}/roles/{role_id}", headers=talent).json["name"] == "Young Radha"
    assert client.get(f"/api/productions/{other}/roles/{role_id}", headers=owner).json["code"] == "PRODUCTION_004"
    assert client.put(f"/api/productions/{production}/roles/{role_id}", json={"pay_inr": 1}, headers=talent
                      ).status_code == 403
    for status, expected in (("filled", 200), ("open", 200), ("closed", 200), ("filled", 409), ("open", 200)):
        response = client.put(f"/api/productions/{production}/roles/{role_id}", json={"status": status},
                              headers=owner)
        assert response.status_code == expected, (status, response.json)
    ages = client.put(f"/api/productions/{production}/roles/{role_id}", json={"age_min": 40}, headers=owner)
    assert ages.status_code == 422 and "age_min" in ages.json["details"]["fields"]
    page = client.get(f"/api/productions/{production}/roles?per_page=1", headers=talent).json
    assert page["meta"]["total"] == 1 and page["items"][0]["age_min"] == 20
    assert client.delete(f"/api/productions/{production}/roles/{role_id}", headers=owner).status_code == 204
    assert client.get(f"/api/productions/{production}/roles/{role_id}", headers=owner).status_code == 404


def test_a_production_with_auditions_is_not_deleted(client, people, monkeypatch):
    owner = people["casting_director"]
    production = client.post("/api/productions/", json=FILM, headers=owner).json["id"]
    client.post(f"/api/productions/{production}/roles", json=RADHA, headers=owner)
    auditions = {production: 2}
    monkeypatch.setattr(services, "_dependents", [])
    services.register_dependent("auditions", lambda production_id: auditions.get(production_id, 0))
    refused = client.delete(f"/api/productions/{production}", headers=owner)
    assert (refused.status_code, refused.json["code"], refused.json["details"]) == (
        409, "PRODUCTION_003", {"auditions": 2})
    assert client.get(f"/api/productions/{production}/roles", headers=owner).json["meta"]["total"] == 1
    auditions.clear()
    assert client.delete(f"/api/productions/{production}", headers=owner).status_code == 204
    assert client.get(f"/api/productions/{production}", headers=owner).status_code == 404


def person(name, **changes):
    return {"stage_name": name, "gender": "female", "date_of_birth": "1998-04-12", "playing_age_min": 22,
            "playing_age_max": 28, "height_cm": 165, "experience_years": 0, "location": {"city": "Mumbai"},
            "skills": ["Acting", "Kathak"], "languages": [{"name": "Marathi", "proficiency": "native"}], **changes}


@pytest.fixture
def casting_call(client, people):
    """A role and a hand-built set of talent: three who fit, and one for each hard requirement failed."""
    agent, admin, owner = people["agent"], people["admin"], people["casting_director"]
    cast = {
        "asha": person("Asha", experience_years=8),
        "bina": person("Bina", skills=["Acting"], languages=[{"name": "marathi", "proficiency": "basic"}],
                       location={"city": "Pune"}, experience_years=2),
        "chitra": person("Chitra", languages=[{"name": "Hindi", "proficiency": "native"}]),
        "dev": person("Dev", gender="male"),
        "esha": person("Esha", playing_age_min=40, playing_age_max=50),
        "farah": person("Farah", availability_status="busy"),
        "gita": person("Gita"),
    }
    ids = {name: client.post("/api/talents/", json=body, headers=agent).json["id"] for name, body in cast.items()}
    client.put(f"/api/talents/{ids['asha']}", json={"is_verified": True}, headers=admin)
    client.delete(f"/api/talents/{ids['gita']}", headers=admin)
    production = client.post("/api/productions/", json={**FILM, "status": "casting"}, headers=owner).json["id"]
    role = client.post(f"/api/productions/{production}/roles", headers=owner, json={
        "name": "Young Radha", "gender": "female", "age_min": 20, "age_max": 30, "skills": ["acting", "Kathak"],
        "languages": [{"name": "Marathi", "proficiency": "fluent"}], "city": "mumbai"}).json["id"]
    return f"/api/productions/{production}/roles/{role}", ids


def test_matches_filter_hard_requirements_and_rank_soft_ones_with_reasons(client, people, casting_call):
    path, ids = casting_call
    page = client.get(f"{path}/matches", headers=people["casting_director"]).json
    ranked = [(item["talent"]["stage_name"], item["score"]) for item in page["items"]]
    assert [name for name, _ in ranked] == ["Asha", "Chitra", "Bina"] and page["meta"]["total"] == 3
    assert 1 >= ranked[0][1] > ranked[1][1] > ranked[2][1] > 0
    reasons = {item["talent"]["stage_name"]: item["reasons"] for item in page["items"]}
    assert reasons["Bina"] == ["has acting", "missing skill: Kathak",
                               "speaks Marathi (basic; the part needs fluent)", "based in Pune, not Mumbai",
                               "2 years of experience"]
    assert "speaks Marathi (native)" in reasons["Asha"] and "verified profile" in reasons["Asha"]
    assert "does not speak Marathi" in reasons["Chitra"]
    assert client.get(f"{path}/matches", headers=people["talent"]).status_code == 403


def test_roles_of_one_shape_share_their_ranking_statements_but_rank_by_their_own_requirements(
        client, people, casting_call):
    """Ranking statements are built once per shape (how many skills and languages, which requirements) with the
    requirements bound: two more roles of the casting call's shape rank by their own skills, language, city and
    ages, not by the statement's first role's."""
    from casting.productions import matching

    path, _ = casting_call
    owner, production = people["casting_director"], path.rsplit("/roles/", 1)[0]
    assert [item["talent"]["stage_name"] for item in client.get(f"{path}/matches", headers=owner).json["items"]] == [
        "Asha", "Chitra", "Bina"]
    built = matching.candidates.cache_info().currsize
    same_shape = {"name": "Singer", "gender": "female", "age_min": 20, "age_max": 30, "skills": ["Acting", "Singing"],
                  "languages": [{"name": "Hindi", "proficiency": "native"}], "city": "Pune"}
    singer = client.post(f"{production}/roles", headers=owner, json=same_shape).json["id"]
    page = client.get(f"{production}/roles/{singer}/matches", headers=owner).json["items"]
    assert [item["talent"]["stage_name"] for item in page] == ["Chitra", "Asha", "Bina"]
    assert "speaks Hindi (native)" in page[0]["reasons"] and "based in Pune" in page[2]["reasons"]
    aunt = {**same_shape, "name": "Aunt", "age_min": 40, "age_max": 50}
    older = client.post(f"{production}/roles", headers=owner, json=aunt).json["id"]
    assert [item["talent"]["stage_name"] for item in client.get(
        f"{production}/roles/{older}/matches", headers=owner).json["items"]] == ["Esha"]
    assert matching.candidates.cache_info().currsize == built


def test_matches_are_kept_per_caller_and_their_ranking_is_shared(app, client, people, casting_call):
    """The owner's second read is the page kept for them, served from the sign-in check's round trip with no
    statement; another manager (an admin) gets their own page from the shared ranking: one statement, the
    role with its production (the permission check). A service key is never served a user's page."""
    path, _ = casting_call
    owner, admin = people["casting_director"], people["admin"]
    first = client.get(f"{path}/matches", headers=owner).json
    with app.app_context():
        statements = Statements(db.engine)
    with statements:
        again, sent = redis_round_trips(app, lambda: client.get(f"{path}/matches", headers=owner))
    assert (again.json, sent, statements.count) == (first, ["EVALSHA"], 0)
    with statements:
        admins = client.get(f"{path}/matches", headers=admin).json
    ranked = [[(item["talent"]["id"], item["score"]) for item in page["items"]] for page in (first, admins)]
    assert ranked[0] == ranked[1] and statements.count == 1
    assert "date_of_birth" in admins["items"][0]["talent"] and "date_of_birth" not in first["items"][0]["talent"]
    keyed = client.get(f"{path}/matches", headers={**owner, "X-API-Key": "not a key"})
    assert keyed.status_code == 401, keyed.json
    assert client.get(path.replace("/roles/", "/roles/9") + "/matches", headers=owner).json["code"] == "PRODUCTION_004"


def test_an_edit_the_ranking_does_not_read_shows_without_ranking_again(client, people, casting_call, monkeypatch):
    """A new day rate shows in the next page (the profile is read afresh) from the cached ranking; a new
    experience, which the score reads, ranks again."""
    from casting.productions import matching

    path, ids = casting_call
    owner, agent = people["casting_director"], people["agent"]
    ranked, top = [], matching.top
    monkeypatch.setattr(matching, "top", lambda *args: ranked.append(args[0].id) or top(*args))
    assert client.get(f"{path}/matches", headers=owner).json["items"][0]["talent"]["day_rate_inr"] is None
    assert client.put(f"/api/talents/{ids['asha']}", json={"day_rate_inr": 31000}, headers=agent).status_code == 200
    again = client.get(f"{path}/matches", headers=owner).json["items"]
    assert (again[0]["talent"]["stage_name"], again[0]["talent"]["day_rate_inr"], len(ranked)) == ("Asha", 31000, 1)
    assert client.put(f"/api/talents/{ids['bina']}", json={"experience_years": 30}, headers=agent).status_code == 200
    reasons = {item["talent"]["stage_name"]: item["reasons"]
               for item in client.get(f"{path}/matches", headers=owner).json["items"]}
    assert "30 years of experience" in reasons["Bina"] and len(ranked) == 2


def test_matches_follow_talent_and_role_changes_at_once(client, people, casting_call):
    path, ids = casting_call
    owner = people["casting_director"]

    def names():
        return [item["talent"]["stage_name"] for item in client.get(f"{path}/matches", headers=owner).json["items"]]

    assert names() == ["Asha", "Chitra", "Bina"]
    client.put(f"/api/talents/{ids['bina']}", headers=people["agent"], json={
        "skills": ["Acting", "Kathak"], "languages": [{"name": "Marathi", "proficiency": "fluent"}],
        "location": {"city": "Mumbai"}, "experience_years": 9})
    assert names() == ["Asha", "Bina", "Chitra"]
    client.put(path, json={"city_required": True, "city": "Pune"}, headers=owner)
    assert names() == []
    client.put(path, json={"city_required": False}, headers=owner)
    assert names() == ["Asha", "Bina", "Chitra"]
    production = path.rsplit("/roles/", 1)[0]
    held = client.put(production, headers=owner, json={"description": "Portfolio shoot charges ₹8,000, pay now."})
    assert held.json["held_for_review"] is True
    assert client.get(f"{path}/matches", headers=owner).json["code"] == "PRODUCTION_005"
