"""Identity (CONTRACT §2): registration, passwords, tokens, rotation, sessions, OTP, and the attacks."""
import logging
import time
from datetime import datetime, timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import decode_token
from sqlalchemy import select

from casting.audit.models import AuditEvent
from casting.kernel.extensions import db
from casting.users.models import User
from tests.support import run_jobs

PASSWORD = "monsoon-kathak-audition"
ASHA = {"email": "Asha@Example.in", "password": PASSWORD, "full_name": "Asha Rao", "role": "talent"}


def register(client, **changes):
    return client.post("/api/auth/register", json={**ASHA, **changes})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def actions(app):
    with app.app_context():
        return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_register_signs_in_and_returns_the_contract_user(app, client):
    response = register(client, phone="098765 43210", full_name="<b>Asha</b> Rao")
    assert response.status_code == 201
    user = response.json["user"]
    assert set(user) == {"id", "full_name", "email", "phone", "role", "phone_verified", "email_verified",
                         "created_at", "notify_channel", "only_verified_contacts", "is_verified", "is_suspended"}
    assert (user["is_verified"], user["is_suspended"], user["only_verified_contacts"]) == (False, False, False)
    assert (user["email"], user["phone"], user["full_name"]) == ("asha@example.in", "+919876543210", "Asha Rao")
    me = client.get("/api/auth/me", headers=bearer(response.json["access_token"]))
    assert me.json["id"] == user["id"]
    assert "register" in actions(app)


@pytest.mark.parametrize("changes,field", [
    ({"role": "admin"}, "role"), ({"email": None, "phone": None}, "email"),
    ({"password": "password12"}, "password"), ({"password": "short"}, "password"),
    ({"password": "asha@example.in"}, "password"), ({"phone": "12345"}, "phone"), ({"email": "no"}, "email")])
def test_bad_registrations_are_422_with_the_field(client, changes, field):
    body = {**ASHA, **changes}
    body = {key: value for key, value in body.items() if value is not None}
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    assert field in response.json["details"]["fields"]


def test_mass_assignment_of_role_or_flags_is_refused(client):
    response = register(client, role="admin", is_verified=True)
    assert response.status_code == 422
    assert set(response.json["details"]["fields"]) >= {"role", "is_verified"}


def test_a_second_account_for_the_same_email_is_409(client):
    register(client)
    response = register(client, email="asha@example.in ")
    assert (response.status_code, response.json["code"]) == (409, "AUTH_010")


def test_login_with_email_or_phone(client):
    register(client, phone="9876543210")
    for identifier in ("ASHA@example.in", "+91 98765 43210"):
        response = client.post("/api/auth/login", json={"identifier": identifier, "password": PASSWORD})
        assert response.status_code == 200, response.json


def test_login_never_says_whether_the_account_exists(client):
    register(client)
    wrong_password = client.post("/api/auth/login",
                                 json={"identifier": "asha@example.in", "password": "x" * 12})
    no_account = client.post("/api/auth/login", json={"identifier": "ghost@example.in", "password": "x" * 12})
    assert wrong_password.status_code == no_account.status_code == 401
    assert wrong_password.json["code"] == no_account.json["code"] == "AUTH_001"
    assert wrong_password.json["message"] == no_account.json["message"]


