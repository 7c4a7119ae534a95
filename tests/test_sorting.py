"""Every list sorts (`sort=key,-key`), with the talents list's syntax and a 422 for unknown keys."""
from datetime import datetime, timedelta, timezone

import pytest

from casting.audit.services import record
from casting.auth import api_keys
from casting.kernel.extensions import db
from casting.safety.models import Flag, FlagSource, FlagTarget
from tests.test_talents import profile


def listed(client, headers, path, field, sort=None):
    separator = "&" if "?" in path else "?"
    response = client.get(path + (f"{separator}sort={sort}" if sort else ""), headers=headers)
    assert response.status_code == 200, response.json
    return [item[field] for item in response.json["items"]]


def assert_sorts(client, headers, path, key, field, ascending):
    """`sort=key` gives `ascending` (not the default order), `-key` its reverse (not the default either),
    and an unknown key is a 422 in the error envelope naming `sort`."""
    default = listed(client, headers, path, field)
    assert sorted(default) == sorted(ascending)
    assert listed(client, headers, path, field, key) == ascending != default
    assert listed(client, headers, path, field, f"-{key}") == ascending[::-1] != default
    separator = "&" if "?" in path else "?"
    refused = client.get(f"{path}{separator}sort=-{key},shoe_size", headers=headers)
    assert refused.status_code == 422
    assert refused.json["code"] == "VALIDATION_001" and refused.json["requestId"]
    assert "shoe_size" in refused.json["details"]["fields"]["sort"][0]


@pytest.fixture
def director(login):
    return login("casting_director")


def _production(client, director, title, **extra):
    response = client.post("/api/productions/", headers=director, json={"title": title, "type": "film", **extra})
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_productions_sort(client, director):
    for title in ("Beta", "Alpha", "Gamma"):  # newest first by default: Gamma, Alpha, Beta
        _production(client, director, title)
    assert_sorts(client, director, "/api/productions/?mine=true", "title", "title", ["Alpha", "Beta", "Gamma"])


def test_roles_sort(client, director):
    production = _production(client, director, "Monsoon Wedding 2")
    for name, pay in (("Beta", 3000), ("Alpha", 1000), ("Gamma", 2000)):  # in the order added by default
        client.post(f"/api/productions/{production}/roles", headers=director, json={"name": name, "pay_inr": pay})
    path = f"/api/productions/{production}/roles"
    assert_sorts(client, director, path, "name", "name", ["Alpha", "Beta", "Gamma"])
    assert listed(client, director, path, "name", "-pay_inr") == ["Beta", "Gamma", "Alpha"]


@pytest.fixture
def auditions(client, director):
    """Three auditions made in the order 5, 1 and 10 December (newest first by default: 10, 1, 5)."""
    production = _production(client, director, "Monsoon Wedding 2", status="casting")
    made = {}
    for day in ("2026-12-05", "2026-12-01", "2026-12-10"):
        response = client.post("/api/auditions/", headers=director, json={
            "production_id": production, "title": f"Round on {day}", "mode": "virtual", "scheduled_date": day})
        assert response.status_code == 201, response.json
        assert response.json["scheduled_date"] == day
        made[day] = response.json["id"]
    return made


def test_auditions_take_a_scheduled_date_sort_by_it_and_filter_on_it(client, director, auditions):
    assert_sorts(client, director, "/api/auditions/", "scheduled_date", "scheduled_date",
                 ["2026-12-01", "2026-12-05", "2026-12-10"])
    window = listed(client, director, "/api/auditions/?date_from=2026-12-02&date_to=2026-12-10", "scheduled_date",
                    "scheduled_date")
    assert window == ["2026-12-05", "2026-12-10"]
    assert listed(client, director, "/api/auditions/?date_to=2026-12-01", "scheduled_date") == ["2026-12-01"]
    moved = client.put(f"/api/auditions/{auditions['2026-12-01']}", headers=director,
                       json={"scheduled_date": "2026-12-20"})
    assert moved.status_code == 200 and moved.json["scheduled_date"] == "2026-12-20"
    assert listed(client, director, "/api/auditions/?date_from=2026-12-11", "scheduled_date") == ["2026-12-20"]
    for query, field in (("date_from=2026-12-10&date_to=2026-12-01", "date_to"), ("date_from=tomorrow", "date_from"),
                         ("sort=scheduled", "sort")):
        response = client.get(f"/api/auditions/?{query}", headers=director)
        assert response.status_code == 422 and field in response.json["details"]["fields"], query


