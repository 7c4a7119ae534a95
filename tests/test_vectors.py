"""Embeddings from the ML service and vector search: ranking against brute-force cosine, filters, paging,
permissions, bad input, "like this role" in matching, the export, and the HNSW path's recall."""
import json
import math
import random

import pytest
from sqlalchemy import event, func, select, text

from casting.auth import api_keys
from casting.kernel.extensions import db
from casting.talents import cache as talent_cache
from casting.talents import embeddings, services
from casting.talents.models import MediaKind, Talent, TalentEmbedding, TalentMedia
from casting.talents.seeding import seed_talents
from tests.support import Statements
from tests.test_productions import FILM, person

DIM = 384
MODEL = "all-MiniLM-L6-v2"
COUNT = 300


def normal(rng, scale=1.0):
    return [rng.gauss(0.0, scale) for _ in range(DIM)]


def plus(a, b):
    return [x + y for x, y in zip(a, b)]


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def clustered(rng, count, clusters=12):
    """Vectors around a few centres, as sentence embeddings are (uniform noise would have no neighbours)."""
    centres = [normal(rng) for _ in range(clusters)]
    return [plus(rng.choice(centres), normal(rng, 0.6)) for _ in range(count)]


def brute_force(vectors, query, ids=None):
    """Talent ids by cosine similarity to `query`, highest first (plain Python, no index)."""
    ids = sorted(vectors) if ids is None else ids
    similarity = {talent_id: cosine(vectors[talent_id], query) for talent_id in ids}
    return sorted(ids, key=lambda talent_id: -similarity[talent_id])


def close(a, b, tolerance=1e-5):
    return len(a) == len(b) and all(abs(x - y) <= tolerance * max(1.0, abs(y)) for x, y in zip(a, b))


def body(vector, **changes):
    return {"model": MODEL, "dimension": DIM, "embedding": [float(x) for x in vector], **changes}


@pytest.fixture
def keys(app):
    with app.app_context():
        return {scopes: {"X-API-Key": api_keys.create(f"key-{scopes}", scopes.split(","))[1]}
                for scopes in ("ml", "export")}


@pytest.fixture
def population(app):
    """COUNT seeded talent, each with a stored embedding; returns {talent id: vector}."""
    rng = random.Random(15)
    with app.app_context():
        seed_talents(COUNT, seed=15)
        ids = db.session.scalars(select(Talent.id).order_by(Talent.id)).all()
        vectors = dict(zip(ids, clustered(rng, len(ids))))
        for talent_id, vector in vectors.items():
            db.session.add(TalentEmbedding(talent_id=talent_id, model=MODEL, embedding=vector))
        db.session.commit()
    return vectors


def matching_ids(app, **where):
    """Ids of live talent matching simple column filters (to rank by brute force)."""
    with app.app_context():
        query = select(Talent.id).where(Talent.deleted_at.is_(None))
        for name, value in where.items():
            query = query.where(Talent.location.contains({"city": value}) if name == "city"
                                else getattr(Talent, name) == value)
        return db.session.scalars(query).all()