def test_login_failures_are_throttled_per_identifier(make_app):
    client = make_app(LOGIN_LIMIT_PER_IDENTIFIER="3/15minutes").test_client()
    register(client)
    statuses = [client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": "wrong-" * 3})
                .status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    blocked = client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": PASSWORD})
    assert (blocked.status_code, blocked.json["code"]) == (429, "AUTH_008")
    assert int(blocked.headers["Retry-After"]) > 0
    other = client.post("/api/auth/login", json={"identifier": "other@example.in", "password": "wrong-" * 3})
    assert other.status_code == 401


def test_login_failures_are_throttled_per_ip(make_app):
    client = make_app(LOGIN_LIMIT_PER_IP="2/15minutes").test_client()
    for n in range(2):
        client.post("/api/auth/login", json={"identifier": f"u{n}@example.in", "password": "wrong-" * 3})
    assert client.post("/api/auth/login", json={"identifier": "u9@example.in", "password": "x"}).status_code == 429


def test_passwords_are_argon2id_with_owasp_parameters_and_rehashed(app, client):
    from argon2 import PasswordHasher

    register(client)
    with app.app_context():
        user = db.session.scalar(select(User))
        assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
        db.session.commit()
    login = client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": PASSWORD})
    assert login.status_code == 200
    with app.app_context():
        assert "m=19456,t=2,p=1" in db.session.scalar(select(User)).password_hash


def test_access_tokens_are_short_lived_hs256_with_a_session(app, client):
    tokens = register(client).json
    with app.app_context():
        payload = decode_token(tokens["access_token"])
    assert payload["exp"] - payload["iat"] <= 15 * 60
    assert pyjwt.get_unverified_header(tokens["access_token"])["alg"] == "HS256"
    assert payload["sid"] and payload["fresh"] is True


def _forge(app, token, **changes):
    payload = pyjwt.decode(token, options={"verify_signature": False})
    payload.update(changes)
    return payload


def test_tampered_unsigned_and_expired_tokens_are_refused(app, client):
    access = register(client).json["access_token"]
    secret = app.config["JWT_SECRET_KEY"]
    header, payload, signature = access.split(".")
    promoted = pyjwt.encode(_forge(app, access, role="admin"), "guessed-secret-" * 3, algorithm="HS256")
    cases = {
        "alg none": pyjwt.encode(_forge(app, access), None, algorithm="none"),
        "tampered": f"{header}.{pyjwt.encode(_forge(app, access, sub='999'), secret).split('.')[1]}.{signature}",
        "wrong key": promoted,
        "expired": pyjwt.encode(_forge(app, access, exp=int(time.time()) - 60), secret, algorithm="HS256"),
    }
    for name, token in cases.items():
        response = client.get("/api/auth/me", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.json["code"] in {"AUTH_003", "AUTH_004"}, name


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_whole_session(app, client):
    first = register(client).json
    rotated = client.post("/api/auth/refresh", headers=bearer(first["refresh_token"]))
    assert rotated.status_code == 200
    assert rotated.json["refresh_token"] != first["refresh_token"]
    stolen = client.post("/api/auth/refresh", headers=bearer(first["refresh_token"]))
    assert (stolen.status_code, stolen.json["code"]) == (401, "AUTH_005")
    owner = client.post("/api/auth/refresh", headers=bearer(rotated.json["refresh_token"]))
    assert owner.status_code == 401
    assert client.get("/api/auth/me", headers=bearer(rotated.json["access_token"])).status_code == 401
    assert "token_reuse" in actions(app)


def test_refresh_takes_only_refresh_tokens(client):
    tokens = register(client).json
    response = client.post("/api/auth/refresh", headers=bearer(tokens["access_token"]))
    assert (response.status_code, response.json["code"]) == (401, "AUTH_003")
    me = client.get("/api/auth/me", headers=bearer(tokens["refresh_token"]))
    assert me.status_code == 401


def test_logout_revokes_the_access_token_and_the_session(app, client):
    tokens = register(client).json
    assert client.post("/api/auth/logout", headers=bearer(tokens["access_token"]), json={}).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(tokens["access_token"])).json["code"] == "AUTH_005"
    assert client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    assert "logout" in actions(app)


def test_revocation_survives_losing_redis(app, client, redis_client):
    tokens = register(client).json
    client.post("/api/auth/logout", headers=bearer(tokens["access_token"]), json={})
    redis_client.flushdb()
    assert client.get("/api/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
    fresh = client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": PASSWORD}).json
    redis_client.flushdb()
    assert client.get("/api/auth/me", headers=bearer(fresh["access_token"])).status_code == 200


def test_sessions_are_listed_and_one_can_be_ended(app, client):
    phone = register(client, phone="9876543210").json
    laptop = client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": PASSWORD},
                         headers={"User-Agent": "Firefox/140"}).json
    listed = client.get("/api/auth/sessions", headers=bearer(laptop["access_token"])).json
    assert listed["meta"]["total"] == 2
    current = [s for s in listed["items"] if s["current"]]
    assert len(current) == 1 and current[0]["device"] == "Firefox/140"
    other = next(s["id"] for s in listed["items"] if not s["current"])
    assert client.delete(f"/api/auth/sessions/{other}", headers=bearer(laptop["access_token"])).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(phone["access_token"])).status_code == 401
    assert "session_revoked" in actions(app)


