"""The OpenAPI document: every operation documented with a summary, examples, security and errors."""
import re

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_document_is_openapi_3_with_every_route(app, client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, method, _ in _operations(spec)}
    undocumented = ("api-docs", "docs_assets")
    served = {(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule), method)
              for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/") and rule.endpoint.split(".")[0] not in undocumented
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented >= served


def test_every_operation_has_summary_examples_security_and_error_envelope(client):
    spec = client.get("/api/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert "security" in operation or spec.get("security"), where
        assert operation["responses"]["default"] == {"$ref": "#/components/responses/DEFAULT_ERROR"}, where
        success = [body for status, body in operation["responses"].items() if status.startswith("2")]
        assert success, where
        for body in success:
            content = body.get("content", {}).get("application/json")
            if content:
                assert "example" in content or "examples" in content, where


def test_error_responses_use_the_envelope(client):
    spec = client.get("/api/openapi.json").json
    envelope = spec["components"]["schemas"]["Error"]
    assert set(envelope["required"]) == {"code", "message", "timestamp", "requestId"}
    ready = spec["paths"]["/api/health/ready"]["get"]["responses"]["503"]
    assert ready == {"$ref": "#/components/responses/SERVICE_UNAVAILABLE"}
    assert spec["components"]["responses"]["SERVICE_UNAVAILABLE"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/Error"}


def test_interactive_docs_are_served_with_their_own_assets(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert "/api/openapi.json" in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/api/docs/assets/{asset}" in page
        response = client.get(f"/api/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.data) > 10_000
    assert client.get("/api/docs/assets/../../config.py").status_code == 404