def search(client, headers, **filters):
    response = client.post("/api/talents/search", json=filters, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def test_the_ml_service_stores_embeddings_checked_against_the_settings(app, client, keys, login):
    me = login("talent")
    talent_id = client.post("/api/talents/", json=person("Asha"), headers=me).json["id"]
    path = f"/api/talents/{talent_id}/embedding"
    vector = normal(random.Random(1))

    assert client.put(path, json=body(vector)).json["code"] == "AUTH_013"
    assert client.put(path, json=body(vector), headers=me).json["code"] == "AUTH_013"
    refused = client.put(path, json=body(vector), headers=keys["export"])
    assert refused.status_code == 403 and "`ml`" in refused.json["message"]

    wrong_dim = client.put(path, json=body(vector, dimension=768), headers=keys["ml"])
    assert wrong_dim.status_code == 422 and "384" in wrong_dim.json["details"]["fields"]["dimension"][0]
    short = client.put(path, json=body(vector[:383]), headers=keys["ml"])
    assert "got 383" in short.json["details"]["fields"]["embedding"][0]
    wrong_model = client.put(path, json=body(vector, model="text-embedding-3-small"), headers=keys["ml"])
    assert wrong_model.status_code == 422
    assert "'text-embedding-3-small'" in wrong_model.json["details"]["fields"]["model"][0]
    assert MODEL in wrong_model.json["details"]["fields"]["model"][0]
    zero = client.put(path, json=body([0.0] * DIM), headers=keys["ml"])
    assert zero.status_code == 422 and "embedding" in zero.json["details"]["fields"]
    infinite = json.dumps(body(vector)).replace(str(float(vector[0])), "1e999", 1)
    assert client.put(path, data=infinite, content_type="application/json",
                      headers=keys["ml"]).status_code == 422
    assert client.put("/api/talents/999999/embedding", json=body(vector),
                      headers=keys["ml"]).json["code"] == "TALENT_002"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TalentEmbedding)) == 0

    stored = client.put(path, json=body(vector), headers=keys["ml"])
    assert stored.status_code == 200 and stored.json["model"] == MODEL and stored.json["dimension"] == DIM
    again = client.put(path, json=body([-x for x in vector]), headers=keys["ml"])  # replaces, does not add
    assert again.status_code == 200
    with app.app_context():
        saved = db.session.scalars(select(TalentEmbedding.embedding)).all()
        assert len(saved) == 1 and close(saved[0], [-x for x in vector])

    assert client.delete(f"/api/talents/{talent_id}", headers=me).status_code == 204
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TalentEmbedding)) == 0
    assert client.put(path, json=body(vector), headers=keys["ml"]).json["code"] == "TALENT_002"


def test_search_by_embedding_ranks_like_brute_force_with_filters_and_paging(app, client, login, population):
    me = login("casting_director")
    query = normal(random.Random(2))
    # Every page of 40, in order, is the brute-force cosine ranking of all talent.
    pages = [search(client, me, embedding=[float(x) for x in query], per_page=40, page=number)
             for number in range(1, 9)]
    assert [item["id"] for page in pages for item in page["items"]] == brute_force(population, query)
    assert pages[0]["meta"] == {"page": 1, "per_page": 40, "total": COUNT, "total_pages": 8}

    # With filters: only the matching talent, still in cosine order, and the pages still fill.
    with app.app_context():  # the commonest city, so the filtered ranking has two pages to compare
        city = db.session.scalar(text("SELECT location->>'city' FROM talents WHERE gender = 'female' "
                                      "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"))
    wanted = matching_ids(app, city=city, gender="female")
    assert 10 <= len(wanted) < COUNT / 4
    first = search(client, me, embedding=[float(x) for x in query], city=city, gender="female", per_page=5)
    second = search(client, me, embedding=[float(x) for x in query], city=city, gender="female", per_page=5, page=2)
    expected = brute_force(population, query, wanted)
    assert [item["id"] for item in first["items"] + second["items"]] == expected[:10]
    assert first["meta"]["total"] == len(wanted)
    assert all(item["location"]["city"] == city and item["gender"] == "female" for item in first["items"])

    # Another filter (skills) and `q` combine too.
    skilled = search(client, me, embedding=[float(x) for x in query], skills=["Acting"], per_page=100)
    with app.app_context():
        acting = db.session.scalars(select(Talent.id).where(Talent.skill_keys.contains(["acting"]))).all()
    assert [item["id"] for item in skilled["items"]] == brute_force(population, query, acting)[:100]


def test_similar_to_ranks_by_that_talents_vector_and_leaves_it_out(app, client, login, population):
    me = login("producer")
    anchor = 17
    found = search(client, me, similar_to=anchor, per_page=100, page=1)
    ranking = brute_force(population, population[anchor])
    assert ranking[0] == anchor
    assert [item["id"] for item in found["items"]] == ranking[1:101]
    assert found["meta"]["total"] == COUNT - 1

    client.delete(f"/api/talents/{ranking[1]}", headers=login("admin"))
    after = search(client, me, similar_to=anchor, per_page=5)
    assert [item["id"] for item in after["items"]] == ranking[2:7]  # the deleted talent is gone from it
    assert after["meta"]["total"] == COUNT - 2  # and from the count (on the embedding rows alone)
    with app.app_context():  # a soft delete that skips the service still takes the vector (a trigger)
        db.session.execute(text("UPDATE talents SET deleted_at = now() WHERE id = :id"), {"id": ranking[2]})
        db.session.commit()
        assert db.session.get(TalentEmbedding, ranking[2]) is None


