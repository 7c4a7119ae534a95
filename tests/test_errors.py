"""The error envelope (CONTRACT §1) for every kind of error the app can produce."""
import json
import logging
from datetime import datetime, timedelta

import jwt as pyjwt
import pytest
from flask.views import MethodView
from flask_jwt_extended import create_access_token, create_refresh_token, jwt_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from casting.kernel.errors import CATALOGUE
from casting.kernel.extensions import api

probe = Blueprint("probe", __name__, url_prefix="/api/_probe")


class ItemSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=20))
    per_page = fields.Integer(validate=validate.Range(min=1, max=100))
    location = fields.Nested(Schema.from_dict({"city": fields.String(required=True)}))


@probe.route("/items")
class ItemViews(MethodView):
    @probe.arguments(ItemSchema)
    @probe.response(201, ItemSchema)
    def post(self, item):
        """Echo an item."""
        return item


@probe.route("/protected")
class ProtectedViews(MethodView):
    @jwt_required()
    def get(self):
        """Needs a token."""
        return {"ok": True}


@probe.route("/boom")
class BoomViews(MethodView):
    def get(self):
        """Fails."""
        raise RuntimeError("SELECT password_hash FROM users -- secret")


@pytest.fixture
def probe_app(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024, MEDIA_MAX_BYTES=512)
    api.register_blueprint(probe)
    return app


@pytest.fixture
def probe_client(probe_app):
    return probe_app.test_client()


def assert_envelope(response, status, code):
    assert response.status_code == status, response.data
    body = response.json
    assert body["code"] == code
    assert body["message"]
    assert body["requestId"] == response.headers["X-Request-ID"]
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    return body


def test_unknown_path_is_404_envelope(client):
    assert_envelope(client.get("/api/no/such/thing"), 404, "REQUEST_002")


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/api/health")
    assert_envelope(response, 405, "REQUEST_003")
    assert "GET" in response.headers["Allow"]


def test_validation_is_422_with_flattened_fields(probe_client):
    response = probe_client.post("/api/_probe/items", json={"per_page": 500, "location": {}})
    body = assert_envelope(response, 422, "VALIDATION_001")
    assert set(body["details"]["fields"]) == {"name", "per_page", "location.city"}
    assert body["details"]["fields"]["per_page"] == [
        "Must be greater than or equal to 1 and less than or equal to 100."]


def test_valid_body_passes(probe_client):
    response = probe_client.post("/api/_probe/items", json={"name": "Asha"})
    assert response.status_code == 201
    assert response.json == {"name": "Asha"}


def test_malformed_json_is_400_envelope(probe_client):
    response = probe_client.post("/api/_probe/items", data="{not json",
                                 content_type="application/json")
    assert_envelope(response, 400, "REQUEST_001")


def test_wrong_content_type_is_415(probe_client):
    response = probe_client.post("/api/_probe/items", data="name=Asha",
                                 content_type="application/x-www-form-urlencoded")
    body = assert_envelope(response, 415, "REQUEST_005")
    assert body["details"]["accepted"] == ["application/json"]


def test_too_large_body_is_413(probe_client):
    response = probe_client.post("/api/_probe/items", data=json.dumps({"name": "x" * 4000}),
                                 content_type="application/json")
    assert_envelope(response, 413, "REQUEST_004")


def test_unhandled_exception_is_500_without_details_and_is_logged(probe_client, caplog):
    with caplog.at_level(logging.ERROR):
        response = probe_client.get("/api/_probe/boom", headers={"X-Request-ID": "trace-me-42"})
    body = assert_envelope(response, 500, "SERVER_001")
    assert "SELECT" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert body["requestId"] == "trace-me-42"
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged and logged[0].request_id == "trace-me-42"


@pytest.mark.parametrize("offered,reused", [
    ("abc-123_DEF.x", True), ("x" * 64, True), ("x" * 65, False), ("bad id!", False),
    ("<script>", False)])
def test_request_id_is_reused_only_when_sane(client, offered, reused):
    response = client.get("/api/health", headers={"X-Request-ID": offered})
    assert (response.headers["X-Request-ID"] == offered) is reused
    assert len(response.headers["X-Request-ID"]) <= 64


def test_missing_token_is_401_with_www_authenticate(probe_client):
    response = probe_client.get("/api/_probe/protected")
    assert_envelope(response, 401, "AUTH_002")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_valid_token_passes(probe_client):
    token = probe_client.post("/api/auth/register", json={
        "email": "asha@example.in", "password": "monsoon-kathak-audition", "full_name": "Asha",
        "role": "talent"}).json["access_token"]
    response = probe_client.get("/api/_probe/protected", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_a_token_without_a_session_is_refused(probe_app, probe_client):
    with probe_app.app_context():
        token = create_access_token(identity="1")
    response = probe_client.get("/api/_probe/protected", headers={"Authorization": f"Bearer {token}"})
    assert_envelope(response, 401, "AUTH_005")


def _forged(app, **changes):
    with app.app_context():
        token = create_access_token(identity="1")
    payload = pyjwt.decode(token, options={"verify_signature": False})
    payload.update(changes)
    return payload


def test_token_failures_each_have_their_code(probe_app, probe_client):
    secret = probe_app.config["JWT_SECRET_KEY"]
    expired = pyjwt.encode(_forged(probe_app, exp=int((datetime.now() - timedelta(minutes=1)).timestamp())),
                           secret, algorithm="HS256")
    unsigned = pyjwt.encode(_forged(probe_app), None, algorithm="none")
    wrong_key = pyjwt.encode(_forged(probe_app), "not-the-key-" * 4, algorithm="HS256")
    with probe_app.app_context():
        refresh = create_refresh_token(identity="1")
    cases = {expired: "AUTH_004", unsigned: "AUTH_003", wrong_key: "AUTH_003",
             "garbage.token.here": "AUTH_003", refresh: "AUTH_003"}
    for token, code in cases.items():
        response = probe_client.get("/api/_probe/protected", headers={"Authorization": f"Bearer {token}"})
        assert_envelope(response, 401, code)


def test_catalogue_codes_are_unique_and_well_formed():
    codes = [error.code for error in CATALOGUE]
    assert len(codes) == len(set(codes))
    assert all(code.split("_")[0].isupper() and code.split("_")[1].isdigit() for code in codes)
    assert {"VALIDATION_001", "AUTH_001", "RATE_001", "SERVER_001"} <= set(codes)


def test_catalogue_is_in_the_openapi_document(client):
    spec = client.get("/api/openapi.json").json
    listed = {entry["code"] for entry in spec["x-error-codes"]}
    assert listed == {error.code for error in CATALOGUE}
    assert "| `VALIDATION_001` | 422 |" in spec["tags"][-1]["description"]  # the last section of the docs
    assert spec["components"]["schemas"]["Error"]["properties"]["code"]["enum"] == sorted(listed)


def test_an_exhausted_database_pool_is_a_503_to_retry(make_app):
    from casting.kernel.extensions import db

    app = make_app(DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=1)
    with app.app_context():
        held = db.engine.connect()
        try:
            response = app.test_client().post("/api/auth/login", json={"identifier": "a@example.in",
                                                                       "password": "x" * 12})
        finally:
            held.close()
    body = assert_envelope(response, 503, "SERVER_003")
    assert response.headers["Retry-After"] == "1" and "pool" not in body["message"].lower()
