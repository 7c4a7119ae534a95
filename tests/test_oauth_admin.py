"""Google and Facebook sign-in against local stand-ins, roles, API keys and the audit log."""
import time

import pytest
from flask.views import MethodView
from flask_smorest import Blueprint
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select

from casting.auth.api_keys import api_key_required
from casting.auth.models import ApiKey, OAuthIdentity
from casting.kernel.extensions import api, db
from casting.users.services import create_user

GOOGLE_CLIENT = "casting-web.apps.googleusercontent.com"
PASSWORD = "monsoon-kathak-audition"


@pytest.fixture
def google_key():
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


@pytest.fixture
def oauth_app(make_app, provider_server, google_key):
    provider_server.default = (200, KeySet([google_key]).as_dict(private=False))
    return make_app(GOOGLE_CLIENT_ID=GOOGLE_CLIENT, GOOGLE_CLIENT_SECRET="g-secret",
                    GOOGLE_JWKS_URL=provider_server.url + "/certs",
                    GOOGLE_TOKEN_URL=provider_server.url + "/token", FACEBOOK_APP_ID="777",
                    FACEBOOK_APP_SECRET="fb-secret", FACEBOOK_GRAPH_URL=provider_server.url + "/v21.0")


def google_token(key, **changes):
    claims = {"iss": "https://accounts.google.com", "aud": GOOGLE_CLIENT, "sub": "g-123",
              "email": "Asha@Gmail.com", "email_verified": True, "name": "Asha Rao",
              "iat": int(time.time()), "exp": int(time.time()) + 600, **changes}
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def test_google_sign_in_creates_then_finds_the_account(oauth_app, google_key):
    client = oauth_app.test_client()
    first = client.post("/api/auth/oauth/google", json={"id_token": google_token(google_key)})
    assert first.status_code == 200, first.json
    assert (first.json["is_new_user"], first.json["user"]["email"], first.json["user"]["email_verified"]) == (
        True, "asha@gmail.com", True)
    again = client.post("/api/auth/oauth/google", json={"id_token": google_token(google_key)})
    assert (again.json["is_new_user"], again.json["user"]["id"]) == (False, first.json["user"]["id"])


def test_google_links_an_existing_account_by_verified_email(oauth_app, google_key):
    with oauth_app.app_context():
        existing = create_user("Asha Rao", "talent", password=PASSWORD, email="asha@gmail.com").id
    response = oauth_app.test_client().post("/api/auth/oauth/google", json={"id_token": google_token(google_key)})
    assert (response.json["is_new_user"], response.json["user"]["id"]) == (False, existing)
    with oauth_app.app_context():
        assert db.session.scalar(select(OAuthIdentity)).user_id == existing


@pytest.mark.parametrize("changes", [{"aud": "someone-else"}, {"iss": "https://evil.example"},
                                     {"exp": int(time.time()) - 3600}])
def test_google_tokens_for_others_or_expired_are_refused(oauth_app, google_key, changes):
    response = oauth_app.test_client().post("/api/auth/oauth/google",
                                            json={"id_token": google_token(google_key, **changes)})
    assert (response.status_code, response.json["code"]) == (401, "AUTH_012")


def test_google_tokens_signed_by_another_key_are_refused(oauth_app):
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    response = oauth_app.test_client().post("/api/auth/oauth/google", json={"id_token": google_token(stranger)})
    assert response.status_code == 401


def test_google_code_is_exchanged_for_an_id_token(oauth_app, provider_server, google_key):
    provider_server.answer((200, {"id_token": google_token(google_key), "access_token": "ya29"}))
    response = oauth_app.test_client().post("/api/auth/oauth/google", json={
        "code": "4/0Adeu5", "redirect_uri": "https://app.casting.in/oauth/google"})
    assert response.status_code == 200
    exchange = provider_server.requests[0]
    assert (exchange.method, exchange.path) == ("POST", "/token")
    assert exchange.form() == {"code": "4/0Adeu5", "client_id": GOOGLE_CLIENT, "client_secret": "g-secret",
                               "redirect_uri": "https://app.casting.in/oauth/google",
                               "grant_type": "authorization_code"}


@pytest.mark.parametrize("provider, setting, body", [
    ("google", "GOOGLE_CLIENT_ID", {"code": "4/0Adeu5", "redirect_uri": "https://app.casting.in/oauth/google"}),
    ("facebook", "FACEBOOK_APP_ID", {"code": "AQB-fb", "redirect_uri": "https://app.casting.in/oauth/facebook"})])
def test_a_provider_that_is_not_configured_is_refused_without_calling_it(make_app, provider_server, provider,
                                                                         setting, body):
    unconfigured = make_app(**{setting: "", "GOOGLE_TOKEN_URL": provider_server.url + "/token",
                               "FACEBOOK_GRAPH_URL": provider_server.url + "/v21.0"})
    response = unconfigured.test_client().post(f"/api/auth/oauth/{provider}", json=body)
    assert (response.status_code, response.json["code"]) == (401, "AUTH_012")
    assert "not configured" in response.json["details"]["reason"]
    assert provider_server.requests == []


def test_facebook_tokens_are_checked_with_debug_token(oauth_app, provider_server):
    provider_server.answer((200, {"data": {"is_valid": True, "app_id": "777", "user_id": "fb-9"}}),
                           (200, {"id": "fb-9", "name": "Ravi Kumar", "email": "ravi@example.in"}))
    response = oauth_app.test_client().post("/api/auth/oauth/facebook", json={"access_token": "EAAG-user"})
    assert (response.status_code, response.json["is_new_user"]) == (200, True)
    debug, me = provider_server.requests
    assert debug.path == "/v21.0/debug_token?input_token=EAAG-user&access_token=777%7Cfb-secret"
    assert me.path.startswith("/v21.0/me?fields=id%2Cname%2Cemail&access_token=EAAG-user")