def test_vector_search_refuses_bad_input_and_needs_sign_in(app, client, login, population):
    me = login("casting_director")
    vector = [1.0] * DIM
    assert client.post("/api/talents/search", json={"embedding": vector}).status_code == 401
    cases = [({"embedding": vector[:10]}, "embedding"), ({"embedding": [0.0] * DIM}, "embedding"),
             ({"embedding": vector, "similar_to": 3}, "embedding"), ({"similar_to": 0}, "similar_to"),
             ({"similar_to": 999999}, "similar_to"), ({"embedding": ["a"] * DIM}, "embedding"),
             ({"embedding": [1.7976931348623157e+308] + vector[1:]}, "embedding"),  # beyond half precision
             ({"embedding": [-70000.0] + vector[1:]}, "embedding")]
    for filters, field in cases:
        refused = client.post("/api/talents/search", json=filters, headers=me)
        named = {key.split(".")[0] for key in refused.json["details"]["fields"]}  # `embedding.0` names item 0
        assert refused.status_code == 422 and field in named, (filters, refused.json)
    with app.app_context():
        db.session.execute(text("DELETE FROM talent_embeddings WHERE talent_id = 5"))
        db.session.commit()
    no_vector = client.post("/api/talents/search", json={"similar_to": 5}, headers=me)
    assert "no embedding" in no_vector.json["details"]["fields"]["similar_to"][0]


def _plan(query):
    compiled = query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    return "\n".join(db.session.execute(text(f"EXPLAIN {compiled}")).scalars())


def _page_ids(filters, per_page=20):
    records, _, _ = services.search_page({**filters, "page": 1, "per_page": per_page})
    return [record["id"] for record in records]


def test_exact_path_is_exact_and_the_hnsw_path_recalls_at_least_95_percent(app, population):
    rng = random.Random(3)
    queries = [normal(rng) for _ in range(10)]
    with app.app_context():
        db.session.execute(text("SET enable_indexscan = off"))  # the planner's exact path: rank every match
        vector = [float(x) for x in queries[0]]
        assert "hnsw" not in _plan(services.search({"embedding": vector}, vector))
        for number, query in enumerate(queries):
            filters = {"embedding": [float(x) for x in query], "exact": number}  # `exact`: its own cache key
            assert _page_ids(filters, 100) == brute_force(population, query)[:100]
        db.session.rollback()

    app.config["VECTOR_EXACT_MAX"] = 0  # a filter on gender alone takes the graph too (restored by the app fixture)
    with app.app_context():
        db.session.execute(text("SET enable_seqscan = off"))
        db.session.execute(text("SET enable_sort = off"))  # the HNSW path, even on a small table
        vector = [float(x) for x in queries[0]]
        assert "ix_talent_embeddings_hnsw" in _plan(services.search({"embedding": vector}, vector))
        recalls = []
        females = matching_ids(app, gender="female")
        for query in queries:
            vector = [float(x) for x in query]
            got = _page_ids({"embedding": vector})
            recalls.append(len(set(got) & set(brute_force(population, query)[:20])) / 20)
            # Filtered on the index: iterative scans keep going until the page is full.
            got = _page_ids({"embedding": vector, "gender": "female"})
            assert len(got) == 20 and set(got) <= set(females)
            recalls.append(len(set(got) & set(brute_force(population, query, females)[:20])) / 20)
        assert sum(recalls) / len(recalls) >= 0.95, recalls


def _statements(app, filters):
    """The SQL statements one (uncached) page of a search sends."""
    sent = []
    with app.app_context():
        listen = lambda conn, cursor, statement, *rest: sent.append(statement)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            ids = _page_ids(filters, 5)
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        db.session.rollback()
    return ids, sent


