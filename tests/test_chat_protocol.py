"""The socket protocol as documented for clients (issue 18): the AsyncAPI document against the handlers
actually registered on `/chat` and the marshmallow schemas they load, ack and push; and the REST catch-up
a client makes after a reconnect."""
import json
from pathlib import Path

import jsonschema
from marshmallow import fields

from casting.kernel.errors import CATALOGUE
from casting.kernel.extensions import socketio
from casting.messaging import services
from casting.messaging.asyncapi import LIFECYCLE
from casting.messaging.schemas import ConnectAuthSchema
from casting.kernel.openapi import ErrorSchema
from tests.test_chat_live import conversation

# The AsyncAPI 3.0.0 JSON Schema (npm @asyncapi/specs 6.11.1, Apache-2.0), kept here: tests fetch nothing.
ASYNCAPI_SCHEMA = json.loads((Path(__file__).parent / "asyncapi-3.0.0.schema.json").read_text())


def _resolve(document, ref):
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _payload_schema(document, message):
    """The component schema a message's payload names (`{schemaFormat, schema: {$ref}}`)."""
    payload = message["payload"]
    assert payload["schemaFormat"].startswith("application/vnd.oai.openapi")
    return _resolve(document, payload["schema"]["$ref"]), payload["schema"]["$ref"]


def _agrees(document, component, schema_class):
    """The JSON schema states the marshmallow schema's fields, required ones and nesting."""
    schema = schema_class()
    assert set(component["properties"]) == set(schema.fields), (schema_class, component)
    assert set(component.get("required", [])) == {name for name, field in schema.fields.items() if field.required}
    for name, field in schema.fields.items():
        prop = component["properties"][name]
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested):
            _agrees(document, _resolve(document, next(_refs(prop))), type(inner.schema))


def test_the_asyncapi_document_states_every_handler_and_nothing_else(client):
    response = client.get("/api/asyncapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.json
    assert document["asyncapi"] == "3.0.0" and document["channels"]["chat"]["address"] == "/chat"
    errors = [f"{list(error.absolute_path)}: {error.message[:200]}"
              for error in jsonschema.Draft7Validator(ASYNCAPI_SCHEMA).iter_errors(document)]
    assert not errors  # a valid AsyncAPI 3 document
    for ref in set(_refs(document)):  # every reference resolves
        _resolve(document, ref)

    registered = {event: handler for event, handler in socketio.server.handlers["/chat"].items()
                  if event not in LIFECYCLE}
    assert {"message:send", "message:read", "typing"} <= set(registered)
    operations = document["operations"].values()
    received = {}
    for operation in operations:
        if operation["action"] == "receive":
            message = _resolve(document, operation["messages"][0]["$ref"])
            received[message["name"]] = (message, _resolve(document, operation["reply"]["messages"][0]["$ref"]))
    assert set(received) == set(registered)  # every handler documented, nothing that does not exist
    for event, handler in registered.items():
        message, ack = received[event]
        component, _ = _payload_schema(document, message)
        _agrees(document, component, handler.payload_schema)  # the schema the handler loads
        result, error = ack["payload"]["schema"]["oneOf"]
        _agrees(document, _resolve(document, result["$ref"]), handler.ack_schema)
        _agrees(document, _resolve(document, error["$ref"]), ErrorSchema)
        assert set(ack["x-error-codes"]) <= {error.code for error in CATALOGUE}

    pushed = {}
    for operation in operations:
        if operation["action"] == "send":
            message = _resolve(document, operation["messages"][0]["$ref"])
            pushed[message["name"]] = message
    assert set(pushed) == set(services.EVENTS) | {"connect_error"}
    for event, schema in services.EVENTS.items():
        _agrees(document, _payload_schema(document, pushed[event])[0], type(schema))
    _agrees(document, document["components"]["schemas"]["ConnectAuth"], ConnectAuthSchema)
    assert document["servers"]["deployment"]["pathname"] == "/socket.io/"
    assert "auth" in document["components"]["securitySchemes"]["accessToken"]["description"]
    assert "MESSAGE_009" in json.dumps(document["info"]["description"])


def test_a_client_catches_up_after_the_last_message_it_saw(client, signed_in):
    cd, cd_id = signed_in("casting_director", "cd@example.in")
    asha, asha_id = signed_in("talent", "asha@example.in")
    conversation_id = conversation(client, (None, cd_id, cd), (None, asha_id, asha))
    ids = [client.post(f"/api/conversations/{conversation_id}/messages", headers=cd,
                       json={"body": f"take {n}", "client_id": f"c-{n}"}).json["id"] for n in range(5)]
    url = f"/api/conversations/{conversation_id}/messages"
    page = client.get(url, headers=asha, query_string={"after": ids[1], "limit": 2}).json
    assert [item["id"] for item in page["items"]] == ids[2:4] and page["meta"]["next_cursor"] == str(ids[3])
    rest = client.get(url, headers=asha, query_string={"after": page["meta"]["next_cursor"]}).json
    assert [item["id"] for item in rest["items"]] == ids[4:] and rest["meta"]["next_cursor"] is None
    between = client.get(url, headers=asha, query_string={"after": ids[0], "before": ids[3]}).json
    assert [item["id"] for item in between["items"]] == ids[1:3]