def test_nobody_can_end_someone_elses_session(client):
    asha = register(client).json
    ravi = register(client, email="ravi@example.in", full_name="Ravi Kumar").json
    with client.application.app_context():
        asha_sid = decode_token(asha["access_token"])["sid"]
    response = client.delete(f"/api/auth/sessions/{asha_sid}", headers=bearer(ravi["access_token"]))
    assert (response.status_code, response.json["code"]) == (404, "AUTH_014")
    assert client.get("/api/auth/me", headers=bearer(asha["access_token"])).status_code == 200


def test_credential_changes_need_a_fresh_token(app, client):
    tokens = register(client).json
    refreshed = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])).json
    stale = client.patch("/api/auth/me", headers=bearer(refreshed["access_token"]), json={"email": "new@example.in"})
    assert (stale.status_code, stale.json["code"]) == (401, "AUTH_006")
    renamed = client.patch("/api/auth/me", headers=bearer(refreshed["access_token"]), json={"full_name": "Asha R"})
    assert renamed.json["full_name"] == "Asha R"
    login = client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": PASSWORD}).json
    changed = client.patch("/api/auth/me", headers=bearer(login["access_token"]),
                           json={"email": "New@Example.in", "password": "a-new-monsoon-kathak-line"})
    assert (changed.status_code, changed.json["email"], changed.json["email_verified"]) == (
        200, "new@example.in", False)
    again = client.post("/api/auth/login", json={"identifier": "new@example.in",
                                                 "password": "a-new-monsoon-kathak-line"})
    assert again.status_code == 200
    assert "credential_change" in actions(app)


def _otp_code(app):
    run_jobs(app)
    page = app.test_client().get("/api/dev/outbox").json
    return page["items"][0]["body"][:6]


@pytest.fixture
def dev(make_app):
    return make_app(APP_ENV="development")


def test_otp_signs_up_a_new_phone_and_verifies_it(dev, caplog):
    client = dev.test_client()
    with caplog.at_level(logging.DEBUG):
        sent = client.post("/api/auth/otp/send", json={"phone": "+91 98765-43210"})
        code = _otp_code(dev)
    assert (sent.status_code, sent.json) == (202, {"channel": "whatsapp", "expires_in": 600, "resend_after": 30})
    assert code.isdigit() and code not in sent.get_data(as_text=True) and code not in caplog.text
    verified = client.post("/api/auth/otp/verify", json={"phone": "9876543210", "code": code})
    assert verified.status_code == 200
    assert verified.json["is_new_user"] is True
    assert (verified.json["user"]["phone"], verified.json["user"]["phone_verified"]) == ("+919876543210", True)
    replay = client.post("/api/auth/otp/verify", json={"phone": "9876543210", "code": code})
    assert (replay.status_code, replay.json["code"]) == (401, "AUTH_009")


def test_otp_signs_in_an_existing_user_by_sms(dev):
    client = dev.test_client()
    user_id = register(client, phone="9876543210").json["user"]["id"]
    assert client.post("/api/auth/otp/send", json={"phone": "9876543210", "channel": "sms"}).status_code == 202
    code = _otp_code(dev)
    assert dev.test_client().get("/api/dev/outbox").json["items"][0]["channel"] == "sms"
    verified = client.post("/api/auth/otp/verify", json={"phone": "9876543210", "code": code}).json
    assert verified["is_new_user"] is False and verified["user"]["id"] == user_id
    # the phone was the first thing this account proved: what it never proved (its email) is dropped
    assert (verified["user"]["phone_verified"], verified["user"]["email"]) == (True, None)


def test_otp_brute_force_burns_the_code_after_five_tries(dev):
    client = dev.test_client()
    client.post("/api/auth/otp/send", json={"phone": "9876543210"})
    code = _otp_code(dev)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    for _ in range(5):
        assert client.post("/api/auth/otp/verify", json={"phone": "9876543210", "code": wrong}).status_code == 401
    assert client.post("/api/auth/otp/verify", json={"phone": "9876543210", "code": code}).status_code == 401