def test_a_selective_city_and_gender_is_ranked_exactly_without_the_graph(app, client, login, population):
    with app.app_context():
        city = db.session.scalar(text("SELECT location->>'city' FROM talents WHERE gender = 'male' "
                                      "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"))
        db.session.execute(text("ANALYZE talent_embeddings"))
        db.session.commit()
    wanted = matching_ids(app, city=city, gender="male")
    query = [float(x) for x in normal(random.Random(8))]
    # Few matches (the planner's estimate at most VECTOR_EXACT_MAX): no HNSW scan, the exact ranking.
    ids, sent = _statements(app, {"embedding": query, "city": city.lower(), "gender": "male"})
    assert ids == brute_force(population, query, wanted)[:5]
    assert not any("set_config" in statement for statement in sent), sent  # no HNSW scan settings
    assert any("talent_embeddings.embedding <=>" in statement and "FROM talents" not in statement
               for statement in sent), sent
    # Paging and the count on the exact path, through the route (the talent itself left out of similar_to).
    me = login("casting_director")
    pages = [search(client, me, similar_to=wanted[0], city=city, gender="male", per_page=4, page=number)
             for number in (1, 2)]
    expected = brute_force(population, population[wanted[0]], wanted[1:])
    assert [item["id"] for page in pages for item in page["items"]] == expected[:8]
    assert pages[0]["meta"]["total"] == len(wanted) - 1
    # More matches than VECTOR_EXACT_MAX: the HNSW graph, as before.
    app.config["VECTOR_EXACT_MAX"] = 1
    query = [float(x) for x in normal(random.Random(9))]  # a new vector: no cached page answers
    ids, sent = _statements(app, {"embedding": query, "city": city, "gender": "male"})
    assert any("set_config" in statement for statement in sent), sent  # the HNSW scan settings
    assert set(ids) <= set(wanted) and len(ids) == 5


def test_an_uncached_page_loads_its_profiles_in_one_statement_whatever_its_size(app, population, redis_client):
    with app.app_context():
        for talent_id in population:  # a photo each, so the profiles' media are read too
            db.session.add(TalentMedia(talent_id=talent_id, kind=MediaKind.PORTFOLIO, key=f"talents/{talent_id}/a.jpg",
                                       thumbnail_key=f"talents/{talent_id}/a-thumb.jpg", content_type="image/jpeg",
                                       width=10, height=10, size_bytes=100))
        db.session.commit()
    counts = {}
    for per_page, seed in ((5, 21), (60, 22)):
        redis_client.flushdb()  # no cached profile: the whole page is loaded
        query = [float(x) for x in normal(random.Random(seed))]
        sent = []
        with app.app_context():
            listen = lambda conn, cursor, statement, *rest: sent.append(statement)  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listen)
            try:
                records, _, _ = services.search_page({"embedding": query, "gender": "female", "page": 1,
                                                      "per_page": per_page})
            finally:
                event.remove(db.engine, "before_cursor_execute", listen)
            db.session.rollback()
        assert len(records) == per_page
        assert all(len(record["media"]) == 1 for record in records)
        profiles = [statement for statement in sent if "talent_media" in statement or "talents.stage_name" in statement]
        # The page's talents and their media in one statement (before: a select of the talents, then
        # a second one for their media).
        assert len(profiles) == 1, profiles
        counts[per_page] = len(sent)
        # Both forms of each profile were cached on the way (the snapshot and the JSON entry).
        for record in records:
            assert redis_client.exists(talent_cache.PROFILE_PREFIX + str(record["id"]),
                                       talent_cache.JSON_PREFIX + str(record["id"])) == 2
    # The estimate, the page with its bounded count beside it, and the profiles: as many for 60
    # profiles as for 5 (before: five, the count a statement of its own and the media another).
    assert counts[5] == counts[60] == 3, counts


def test_a_broad_vector_search_counts_up_to_a_bound(app, client, login, population, monkeypatch):
    monkeypatch.setattr(services, "COUNT_BOUND", 100)
    found = search(client, login("casting_director"), embedding=[1.0] * DIM, per_page=10)
    assert found["meta"]["total_exact"] is False and found["meta"]["total"] == 101 and len(found["items"]) == 10
    narrow = search(client, login("producer"), embedding=[1.0] * DIM, city="Mumbai", gender="male")
    assert "total_exact" not in narrow["meta"]


