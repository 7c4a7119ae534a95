"""The OpenAPI document: every operation documented with a summary, examples, security and errors."""
import io
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
    undocumented = ("api-docs", "docs_assets", "asyncapi")  # the documents themselves, and the docs pages
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


# -- issue 20: a valid, generator-ready document -------------------------------------------------------

def _walk(node, where=""):
    """Every (JSON pointer, dict) in the document."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}/{index}")


def _validator(spec, schema):
    from openapi_schema_validator import OAS30Validator, oas30_format_checker

    # `#/components/...` references resolve against a root that carries the document's components.
    return OAS30Validator({**schema, "components": spec["components"]}, format_checker=oas30_format_checker)


def test_document_is_valid_openapi_3(make_app):
    from openapi_spec_validator import validate

    spec = make_app(PUBLIC_BASE_URL="https://api.casting.in").test_client().get("/api/openapi.json").json
    validate(spec)
    assert not [where for where, node in _walk(spec) if node.get("in") == "formData"]
    assert spec["servers"] == [{"url": "https://api.casting.in", "description": "This deployment (PUBLIC_BASE_URL)."}]


def test_every_operation_has_a_stable_unique_operation_id_from_its_endpoint(app, client):
    from casting.kernel.openapi import operation_id

    spec = client.get("/api/openapi.json").json
    ids = [operation["operationId"] for _, _, operation in _operations(spec)]
    assert len(ids) == len(set(ids)) == len(list(_operations(spec)))
    rules = {re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule): rule for rule in app.url_map.iter_rules()}
    for path, method, operation in _operations(spec):
        assert operation["operationId"] == operation_id(rules[path].endpoint, method), (method, path)
    assert spec["paths"]["/api/talents/{talent_id}"]["get"]["operationId"] == "talents_talent_by_id_get"


def test_every_enum_has_a_type_and_a_nullable_one_admits_null(client):
    spec = client.get("/api/openapi.json").json
    enums = [(where, node) for where, node in _walk(spec) if isinstance(node.get("enum"), list)]
    assert len(enums) > 40
    for where, node in enums:
        assert node.get("type") in ("string", "integer"), where
        assert (None in node["enum"]) == bool(node.get("nullable")), where


def test_every_example_validates_against_its_schema(client):
    spec = client.get("/api/openapi.json").json
    checked = 0
    for where, node in _walk(spec):
        schema = node.get("schema")
        if "example" in node and isinstance(schema, dict) and "/properties/" not in where:
            examples = [node["example"]]  # a media type's or a parameter's example
        elif "example" in node and "type" in node and "schema" not in node:
            schema, examples = node, [node["example"]]  # a schema's or a property's own example
        elif isinstance(node.get("examples"), dict) and isinstance(schema, dict):
            examples = [example["value"] for example in node["examples"].values() if "value" in example]
        else:
            continue
        for example in examples:
            errors = list(_validator(spec, schema).iter_errors(example))
            assert not errors, f"{where}: {errors[0].message}"
            checked += 1
    assert checked > 100


def test_a_field_with_a_default_is_never_required(client):
    spec = client.get("/api/openapi.json").json
    for where, node in _walk(spec):
        for name, prop in (node.get("properties") or {}).items():
            if isinstance(prop, dict) and "default" in prop:
                assert name not in node.get("required", []), f"{where}/{name}"
        if node.get("in") in ("query", "header") and "default" in node.get("schema", {}):
            assert not node.get("required"), where
    search = spec["components"]["schemas"]["TalentSearch"]
    assert {"page", "per_page"} <= search["properties"].keys() and not {"page", "per_page"} & set(
        search.get("required", []))


def test_429_and_retry_after_are_documented_on_every_rate_limited_operation(client):
    spec = client.get("/api/openapi.json").json
    too_many = spec["components"]["responses"]["TOO_MANY_REQUESTS"]
    assert too_many["headers"]["Retry-After"]["schema"]["type"] == "integer"
    exempt = ("/api/health", "/api/webhooks/", "/api/media/",  # `limiter.exempt` blueprints
              "/api/tapes/{tape_id}/parts/")  # signed part uploads, exempt one by one
    for path, method, operation in _operations(spec):
        limited = "429" in operation["responses"]
        assert limited == (not path.startswith(exempt)), (method, path)
        if limited:
            assert operation["responses"]["429"] == {"$ref": "#/components/responses/TOO_MANY_REQUESTS"}


def test_the_photo_upload_takes_kind_and_file_in_one_multipart_body(client, login, tmp_path):
    spec = client.get("/api/openapi.json").json
    operation = spec["paths"]["/api/talents/{talent_id}/media"]["post"]
    assert not [p for p in operation.get("parameters", []) if p["in"] not in ("path", "header")]
    ref = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    body = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(body["required"]) == {"kind", "file"}
    assert body["properties"]["kind"] == {**body["properties"]["kind"], "type": "string",
                                          "enum": ["headshot", "portfolio"]}
    assert body["properties"]["file"]["format"] == "binary"


def test_docs_open_on_the_operations_keep_the_token_and_end_with_the_error_catalogue(client):
    spec = client.get("/api/openapi.json").json
    assert "VALIDATION_001" not in spec["info"]["description"]
    assert spec["tags"][-1]["name"] == "errors" and spec["tags"][-1]["x-traitTag"] is True
    assert "| `VALIDATION_001` | 422 |" in spec["tags"][-1]["description"]
    page = client.get("/api/docs").get_data(as_text=True)
    for option in ('"persistAuthorization": true', '"deepLinking": true', '"filter": true'):
        assert option in page
    redoc = client.get("/api/redoc")
    assert redoc.status_code == 200 and 'spec-url="/api/openapi.json"' in redoc.get_data(as_text=True)
    assert "/api/docs/assets/redoc.standalone.js" in redoc.get_data(as_text=True)
    assert "worker-src blob:" in redoc.headers["Content-Security-Policy"]
    bundle = client.get("/api/docs/assets/redoc.standalone.js")
    assert bundle.status_code == 200 and len(bundle.data) > 500_000


# -- issue 20, item 2: one answer with or without a trailing slash ------------------------------------

def _sample_path(rule):
    samples = {"int": "1", "any": None, "path": "x.jpg"}

    def value(match):
        converter = match.group(1) or "string"
        if converter.startswith("any"):
            return re.search(r"any\(\s*([^,)\s]+)", rule.rule).group(1)
        return samples.get(converter, "x")
    return re.sub(r"<(?:([^:>]+(?:\([^)]*\))?):)?([^>]+)>", value, rule.rule)


def _comparable(response):
    body = response.get_json(silent=True)
    if isinstance(body, dict):
        body = {key: value for key, value in body.items() if key not in ("requestId", "timestamp")}
    return response.status_code, body if body is not None else response.data


def test_every_route_answers_the_same_with_or_without_a_trailing_slash(app, client, login):
    headers = login("admin")
    client.post("/api/productions", headers=headers, json={"title": "Monsoon", "type": "film"})
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")]
    assert len(rules) > 50
    for rule in rules:
        assert not rule.rule.endswith("/"), rule.rule
        path = _sample_path(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            kwargs = {"headers": headers} if method == "GET" else {"json": {}}
            bare = client.open(path, method=method, **kwargs)
            slashed = client.open(path + "/", method=method, **kwargs)
            assert bare.status_code < 300 or bare.status_code >= 400, (method, path, bare.status_code)
            assert _comparable(bare) == _comparable(slashed), (method, path)
    listed = client.get("/api/productions", headers=headers)
    assert listed.status_code == 200 and listed.json["meta"]["total"] == 1
    assert client.get("/api/productions/", headers=headers).json == listed.json


def test_a_cross_origin_preflight_on_a_contract_path_is_answered_not_redirected(make_app):
    client = make_app(CORS_ORIGINS=["https://app.casting.in"]).test_client()
    for path in ("/api/talents", "/api/talents/", "/api/auditions", "/api/conversations/"):
        response = client.options(path, headers={"Origin": "https://app.casting.in",
                                                 "Access-Control-Request-Method": "GET",
                                                 "Access-Control-Request-Headers": "authorization"})
        assert response.status_code == 200, path
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.casting.in"


# -- issue 20: what schemathesis found where the server and the document disagreed -------------------

def test_a_json_number_is_neither_a_boolean_nor_an_integer_with_a_fraction(client, login):
    headers = login("casting_director")
    assert client.patch("/api/auth/me", headers=headers, json={"only_verified_contacts": 1}).status_code == 422
    assert client.patch("/api/auth/me", headers=headers, json={"only_verified_contacts": True}).status_code == 200
    refused = client.post("/api/talents/search", headers=headers, json={"page": 2.5})
    assert refused.status_code == 422 and "page" in refused.json["details"]["fields"]
    assert client.get("/api/productions?mine=1&page=1", headers=headers).status_code == 200  # a query still parses


def test_a_body_with_no_required_field_is_optional_in_the_document_and_on_the_server(client, login):
    headers = login("casting_director")
    spec = client.get("/api/openapi.json").json
    assert spec["paths"]["/api/auth/me"]["patch"]["requestBody"]["required"] is False
    assert spec["paths"]["/api/auth/login"]["post"]["requestBody"]["required"] is True
    assert client.patch("/api/auth/me", headers=headers).status_code == 200


def test_a_production_without_a_location_says_null_and_a_nul_never_reaches_the_database(client, login):
    headers = login("casting_director")
    created = client.post("/api/productions", headers=headers,
                          json={"title": "Mon\u0000soon", "type": "film", "language": "Hin\u0000di"})
    assert created.status_code == 201, created.json
    assert created.json["location"] is None and created.json["title"] == "Monsoon"
    assert created.json["language"] == "Hindi"
    _validator(client.get("/api/openapi.json").json, {"$ref": "#/components/schemas/Production"}).validate(
        created.json)


def test_an_upload_part_the_document_does_not_name_is_refused(client, login):
    from tests.test_talent_media import image_bytes

    headers = login("casting_director")
    upload = client.post("/api/attachments", headers=headers, content_type="multipart/form-data",
                         data={"file": (io.BytesIO(image_bytes("PNG")), "still.png"), "caption": "x"})
    assert upload.status_code == 422 and "caption" in upload.json["details"]["fields"]
    upload = client.post("/api/attachments", headers=headers, content_type="multipart/form-data",
                         data={"file": (io.BytesIO(image_bytes("PNG")), "still.png")})
    assert upload.status_code == 201


def test_url_phone_and_sort_fields_carry_the_patterns_their_validators_apply(client):
    spec = client.get("/api/openapi.json").json
    schemas = spec["components"]["schemas"]
    meeting = schemas["AuditionInput"]["properties"]["meeting_url"]
    assert meeting["format"] == "uri" and re.match(meeting["pattern"], "https://meet.example.in/r/7")
    assert not re.match(meeting["pattern"], "http://meet.example.in") and not re.match(meeting["pattern"], "")
    assert not re.match(meeting["pattern"], "https://meet.example.in/r?x=}")
    phone = schemas["Register"]["properties"]["phone"]["pattern"]
    assert all(re.match(phone, ok) for ok in ("+919876543210", "98765 43210", "+91 98765-43210"))
    assert not any(re.match(phone, bad) for bad in ("", "12345", "phone"))
    sort = next(p for p in spec["paths"]["/api/talents"]["get"]["parameters"] if p["name"] == "sort")
    assert re.match(sort["schema"]["pattern"], "-created_at,stage_name")
    assert not re.match(sort["schema"]["pattern"], "stage_name;drop")