def test_facebook_tokens_of_another_app_are_refused(oauth_app, provider_server):
    provider_server.answer((200, {"data": {"is_valid": True, "app_id": "999"}}))
    response = oauth_app.test_client().post("/api/auth/oauth/facebook", json={"access_token": "EAAG-other"})
    assert (response.status_code, response.json["code"]) == (401, "AUTH_012")


def _signed_in(client, role="talent", email="asha@example.in"):
    client.post("/api/auth/register", json={"email": email, "password": PASSWORD, "full_name": "Asha Rao",
                                            "role": "talent" if role == "admin" else role})
    return client.post("/api/auth/login", json={"identifier": email, "password": PASSWORD}).json


@pytest.fixture
def admin_headers(app, client):
    with app.app_context():
        create_user("Meera Nair", "admin", password=PASSWORD, email="meera@casting.in")
    token = client.post("/api/auth/login", json={"identifier": "meera@casting.in", "password": PASSWORD}).json
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_a_talent_calling_an_admin_route_is_403(client):
    talent = _signed_in(client)
    headers = {"Authorization": f"Bearer {talent['access_token']}"}
    for method, path in (("get", "/api/admin/audit-events"), ("get", "/api/admin/api-keys"),
                         ("put", "/api/admin/users/1/role")):
        response = getattr(client, method)(path, headers=headers, json={"role": "admin"})
        assert (response.status_code, response.json["code"]) == (403, "AUTH_007"), path


def test_admins_change_roles_and_it_is_audited(client, admin_headers):
    talent = _signed_in(client)
    response = client.put(f"/api/admin/users/{talent['user']['id']}/role", headers=admin_headers,
                          json={"role": "casting_director"})
    assert (response.status_code, response.json["role"]) == (200, "casting_director")
    assert client.put("/api/admin/users/9999/role", headers=admin_headers, json={"role": "agent"}).status_code == 404
    events = client.get("/api/admin/audit-events?action=role_change", headers=admin_headers).json
    assert events["meta"]["total"] == 1
    assert events["items"][0]["details"] == {"from": "talent", "to": "casting_director"}


def test_audit_events_are_paged_and_filtered(client, admin_headers):
    for n in range(3):
        client.post("/api/auth/login", json={"identifier": f"nobody{n}@example.in", "password": "wrong-wrong-1"})
    page = client.get("/api/admin/audit-events?action=login_failed&per_page=2", headers=admin_headers).json
    assert page["meta"] == {"page": 1, "per_page": 2, "total": 3, "total_pages": 2}
    assert [e["action"] for e in page["items"]] == ["login_failed", "login_failed"]
    since = client.get("/api/admin/audit-events?since=2999-01-01T00:00:00%2B00:00", headers=admin_headers)
    assert since.json["meta"]["total"] == 0


def test_api_keys_are_shown_once_stored_hashed_and_revocable(app, client, admin_headers):
    created = client.post("/api/admin/api-keys", headers=admin_headers, json={"name": "matching", "scopes": ["ml"]})
    assert created.status_code == 201
    plaintext, key_id = created.json["key"], created.json["api_key"]["id"]
    listed = client.get("/api/admin/api-keys", headers=admin_headers)
    assert plaintext not in listed.get_data(as_text=True) and listed.json["meta"]["total"] == 1
    with app.app_context():
        assert plaintext not in repr(db.session.get(ApiKey, key_id).__dict__)
    assert client.delete(f"/api/admin/api-keys/{key_id}", headers=admin_headers).status_code == 204
    assert client.delete("/api/admin/api-keys/999", headers=admin_headers).status_code == 404
    assert client.post("/api/admin/api-keys", headers=admin_headers,
                       json={"name": "x", "scopes": ["root"]}).status_code == 422


probe = Blueprint("keyprobe", __name__, url_prefix="/api/_keyprobe")


@probe.route("/ml")
class MlProbe(MethodView):
    @api_key_required("ml")
    def get(self):
        """Needs an ml key."""
        return {"ok": True}


def test_api_keys_authenticate_by_scope_and_record_their_use(make_app):
    app = make_app()
    api.register_blueprint(probe)
    runner, client = app.test_cli_runner(), app.test_client()
    ml = runner.invoke(args=["keys", "create-api-key", "--name", "ml", "--scope", "ml"]).output.split()[-1]
    export = runner.invoke(args=["keys", "create-api-key", "--name", "ex", "--scope", "export"]).output.split()[-1]
    assert client.get("/api/_keyprobe/ml", headers={"X-API-Key": ml}).status_code == 200
    assert client.get("/api/_keyprobe/ml", headers={"X-API-Key": export}).json["code"] == "AUTH_007"
    assert client.get("/api/_keyprobe/ml", headers={"X-API-Key": ml + "x"}).json["code"] == "AUTH_013"
    assert client.get("/api/_keyprobe/ml").status_code == 401
    with app.app_context():
        used = db.session.scalar(select(ApiKey).where(ApiKey.name == "ml"))
        assert used.last_used_at is not None
    assert "ml\tml\tactive" in runner.invoke(args=["keys", "list-api-keys"]).output.replace(used.prefix + "\t", "")
    runner.invoke(args=["keys", "revoke-api-key", str(used.id)])
    assert client.get("/api/_keyprobe/ml", headers={"X-API-Key": ml}).status_code == 401