def test_matching_adds_like_this_role_and_the_ml_service_may_ask(app, client, keys, login):
    owner, agent = login("casting_director"), login("agent")
    production = client.post("/api/productions/", json={**FILM, "status": "casting"}, headers=owner).json["id"]
    role = client.post(f"/api/productions/{production}/roles", headers=owner, json={
        "name": "Young Radha", "gender": "female", "skills": ["Acting"]}).json["id"]
    path = f"/api/productions/{production}/roles/{role}"
    rng = random.Random(4)
    role_vector = normal(rng)
    near, far = plus(role_vector, normal(rng, 0.3)), [-x for x in role_vector]
    ids = {name: client.post("/api/talents/", json=person(name, skills=["Acting"]), headers=agent).json["id"]
           for name in ("Asha", "Bina", "Chitra")}
    for name, vector in (("Asha", far), ("Bina", near)):
        assert client.put(f"/api/talents/{ids[name]}/embedding", json=body(vector),
                          headers=keys["ml"]).status_code == 200

    def ranked(headers):
        response = client.get(f"{path}/matches", headers=headers)
        assert response.status_code == 200, response.json
        return [(item["talent"]["stage_name"], item["score"], item["reasons"]) for item in response.json["items"]]

    before = ranked(owner)
    assert not any("like this role" in reason for _, _, reasons in before for reason in reasons)
    assert len({score for _, score, _ in before}) == 1  # the three are alike without the role's embedding

    assert client.put(f"{path}/embedding", json=body(role_vector, model="other"),
                      headers=keys["ml"]).status_code == 422
    assert client.put(f"{path}/embedding", json=body(role_vector), headers=owner).status_code == 401
    assert client.put(f"/api/productions/{production}/roles/999/embedding", json=body(role_vector),
                      headers=keys["ml"]).json["code"] == "PRODUCTION_004"
    assert client.put(f"{path}/embedding", json=body(role_vector), headers=keys["ml"]).status_code == 200

    after = ranked(owner)
    assert [name for name, _, _ in after] == ["Bina", "Chitra", "Asha"]
    reasons = {name: reasons for name, _, reasons in after}
    similarity = cosine(near, role_vector)
    assert f"like this role (similarity {similarity:.2f})" in reasons["Bina"]
    assert "like this role (similarity 0.00)" in reasons["Asha"]  # opposite: never below 0
    assert "no embedding yet to compare with this role" in reasons["Chitra"]

    # The ML service's key reaches the matches (no date of birth: it is not the talent's manager).
    as_service = ranked(keys["ml"])
    assert [name for name, _, _ in as_service] == ["Bina", "Chitra", "Asha"]
    with app.app_context():
        statements = Statements(db.engine)
    with statements:  # the ranking cached: the key's look-up, then the role with its production and embedding
        service_page = client.get(f"{path}/matches", headers=keys["ml"]).json
    assert all("date_of_birth" not in item["talent"] for item in service_page["items"])
    assert statements.count == 2
    assert client.get(f"{path}/matches", headers=keys["export"]).status_code == 403
    assert client.get(f"{path}/matches", headers=login("talent")).status_code == 403
    assert client.get(f"/api/productions/{production}/roles/999/matches",
                      headers=keys["ml"]).json["code"] == "PRODUCTION_004"
    assert client.get(f"/api/productions/999/roles/{role}/matches",
                      headers=keys["ml"]).json["code"] == "PRODUCTION_001"


def test_the_export_reaches_the_ml_key_and_can_include_embeddings(app, client, keys, login):
    agent = login("agent")
    ids = [client.post("/api/talents/", json=person(name), headers=agent).json["id"] for name in ("Asha", "Bina")]
    vector = normal(random.Random(5))
    client.put(f"/api/talents/{ids[0]}/embedding", json=body(vector), headers=keys["ml"])
    response = client.get("/api/export/talents?include_embeddings=true", headers=keys["ml"])
    assert response.status_code == 200
    rows = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [row["id"] for row in rows] == ids
    assert rows[0]["embedding"]["model"] == MODEL and close(rows[0]["embedding"]["vector"], vector)
    assert rows[1]["embedding"] is None
    plain = client.get("/api/export/talents", headers=keys["export"]).get_data(as_text=True).splitlines()
    assert all("embedding" not in json.loads(line) for line in plain)


def test_scan_settings_apply_to_the_transaction_only(app):
    with app.app_context():
        embeddings.scan_settings()
        assert db.session.scalar(text("SHOW hnsw.iterative_scan")) == "relaxed_order"
        assert db.session.scalar(text("SHOW hnsw.ef_search")) == str(app.config["HNSW_EF_SEARCH"])
        db.session.commit()
        assert db.session.scalar(text("SHOW hnsw.iterative_scan")) != "relaxed_order"


