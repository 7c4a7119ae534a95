"""Trust and safety: verified casting accounts, the scam shield, reports, the admin queue, suspension."""
import json
import uuid

import pytest
from sqlalchemy import select

from casting.audit.models import AuditEvent
from casting.kernel.extensions import db
from casting.notifications.models import Notification
from casting.safety import shield, tasks
from tests.support import run_jobs
from tests.test_talents import profile

RULES = json.loads(shield.RULES_FILE.read_text(encoding="utf-8"))["rules"]
FILM = {"title": "Monsoon Wedding 2", "type": "film", "language": "Hindi", "status": "casting"}
SCAM = "Congratulations, you are shortlisted! Registration fee Rs 2500 to confirm your audition slot."


@pytest.mark.parametrize("rule_id, text", [(rule["id"], text) for rule in RULES for text in rule["flags"]])
def test_every_rule_catches_its_examples(rule_id, text):
    assert rule_id in [rule.id for rule in shield.matching_rules(text)]


@pytest.mark.parametrize("text", [text for rule in RULES for text in rule["passes"]] + [
    "The role pays ₹5,000 per day for a 10-day shoot in Jaipur.",
    "Travel and stay are paid by the production; remuneration ₹40,000 per episode.",
    "Reach the Film City gate by 9. Carry two printed headshots.",
    "Write to us at auditions.team@gmail.com with your showreel.",
    "There are no fees at any stage. If anyone asks for money, report them.",
])
def test_ordinary_casting_talk_is_not_flagged(text):
    assert shield.verdict(text) is None


def test_a_verdict_names_reasons_and_gives_advice_per_family():
    verdict = shield.verdict("Pay ₹1,500 today to confirm your selection. Also send 3 nude photos on WhatsApp.")
    assert verdict["flagged"] and set(verdict["rules"]) >= {"money.transfer", "explicit.photos"}
    assert "never asks talent for money" in verdict["advice"] and "explicit photos" in verdict["advice"]


def test_rules_come_from_the_data_file_alone(tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"advice": {"money": "Do not pay."}, "rules": [{
        "id": "money.gst", "family": "money", "reason": "asks for GST on a fake contract",
        "patterns": ["\\bgst\\s+charges?\\b"], "flags": [], "passes": []}]}), encoding="utf-8")
    book = shield.rulebook(rules)
    assert [rule.id for rule in shield.matching_rules("Pay GST charges of 18% first.", book)] == ["money.gst"]
    assert shield.matching_rules(SCAM, book) == []


@pytest.fixture
def people(signed_in):
    """(headers, user id) for a casting director, a producer, two talents and an admin."""
    return {"cd": signed_in("casting_director", "cd@example.in"), "producer": signed_in("producer", "pr@example.in"),
            "asha": signed_in("talent", "asha@example.in"), "ravi": signed_in("talent", "ravi@example.in"),
            "admin": signed_in("admin", "admin@example.in")}


def verify(client, people, who):
    return client.post(f"/api/admin/users/{people[who][1]}/verification", headers=people["admin"][0],
                       json={"note": "CDA membership no. 4821, checked by phone"})


def chat(client, sender, *others):
    return client.post("/api/conversations", headers=sender[0], json={"participant_ids": [o[1] for o in others]})


def say(client, sender, conversation_id, body):
    return client.post(f"/api/conversations/{conversation_id}/messages", headers=sender[0],
                       json={"body": body, "client_id": uuid.uuid4().hex})