def test_otp_resends_are_throttled(make_app):
    app = make_app(APP_ENV="development", OTP_LIMIT_PER_PHONE="2/hour", OTP_RESEND_SECONDS=0)
    client = app.test_client()
    statuses = [client.post("/api/auth/otp/send", json={"phone": "9876543210"}).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    quick = make_app(APP_ENV="development").test_client()
    assert quick.post("/api/auth/otp/send", json={"phone": "9812345678"}).status_code == 202
    again = quick.post("/api/auth/otp/send", json={"phone": "9812345678"})
    assert (again.status_code, again.json["code"]) == (429, "AUTH_011")
    assert 0 < int(again.headers["Retry-After"]) <= 30


def test_otp_is_stored_only_as_an_hmac(dev, redis_client):
    dev.test_client().post("/api/auth/otp/send", json={"phone": "9876543210"})
    code = _otp_code(dev)
    stored = b"".join(key + b"".join(redis_client.hgetall(key).values())
                      for key in redis_client.keys("casting:otp:*") if redis_client.type(key) == b"hash")
    assert stored and code.encode() not in stored and b"9876543210" not in stored


def test_audit_events_carry_actor_ip_request_and_time(app, client):
    client.post("/api/auth/register", json=ASHA, headers={"X-Request-ID": "reg-1"})
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "register"))
        assert (event.request_id, event.ip, event.target_type) == ("reg-1", "127.0.0.1", "user")
        assert event.actor_id == int(event.target_id)
        assert event.at > datetime.now(event.at.tzinfo) - timedelta(minutes=1)


def test_logout_also_ends_the_session_of_ones_own_refresh_token_only(client):
    phone = register(client).json
    laptop = client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": PASSWORD}).json
    ravi = register(client, email="ravi@example.in", full_name="Ravi Kumar").json
    response = client.post("/api/auth/logout", headers=bearer(laptop["access_token"]),
                           json={"refresh_token": phone["refresh_token"]})
    assert response.status_code == 204
    assert client.post("/api/auth/refresh", headers=bearer(phone["refresh_token"])).status_code == 401
    other = client.post("/api/auth/logout", headers=bearer(phone["access_token"]),
                        json={"refresh_token": ravi["refresh_token"]})
    assert other.status_code == 401
    fresh = client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": PASSWORD}).json
    client.post("/api/auth/logout", headers=bearer(fresh["access_token"]),
                json={"refresh_token": ravi["refresh_token"]})
    assert client.post("/api/auth/refresh", headers=bearer(ravi["refresh_token"])).status_code == 200


def test_a_new_password_ends_every_other_session(client):
    phone = register(client).json
    laptop = client.post("/api/auth/login", json={"identifier": "asha@example.in", "password": PASSWORD}).json
    changed = client.patch("/api/auth/me", headers=bearer(laptop["access_token"]),
                           json={"password": "a-new-monsoon-kathak-line"})
    assert changed.status_code == 200
    stolen = client.post("/api/auth/refresh", headers=bearer(phone["refresh_token"]))
    assert (stolen.status_code, stolen.json["code"]) == (401, "AUTH_005")
    assert client.get("/api/auth/me", headers=bearer(phone["access_token"])).status_code == 401
    assert client.post("/api/auth/refresh", headers=bearer(laptop["refresh_token"])).status_code == 200


@pytest.mark.parametrize("length", [73, 100, 128, 129])
def test_passwords_beyond_72_characters_are_refused_as_invalid(client, length):
    long = ("tabla-sitar-" * 11)[:length]
    response = register(client, password=long)
    assert (response.status_code, response.json["code"]) == (422, "VALIDATION_001")
    assert "password" in response.json["details"]["fields"]


def test_sessions_and_audit_take_the_client_from_their_caller(app):
    """A service called with no request (the command line, a job) records the client it was handed."""
    from casting.auth import sessions
    from casting.auth.models import AuthSession
    from casting.kernel.requestid import Client
    from casting.users.models import Role

    with app.app_context():
        user = User(full_name="Asha", role=Role.TALENT, email="asha.client@example.in")
        db.session.add(user)
        db.session.flush()
        sessions.start(user, Client("203.0.113.9", "CastingApp/2.3 (Android 15)"))
        db.session.commit()
        session = db.session.scalar(select(AuthSession).where(AuthSession.user_id == user.id))
        assert (session.ip, session.device) == ("203.0.113.9", "CastingApp/2.3 (Android 15)")
        sessions.end(user, session.id, "logout", Client("198.51.100.4"))
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "logout"))
        assert (event.ip, event.request_id) == ("198.51.100.4", None)
