"""No account takeover by pre-registration (issue 14, item 3).

A squatter registers a password account with someone else's phone or email. When the owner proves
it (a phone code, a Google ID token with `email_verified`), the squatter must be out: password,
sessions and unproven contact details gone, and the owner in an account they alone control.
"""
import pytest
from sqlalchemy import select

from casting.audit.models import AuditEvent
from casting.auth.models import OAuthIdentity
from casting.kernel.extensions import db
from casting.users.models import User
from tests.test_auth import _otp_code, bearer
from tests.test_oauth_admin import GOOGLE_CLIENT, google_key, google_token, oauth_app  # noqa: F401 - fixtures

SQUATTER_PASSWORD = "squatting-on-your-monsoon-name"
OWNER_PHONE = "+919876543210"


def squat(client, **contact):
    """The squatter registers with the owner's contact detail (and one of their own)."""
    response = client.post("/api/auth/register", json={"password": SQUATTER_PASSWORD, "full_name": "Not Asha",
                                                       "role": "casting_director", **contact})
    assert response.status_code == 201, response.json
    return response.json


def squatter_is_out(client, squatter, *identifiers):
    for identifier in identifiers:
        login = client.post("/api/auth/login", json={"identifier": identifier, "password": SQUATTER_PASSWORD})
        assert (login.status_code, login.json["code"]) == (401, "AUTH_001"), identifier
    refresh = client.post("/api/auth/refresh", headers=bearer(squatter["refresh_token"]))
    assert (refresh.status_code, refresh.json["code"]) == (401, "AUTH_005")
    assert client.get("/api/auth/me", headers=bearer(squatter["access_token"])).status_code == 401


def stored(app, user_id):
    with app.app_context():
        return db.session.get(User, user_id)


@pytest.fixture
def dev(make_app):
    return make_app(APP_ENV="development")


def test_the_owner_of_a_phone_claims_an_account_pre_registered_with_it(dev):
    client = dev.test_client()
    squatter = squat(client, phone="98765 43210", email="squatter@example.in")
    client.post("/api/auth/otp/send", json={"phone": OWNER_PHONE})
    owner = client.post("/api/auth/otp/verify", json={"phone": OWNER_PHONE, "code": _otp_code(dev)})
    assert owner.status_code == 200, owner.json
    assert (owner.json["user"]["phone"], owner.json["user"]["phone_verified"], owner.json["user"]["email"]) == (
        OWNER_PHONE, True, None)
    squatter_is_out(client, squatter, OWNER_PHONE, "squatter@example.in")
    account = stored(dev, owner.json["user"]["id"])
    assert account.password_hash is None and account.email is None
    assert client.get("/api/auth/me", headers=bearer(owner.json["access_token"])).status_code == 200
    with dev.app_context():
        assert "account_claimed" in db.session.scalars(select(AuditEvent.action)).all()


def test_the_owner_of_an_email_claims_it_with_google(oauth_app, google_key):  # noqa: F811
    client = oauth_app.test_client()
    squatter = squat(client, email="asha@gmail.com", phone="9812345678")
    owner = client.post("/api/auth/oauth/google", json={"id_token": google_token(google_key)})
    assert owner.status_code == 200, owner.json
    assert (owner.json["user"]["id"], owner.json["is_new_user"]) == (squatter["user"]["id"], False)
    assert (owner.json["user"]["email_verified"], owner.json["user"]["phone"]) == (True, None)
    squatter_is_out(client, squatter, "asha@gmail.com", "9812345678")
    assert stored(oauth_app, owner.json["user"]["id"]).password_hash is None
    again = client.post("/api/auth/oauth/google", json={"id_token": google_token(google_key)})
    assert again.json["user"]["id"] == owner.json["user"]["id"]


def test_a_verified_account_loses_an_email_it_never_proved(oauth_app, google_key, dev):  # noqa: F811
    client = dev.test_client()
    client.post("/api/auth/otp/send", json={"phone": OWNER_PHONE})
    ravi = client.post("/api/auth/otp/verify", json={"phone": OWNER_PHONE, "code": _otp_code(dev)}).json
    claimed = client.patch("/api/auth/me", headers=bearer(ravi["access_token"]), json={"email": "asha@gmail.com"})
    assert (claimed.status_code, claimed.json["email_verified"]) == (200, False)
    asha = oauth_app.test_client().post("/api/auth/oauth/google", json={"id_token": google_token(google_key)}).json
    assert asha["is_new_user"] is True and asha["user"]["id"] != ravi["user"]["id"]
    assert client.get("/api/auth/me", headers=bearer(ravi["access_token"])).json["email"] is None


def test_a_facebook_email_is_no_proof(oauth_app, provider_server):  # noqa: F811
    client = oauth_app.test_client()
    squatter = squat(client, email="ravi@example.in")
    provider_server.answer((200, {"data": {"is_valid": True, "app_id": "777", "user_id": "fb-9"}}),
                           (200, {"id": "fb-9", "name": "Ravi Kumar", "email": "ravi@example.in"}))
    refused = client.post("/api/auth/oauth/facebook", json={"access_token": "EAAG-user"})
    assert (refused.status_code, refused.json["code"], refused.json["details"]) == (
        401, "AUTH_012", {"reason": "email_not_verified"})
    assert client.post("/api/auth/refresh", headers=bearer(squatter["refresh_token"])).status_code == 200
    with oauth_app.app_context():
        assert db.session.scalar(select(OAuthIdentity)) is None


def test_an_unverified_provider_email_starts_an_account_that_proves_nothing(oauth_app, google_key):  # noqa: F811
    client = oauth_app.test_client()
    first = client.post("/api/auth/oauth/google", json={"id_token": google_token(
        google_key, sub="g-unverified", email_verified=False)})
    assert (first.status_code, first.json["is_new_user"], first.json["user"]["email_verified"]) == (200, True, False)
    owner = client.post("/api/auth/oauth/google", json={"id_token": google_token(google_key)})
    assert (owner.json["user"]["id"], owner.json["user"]["email_verified"]) == (first.json["user"]["id"], True)
    refresh = client.post("/api/auth/refresh", headers=bearer(first.json["refresh_token"]))
    assert refresh.status_code == 401
    with oauth_app.app_context():
        assert db.session.scalars(select(OAuthIdentity.subject)).all() == ["g-123"]