def actions(app):
    with app.app_context():
        return [event.action for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_admins_verify_casting_accounts_and_it_shows_everywhere(client, people, app):
    cd, asha = people["cd"], people["asha"]
    assert client.post(f"/api/admin/users/{cd[1]}/verification", headers=cd[0], json={"note": "me"}).status_code == 403
    refused = verify(client, people, "asha")
    assert refused.status_code == 409 and refused.json["code"] == "SAFETY_005"
    verified = verify(client, people, "cd")
    assert verified.status_code == 200 and verified.json["is_verified"] is True
    assert "verification_note" not in verified.json and "CDA" not in json.dumps(verified.json)
    production = client.post("/api/productions/", json=FILM, headers=cd[0]).json
    role = client.post(f"/api/productions/{production['id']}/roles", headers=cd[0], json={"name": "Radha"}).json
    audition = client.post("/api/auditions/", headers=cd[0], json={"production_id": production["id"],
                                                                   "title": "First round", "mode": "virtual"}).json
    assert production["is_verified"] and role["is_verified"] and audition["is_verified"]
    assert client.get(f"/api/productions/{production['id']}", headers=asha[0]).json["is_verified"] is True
    conversation = chat(client, cd, asha).json
    assert {p["id"]: p["is_verified"] for p in conversation["participants"]} == {cd[1]: True, asha[1]: False}
    assert say(client, cd, conversation["id"], "Namaste").json["is_verified"] is True
    revoked = client.delete(f"/api/admin/users/{cd[1]}/verification", headers=people["admin"][0])
    assert revoked.json["is_verified"] is False
    assert client.get(f"/api/productions/{production['id']}", headers=asha[0]).json["is_verified"] is False
    history = client.get(f"/api/conversations/{conversation['id']}/messages", headers=asha[0]).json["items"]
    assert history[0]["is_verified"] is False
    assert {"verify", "unverify"} <= set(actions(app))


def test_talent_can_accept_new_conversations_from_verified_accounts_only(client, people):
    cd, producer, asha = people["cd"], people["producer"], people["asha"]
    existing = chat(client, producer, asha).json["id"]
    me = client.patch("/api/auth/me", headers=asha[0], json={"only_verified_contacts": True}).json
    assert me["only_verified_contacts"] is True
    refused = chat(client, cd, asha)
    assert refused.status_code == 403 and refused.json["code"] == "MESSAGE_006"
    assert refused.json["details"]["user_ids"] == [asha[1]]
    assert chat(client, producer, asha).json["id"] == existing  # a conversation she already has goes on
    verify(client, people, "cd")
    assert chat(client, cd, asha).status_code == 201


def test_a_scam_message_is_delivered_with_a_warning_flagged_and_answered_with_one_tip(client, people, app):
    cd, asha = people["cd"], people["asha"]
    conversation_id = chat(client, cd, asha).json["id"]
    sent = say(client, cd, conversation_id, SCAM)
    assert sent.status_code == 201
    warning = sent.json["safety"]
    assert warning["flagged"] and warning["reasons"] == [
        "asks for a registration, processing, portfolio, membership or audition fee"]
    assert "Do not pay" in warning["advice"] and "rules" not in warning
    say(client, cd, conversation_id, "Send the 2500 advance on my GPay number 9876543210 today.")
    assert say(client, cd, conversation_id, "See you on Friday at 11.").json["safety"] is None
    history = client.get(f"/api/conversations/{conversation_id}/messages", headers=asha[0]).json["items"]
    assert [bool(m["safety"]) for m in history] == [False, True, True]
    queue = client.get("/api/admin/flags", headers=people["admin"][0], query_string={"source": "shield"}).json
    assert queue["meta"]["total"] == 2
    assert {(f["target_type"], f["subject_id"]) for f in queue["items"]} == {("message", cd[1])}
    run_jobs(app)
    with app.app_context():
        tips = db.session.scalars(select(Notification).where(Notification.template == "safety_tip")).all()
    assert [tip.user_id for tip in tips] == [asha[1]]


def test_talent_and_casting_to_casting_text_is_not_screened(client, people):
    asha, ravi, cd, producer = people["asha"], people["ravi"], people["cd"], people["producer"]
    among_talent = chat(client, asha, ravi).json["id"]
    assert say(client, asha, among_talent, SCAM).json["safety"] is None
    among_casting = chat(client, cd, producer).json["id"]
    assert say(client, cd, among_casting, "Pay the studio's security deposit of ₹10,000 today.").json[
        "safety"] is None


def test_a_flagged_production_or_role_is_held_until_an_admin_dismisses_the_flag(client, people, app):
    cd, asha, admin = people["cd"], people["asha"], people["admin"]
    fine = client.post("/api/productions/", headers=cd[0], json={**FILM, "description": "The role pays ₹5,000 "
                                                                                        "per day."}).json
    assert fine["held_for_review"] is False
    held = client.post("/api/productions/", headers=cd[0], json={
        **FILM, "title": "Ad film", "description": "Portfolio shoot charges ₹8,000, pay before Sunday."}).json
    assert held["held_for_review"] is True
    listed = [p["id"] for p in client.get("/api/productions/", headers=asha[0]).json["items"]]
    assert listed == [fine["id"]]
    assert client.get(f"/api/productions/{held['id']}", headers=asha[0]).status_code == 404
    assert client.get(f"/api/productions/{held['id']}", headers=cd[0]).json["held_for_review"] is True
    role = client.post(f"/api/productions/{held['id']}/roles", headers=cd[0], json={"name": "Lead"}).json
    matches = client.get(f"/api/productions/{held['id']}/roles/{role['id']}/matches", headers=cd[0])
    assert matches.status_code == 409 and matches.json["code"] == "PRODUCTION_005"
    flag = client.get("/api/admin/flags", headers=admin[0], query_string={"target_type": "production"}).json[
        "items"][0]
    assert flag["target_id"] == held["id"] and flag["findings"]["rules"] == ["money.fee"]
    dismissed = client.post(f"/api/admin/flags/{flag['id']}/resolve", headers=admin[0],
                            json={"outcome": "dismissed", "note": "A real ad agency; the text was theirs."})
    assert dismissed.status_code == 200 and dismissed.json["status"] == "dismissed"
    assert client.get(f"/api/productions/{held['id']}", headers=asha[0]).json["held_for_review"] is False
    assert client.get(f"/api/productions/{held['id']}/roles/{role['id']}/matches", headers=cd[0]).status_code == 200
    again = client.post(f"/api/admin/flags/{flag['id']}/resolve", headers=admin[0], json={"outcome": "upheld"})
    assert again.status_code == 409 and again.json["code"] == "SAFETY_003"
    assert {"shield_flag", "flag_dismissed", "release"} <= set(actions(app))


def test_a_flagged_role_is_hidden_from_everyone_but_its_owner(client, people):
    cd, asha = people["cd"], people["asha"]
    production = client.post("/api/productions/", headers=cd[0], json=FILM).json["id"]
    bad = client.post(f"/api/productions/{production}/roles", headers=cd[0], json={
        "name": "Heroine", "description": "Send your pics in lingerie for the final round."}).json
    good = client.post(f"/api/productions/{production}/roles", headers=cd[0], json={"name": "Sister"}).json
    assert bad["held_for_review"] and not good["held_for_review"]
    seen = [r["id"] for r in client.get(f"/api/productions/{production}/roles", headers=asha[0]).json["items"]]
    assert seen == [good["id"]]
    assert client.get(f"/api/productions/{production}/roles/{bad['id']}", headers=asha[0]).status_code == 404
    assert len(client.get(f"/api/productions/{production}/roles", headers=cd[0]).json["items"]) == 2


def test_reports_land_in_the_queue_once_per_reporter_and_only_for_what_they_can_see(client, people, app):
    cd, asha, ravi, admin = people["cd"], people["asha"], people["ravi"], people["admin"]
    conversation_id = chat(client, cd, asha).json["id"]
    message_id = say(client, cd, conversation_id, "Come alone to the hotel for a private audition.").json["id"]
    body = {"target_type": "message", "target_id": message_id, "reason": "harassment",
            "note": "<b>He</b> insisted on a hotel room"}
    filed = client.post("/api/reports", headers=asha[0], json=body)
    assert filed.status_code == 201 and filed.json["status"] == "open"
    assert client.post("/api/reports", headers=asha[0], json=body).json["id"] == filed.json["id"]
    outsider = client.post("/api/reports", headers=ravi[0], json=body)
    assert outsider.status_code == 404 and outsider.json["code"] == "SAFETY_004"
    yourself = client.post("/api/reports", headers=asha[0], json={"target_type": "user", "target_id": asha[1],
                                                                  "reason": "other"})
    assert yourself.status_code == 422
    assert client.post("/api/reports", headers=asha[0], json={**body, "target_type": "audition"}).status_code == 422
    queue = client.get("/api/admin/flags", headers=admin[0], query_string={"source": "report"}).json["items"]
    assert [(f["reporter_id"], f["subject_id"], f["note"]) for f in queue] == [
        (asha[1], cd[1], "He insisted on a hotel room")]
    assert client.get("/api/admin/flags", headers=asha[0]).status_code == 403
    assert "report" in actions(app)


def uphold_three(client, people, subject):
    """Three upheld reports against `subject`'s production, from different talents."""
    production = client.post("/api/productions/", headers=people[subject][0], json=FILM).json["id"]
    for reporter in ("asha", "ravi", "producer"):
        flag = client.post("/api/reports", headers=people[reporter][0], json={
            "target_type": "production", "target_id": production, "reason": "fake_casting"}).json
        resolved = client.post(f"/api/admin/flags/{flag['id']}/resolve", headers=people["admin"][0],
                               json={"outcome": "upheld"})
        assert resolved.status_code == 200
    return production


def test_upheld_flags_suspend_an_account_and_hide_its_content_until_reinstated(client, people, app):
    cd, asha, admin = people["cd"], people["asha"], people["admin"]
    conversation_id = chat(client, cd, asha).json["id"]
    earlier = client.post("/api/productions/", headers=cd[0], json=FILM).json["id"]
    matches = f"/api/productions/{earlier}/roles/" + str(client.post(
        f"/api/productions/{earlier}/roles", headers=cd[0], json={"name": "Lead"}).json["id"]) + "/matches"
    talent_id = client.post("/api/talents/", headers=asha[0], json=profile()).json["id"]
    audition = client.post("/api/auditions/", headers=cd[0], json={"production_id": earlier, "title": "Round 1",
                                                                   "mode": "virtual"}).json["id"]
    client.post(f"/api/auditions/{audition}/invite", headers=cd[0], json={"talent_ids": [talent_id]})
    assert client.get(f"/api/auditions/{audition}", headers=asha[0]).status_code == 200
    production = uphold_three(client, people, "cd")
    role = client.post(f"/api/productions/{production}/roles", headers=cd[0], json={"name": "Lead"})
    assert role.status_code == 403 and role.json["code"] == "SAFETY_001"
    for refused in (say(client, cd, conversation_id, "hello?"), chat(client, cd, people["ravi"]),
                    client.post("/api/productions/", headers=cd[0], json=FILM),
                    client.put(f"/api/productions/{production}", headers=cd[0], json={"title": "New"})):
        assert refused.status_code == 403 and refused.json["code"] == "SAFETY_001"
    assert client.get("/api/productions/", headers=asha[0]).json["items"] == []
    assert client.get(f"/api/productions/{production}", headers=asha[0]).status_code == 404
    assert client.get(f"/api/auditions/{audition}", headers=asha[0]).status_code == 404
    assert client.get("/api/auditions/", headers=asha[0]).json["items"] == []
    assert client.get(matches, headers=cd[0]).json["code"] == "SAFETY_001"
    invite = client.post(f"/api/auditions/{audition}/invite", headers=cd[0], json={"talent_ids": [talent_id]})
    assert invite.status_code == 403 and invite.json["code"] == "SAFETY_001"
    assert chat(client, asha, cd).status_code == 200  # their existing conversation stays readable
    assert chat(client, people["ravi"], cd).status_code == 422  # but nobody starts a new one with them
    reinstated = client.post(f"/api/admin/users/{cd[1]}/reinstate", headers=admin[0])
    assert reinstated.status_code == 200 and reinstated.json["is_suspended"] is False
    assert say(client, cd, conversation_id, "Sorry about that.").status_code == 201
    assert sorted(p["id"] for p in client.get("/api/productions/", headers=asha[0]).json["items"]) == [
        earlier, production]
    assert client.get(f"/api/auditions/{audition}", headers=asha[0]).status_code == 200
    assert {"flag_upheld", "suspend", "reinstate"} <= set(actions(app))


def test_admins_get_a_digest_of_new_flags_once_per_period(client, people, app):
    with app.app_context():
        assert tasks.flag_digest() == 0
    conversation_id = chat(client, people["cd"], people["asha"]).json["id"]
    say(client, people["cd"], conversation_id, SCAM)
    with app.app_context():
        assert tasks.flag_digest() == 1
        tasks.flag_digest()
        digests = db.session.scalars(select(Notification).where(Notification.template == "flag_digest")).all()
    assert [(d.user_id, d.params["count"]) for d in digests] == [(people["admin"][1], "1")]
