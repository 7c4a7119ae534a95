"""An integer beyond its column's range is a 404 or a 422, never a 500 (issue 14, item 5).

Walks the app itself: every route with an `<int:...>` part, every paged list, every integer the
OpenAPI document says a request may carry.
"""
import re

import pytest
from werkzeug.routing import IntegerConverter

TOO_BIG = [2 ** 31, 1904303190498126, 739523721017050791936]
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def _int_routes(app):
    for rule in app.url_map.iter_rules():
        if any(isinstance(converter, IntegerConverter) for converter in rule._converters.values()):
            for method in sorted(rule.methods - SKIPPED_METHODS):
                yield rule, method


def _fill(rule, value):
    return re.sub(r"<(?:\w+:)?\w+>", str(value), rule.rule)


@pytest.fixture
def admin(login):
    return login("admin")


def test_every_int_path_part_beyond_the_column_is_not_found(app, client, admin):
    routes = list(_int_routes(app))
    assert len(routes) > 30
    for rule, method in routes:
        for value in TOO_BIG:
            response = client.open(_fill(rule, value), method=method, headers=admin, json={})
            assert (response.status_code, response.json["code"]) == (404, "REQUEST_002"), (method, rule.rule, value)


def test_the_largest_id_a_column_holds_is_an_ordinary_miss(app, client, admin):
    for path in ("/api/talents/2147483647", "/api/productions/2147483647", "/api/auditions/2147483647",
                 "/api/conversations/2147483647/messages"):
        response = client.get(path, headers=admin)
        assert response.status_code == 404 and response.json["code"] != "REQUEST_002", path


def _paged_lists(spec):
    for path, operations in spec["paths"].items():
        get = operations.get("get", {})
        if "{" not in path and any(p["name"] == "page" and p["in"] == "query" for p in get.get("parameters", [])):
            yield path


def test_every_paged_list_refuses_a_page_beyond_the_range(app, client, admin):
    paths = list(_paged_lists(client.get("/api/openapi.json").json))
    assert {"/api/talents", "/api/talents/featured", "/api/conversations", "/api/productions"} <= set(paths)
    for path in paths:
        for value in TOO_BIG + [2824069569452848195829760]:
            response = client.get(f"{path}?page={value}", headers=admin)
            assert (response.status_code, response.json["code"]) == (422, "VALIDATION_001"), (path, value)
            assert "page" in response.json["details"]["fields"], path
            wide = client.get(f"{path}?per_page={value}", headers=admin)
            assert wide.status_code == 422, (path, value)


def _integers(node, where):
    """Every integer schema reachable from `node`, with where it was found."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            yield where, node
        for key, value in node.items():
            yield from _integers(value, f"{where}.{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _integers(value, f"{where}[{n}]")


def _resolve(spec, node):
    if isinstance(node, dict):
        if "$ref" in node:
            return _resolve(spec, spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]])
        return {key: _resolve(spec, value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(spec, value) for value in node]
    return node


def test_every_integer_a_request_may_carry_has_a_documented_bound(client):
    spec = client.get("/api/openapi.json").json
    found = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            inputs = {"parameters": operation.get("parameters", []), "body": operation.get("requestBody", {})}
            for where, schema in _integers(_resolve(spec, inputs), f"{method.upper()} {path}"):
                found += 1
                assert "maximum" in schema and schema["maximum"] < 2 ** 63, where
    assert found > 40


@pytest.mark.parametrize("path, body, field", [
    ("/api/auditions/", {"production_id": 2 ** 40, "title": "Round one", "mode": "virtual"}, "production_id"),
    ("/api/conversations", {"participant_ids": [2 ** 40]}, "participant_ids.0"),
    ("/api/talents/search", {"page": 2 ** 40}, "page"),
])
def test_integers_in_a_body_beyond_the_column_are_invalid(client, login, path, body, field):
    headers = login("casting_director")
    response = client.post(path, headers=headers, json=body)
    assert (response.status_code, response.json["code"]) == (422, "VALIDATION_001"), response.json
    assert field in response.json["details"]["fields"], response.json