def test_flask_seed_talents_with_vectors_gives_each_talent_one_and_rebuilds_the_index(app, runner):
    result = runner.invoke(args=["seed", "talents", "50", "--vectors"])
    assert result.exit_code == 0, result.output
    assert "50 embeddings added" in result.output and "HNSW index built in" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TalentEmbedding)) == 50
        assert db.session.scalar(text("SELECT vector_dims(embedding) FROM talent_embeddings LIMIT 1")) == DIM
        index = db.session.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_talent_embeddings_hnsw'"))
        assert index.endswith("USING hnsw (((embedding)::halfvec(384)) halfvec_cosine_ops)"), index
    again = runner.invoke(args=["seed", "talents", "50", "--up-to", "--vectors"])
    assert "every talent has an embedding already" in again.output


def test_a_talent_who_moves_or_changes_gender_is_found_under_the_new_ones(app, client, login, population):
    """City and gender are checked on the embedding row's copies: they follow the talent (triggers)."""
    me = login("casting_director")
    anchor = 23
    with app.app_context():
        talent = db.session.get(Talent, anchor)
        talent.location = {"city": "Shillong", "state": "Meghalaya", "country": "India"}
        talent.gender = "non_binary"
        db.session.commit()
        assert db.session.execute(text("SELECT city, gender::text FROM talent_embeddings WHERE talent_id = :id"),
                                  {"id": anchor}).one() == ("Shillong", "non_binary")
    vector = [float(x) for x in population[anchor]]
    found = search(client, me, embedding=vector, city="shillong", gender="non_binary")
    assert [item["id"] for item in found["items"]] == [anchor]
    before = search(client, me, embedding=vector, city="shillong", gender="female")
    assert before["items"] == [] and before["meta"]["total"] == 0
    # A vector stored again (the ML service's PUT) keeps the copies.
    with app.app_context():
        db.session.execute(text("UPDATE talent_embeddings SET model = model WHERE talent_id = :id"), {"id": anchor})
        db.session.execute(text("DELETE FROM talent_embeddings WHERE talent_id = :id"), {"id": 24})
        db.session.add(TalentEmbedding(talent_id=24, model=MODEL, embedding=vector))
        db.session.commit()
        copies = db.session.execute(text("SELECT e.city = t.location->>'city' AND e.gender = t.gender FROM "
                                         "talent_embeddings e JOIN talents t ON t.id = e.talent_id "
                                         "WHERE e.talent_id IN (23, 24)")).scalars().all()
    assert copies == [True, True]


def test_the_exact_path_ranks_half_precision_copies_that_follow_the_vectors(app, client, keys, population):
    """The exact path ranks every match on its half-precision copy, then the first few on the full
    vectors: the order is brute force's; a trigger keeps the copies with the vectors, city and gender."""
    def copies():
        return dict(db.session.execute(text(
            "SELECT e.talent_id, h.city IS NOT DISTINCT FROM e.city AND h.gender IS NOT DISTINCT FROM e.gender "
            "AND h.embedding = e.embedding::halfvec FROM talent_embeddings e "
            "LEFT JOIN talent_embedding_halves h ON h.talent_id = e.talent_id")).all())

    with app.app_context():
        assert set(copies().values()) == {True} and len(copies()) == len(population)
    females = matching_ids(app, gender="female")
    rng = random.Random(31)
    for _ in range(5):
        query = [float(x) for x in normal(rng)]
        ids, sent = _statements(app, {"embedding": query, "gender": "female"})
        assert ids == brute_force(population, query, females)[:5]
        assert any("FROM talent_embedding_halves" in statement for statement in sent), sent
    # A new vector through the ML service's route, a move, a vector removed: the copies follow.
    talent_id = females[0]
    vector = [float(x) for x in normal(rng)]
    assert client.put(f"/api/talents/{talent_id}/embedding", json=body(vector), headers=keys["ml"]).status_code == 200
    with app.app_context():
        talent = db.session.get(Talent, talent_id)
        talent.location = {"city": "Shillong", "state": "Meghalaya", "country": "India"}
        talent.gender = "male"
        db.session.commit()
        db.session.execute(text("DELETE FROM talent_embeddings WHERE talent_id = :id"), {"id": females[1]})
        db.session.commit()
        found = copies()
        assert set(found.values()) == {True} and females[1] not in found
        assert db.session.execute(text("SELECT city, gender::text FROM talent_embedding_halves WHERE talent_id = :id"),
                                  {"id": talent_id}).one() == ("Shillong", "male")
        assert db.session.scalar(text("SELECT count(*) FROM talent_embedding_halves")) == len(population) - 1
    ids, _ = _statements(app, {"embedding": vector, "city": "shillong", "gender": "male"})
    assert ids == [talent_id]