def test_the_scheduled_date_index_serves_the_date_filter(app, client, director, auditions):
    from sqlalchemy import text

    with app.app_context():
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(db.session.scalars(text(
            "EXPLAIN SELECT id FROM auditions WHERE scheduled_date BETWEEN '2026-12-01' AND '2026-12-31' "
            "ORDER BY scheduled_date")))
    assert "ix_auditions_scheduled_date" in plan


def test_invitations_list_sorts_and_shows_talent_only_their_own(client, director, auditions, login):
    talent = {}
    for name in ("Asha", "Bela", "Chitra"):
        headers = login("talent", f"{name.lower()}@example.in")
        talent[name] = (client.post("/api/talents/", json=profile(stage_name=name), headers=headers).json["id"],
                        headers)
    audition = auditions["2026-12-05"]
    order = [talent["Bela"][0], talent["Asha"][0], talent["Chitra"][0]]
    invited = client.post(f"/api/auditions/{audition}/invite", headers=director, json={"talent_ids": order})
    assert invited.json["invited"] == 3
    path = f"/api/auditions/{audition}/invitations"
    assert_sorts(client, director, path, "talent_id", "talent_id", sorted(order))
    client.post(f"/api/auditions/{audition}/rsvp", headers=talent["Chitra"][1], json={"response": "decline"})
    assert listed(client, director, path, "talent_id", "-status,talent_id")[0] == talent["Chitra"][0]
    assert listed(client, director, f"{path}?status=declined", "talent_id") == [talent["Chitra"][0]]
    own = client.get(path, headers=talent["Asha"][1]).json
    assert [item["talent_id"] for item in own["items"]] == [talent["Asha"][0]] and own["meta"]["total"] == 1
    assert own["items"][0]["history"][0]["to_status"] == "invited"
    outsider = client.get(path, headers=login("talent", "outsider@example.in"))
    assert outsider.status_code == 404 and outsider.json["code"] == "AUDITION_001"


def test_conversations_sort(client, signed_in):
    me = signed_in("casting_director", "cd@example.in")
    made = []
    for name in ("asha", "bela", "chitra"):
        other = signed_in("talent", f"{name}@example.in")
        made.append(client.post("/api/conversations", headers=me[0], json={"participant_ids": [other[1]]}).json["id"])
    client.post(f"/api/conversations/{made[0]}/messages", headers=me[0], json={"body": "Namaste", "client_id": "c1"})
    # by default the most recently active first: the one with a message, then the others newest first
    assert listed(client, me[0], "/api/conversations", "id") == [made[0], made[2], made[1]]
    assert_sorts(client, me[0], "/api/conversations", "created_at", "id", made)


def test_admin_queues_sort(app, client, login):
    admin = login("admin")
    with app.app_context():
        now = datetime.now(timezone.utc)
        for hours, target in ((1, FlagTarget.USER), (2, FlagTarget.MESSAGE), (3, FlagTarget.PRODUCTION)):
            db.session.add(Flag(source=FlagSource.SHIELD, target_type=target, target_id=hours,
                                created_at=now - timedelta(hours=hours)))
        for action in ("sort_beta", "sort_alpha", "sort_gamma"):
            record(action, target_type="sorting", commit=True)
        for name in ("Beta", "Alpha", "Gamma"):
            api_keys.create(name, ["export"])
        db.session.commit()
    # newest first by default: user, message, production; the enum's order is message, production, ..., user
    assert_sorts(client, admin, "/api/admin/flags", "target_type", "target_type", ["message", "production", "user"])
    assert_sorts(client, admin, "/api/admin/audit-events?target_type=sorting", "action", "action",
                 ["sort_alpha", "sort_beta", "sort_gamma"])
    assert_sorts(client, admin, "/api/admin/api-keys", "name", "name", ["Alpha", "Beta", "Gamma"])


def test_every_sort_key_is_documented(client):
    spec = client.get("/api/openapi.json").json
    for path, keys in (("/api/productions", "title"), ("/api/productions/{production_id}/roles", "pay_inr"),
                       ("/api/auditions", "scheduled_date"), ("/api/auditions/{audition_id}/invitations", "status"),
                       ("/api/conversations", "last_message_at"), ("/api/admin/flags", "target_type"),
                       ("/api/admin/audit-events", "action"), ("/api/admin/api-keys", "name")):
        parameters = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        assert keys in parameters["sort"]["description"], path
