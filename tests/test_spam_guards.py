"""Nobody can be locked out or spammed through the platform (issue 14, item 6)."""
import pytest
from sqlalchemy import select

from casting.kernel.extensions import db
from casting.notifications.models import Notification
from casting.users.services import create_user
from tests.support import run_jobs
from tests.test_auditions import stage  # noqa: F401 - fixture
from tests.test_talents import profile

PASSWORD = "monsoon-kathak-audition"


def talent_with_phone(app, client, name, phone):
    """A talent who signs in by phone as well: their invitations and their codes go to the same number."""
    email = f"{name.lower()}@example.in"
    with app.app_context():
        user_id = create_user(name, "talent", password=PASSWORD, email=email, phone=phone).id
    token = client.post("/api/auth/login", json={"identifier": email, "password": PASSWORD}).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    talent_id = client.post("/api/talents/", json=profile(stage_name=name), headers=headers).json["id"]
    return talent_id, headers, user_id


def auditions(client, stage, count):  # noqa: F811
    return [client.post("/api/auditions/", headers=stage["owner"], json={
        "production_id": stage["production"], "title": f"Round {n}", "mode": "virtual"}).json["id"]
        for n in range(count)]


def invite(client, stage, audition_id, *talent_ids):  # noqa: F811
    response = client.post(f"/api/auditions/{audition_id}/invite", json={"talent_ids": list(talent_ids)},
                           headers=stage["owner"])
    assert response.status_code == 202, response.json
    return response.json


def test_invitations_cannot_use_up_a_talents_sign_in_codes(app, client, stage):  # noqa: F811
    app.config.update(NOTIFY_FLOOD_LIMIT="3/hour", INVITE_LIMIT_PER_TALENT="100/day")
    asha, _, _ = talent_with_phone(app, client, "Asha", "9876543210")
    for audition_id in auditions(client, stage, 5):
        invite(client, stage, audition_id, asha)
    run_jobs(app)
    with app.app_context():
        invites = db.session.scalars(select(Notification).where(Notification.template == "audition_invite")).all()
        assert len(invites) == 3  # the rest were held back by NOTIFY_FLOOD_LIMIT
    code = client.post("/api/auth/otp/send", json={"phone": "9876543210"})
    assert code.status_code == 202, code.json
    with app.app_context():
        assert db.session.scalar(select(Notification).where(Notification.template == "otp")) is not None


def test_codes_have_a_budget_of_their_own(app, client):
    app.config.update(NOTIFY_AUTH_FLOOD_LIMIT="2/hour", OTP_RESEND_SECONDS=0)
    statuses = [client.post("/api/auth/otp/send", json={"phone": "9876543210"}).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]


def test_one_sender_invites_one_talent_only_so_often(app, client, stage):  # noqa: F811
    app.config.update(INVITE_LIMIT_PER_TALENT="2/day")
    asha, _ = stage["talent"]("Asha")
    bina, _ = stage["talent"]("Bina")
    first, second, third = auditions(client, stage, 3)
    assert invite(client, stage, first, asha)["invited"] == 1
    assert invite(client, stage, second, asha)["invited"] == 1
    assert invite(client, stage, third, asha, bina) == {
        "invited": 1, "skipped": [{"talent_id": asha, "reason": "invite_limit"}]}


def test_verified_contacts_only_also_holds_for_invitations(app, client, login, stage):  # noqa: F811
    asha, asha_headers = stage["talent"]("Asha")
    bina, _ = stage["talent"]("Bina")
    assert client.patch("/api/auth/me", headers=asha_headers, json={"only_verified_contacts": True}).status_code == 200
    first, second = auditions(client, stage, 2)
    assert invite(client, stage, first, asha, bina) == {
        "invited": 1, "skipped": [{"talent_id": asha, "reason": "verified_contacts_only"}]}
    owner_id = client.get("/api/auth/me", headers=stage["owner"]).json["id"]
    verified = client.post(f"/api/admin/users/{owner_id}/verification", headers=login("admin"),
                           json={"note": "CDA membership no. 4821"})
    assert verified.status_code == 200, verified.json
    assert invite(client, stage, second, asha) == {"invited": 1, "skipped": []}


@pytest.fixture
def crowd(signed_in):
    return [signed_in("talent", f"t{n}@example.in") for n in range(4)]


def start(client, who, *others):
    return client.post("/api/conversations", headers=who[0], json={"participant_ids": [o[1] for o in others]})


def test_unverified_accounts_start_small_groups_and_few_conversations(app, client, signed_in, login, crowd):
    app.config.update(CHAT_UNVERIFIED_MAX_PARTICIPANTS=3, CHAT_UNVERIFIED_START_LIMIT="2/day")
    cd = signed_in("casting_director", "cd@example.in")
    big = start(client, cd, *crowd[:3])
    assert (big.status_code, big.json["code"], big.json["details"]) == (403, "MESSAGE_007", {"max_participants": 3})
    assert start(client, cd, *crowd[:2]).status_code == 201
    assert start(client, cd, crowd[2]).status_code == 201
    again = start(client, cd, crowd[2])
    assert again.status_code == 200  # an existing conversation is not a new one
    third = start(client, cd, crowd[3])
    assert (third.status_code, third.json["code"]) == (429, "MESSAGE_008")
    assert int(third.headers["Retry-After"]) > 0
    client.post(f"/api/admin/users/{cd[1]}/verification", headers=login("admin"), json={"note": "CDA no. 4821"})
    assert start(client, cd, *crowd).status_code == 201
    assert start(client, cd, crowd[3]).status_code == 201
