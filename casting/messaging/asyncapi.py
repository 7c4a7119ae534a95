"""The AsyncAPI 3 document of the Socket.IO namespace `/chat`, served at GET /api/asyncapi.json.

Built from the code: the events a client may emit are the handlers registered on `/chat` (each with
the marshmallow schemas its `chat_event` decorator loads and acks with), the events the server
pushes are `services.EVENTS`; every payload schema is generated from those marshmallow schemas by
the same converter as the OpenAPI document (OpenAPI 3.0 schema objects, so `schemaFormat` says so).
"""
import json

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from casting.kernel.errors import CATALOGUE, Codes
from casting.kernel.extensions import socketio
from casting.messaging import services
from casting.messaging.schemas import ConnectAuthSchema
from casting.kernel.openapi import ErrorSchema, typed_enum, uri_format

SCHEMA_FORMAT = "application/vnd.oai.openapi+json;version=3.0.0"
LIFECYCLE = {"connect", "disconnect"}
SUMMARIES = {
    "message:send": "Send a message (stored before the ack; the same `client_id` again returns the first one).",
    "message:read": "Mark everything up to `message_id` read; the others get `message:read`.",
    "typing": "Say you are (or stopped) typing; `true` lapses by itself after `expires_in` seconds.",
    "message:new": "A new message in one of your conversations (also to your other sockets; not to the sending one).",
    "presence": "A contact came online or went offline (at connect: one for each contact already online).",
}
_ALWAYS = [Codes.VALIDATION, Codes.AUTH_REVOKED, Codes.CONVERSATION_NOT_FOUND, Codes.CHAT_BUSY, Codes.SERVER_ERROR]
ERRORS = {  # what each event's ack may carry instead of its result
    "message:send": [*_ALWAYS, Codes.ACCOUNT_SUSPENDED, Codes.ATTACHMENT_NOT_FOUND, Codes.ATTACHMENT_IN_USE,
                     Codes.MESSAGE_FLOOD],
    "message:read": [*_ALWAYS, Codes.MESSAGE_NOT_FOUND],
    "typing": [*_ALWAYS, Codes.RATE_LIMITED],
}


def client_events():
    """{event: handler} of what a client may emit on `/chat` (the registered handlers, less connect/disconnect)."""
    handlers = socketio.server.handlers.get(services.NAMESPACE, {}) if socketio.server else {}
    return {event: handler for event, handler in handlers.items() if event not in LIFECYCLE}


def _key(event):
    """A component key for an event name (`message:send` -> `message.send`: keys take no colon)."""
    return event.replace(":", ".")


def _name(schema_class):
    return schema_class.__name__.removesuffix("Schema")


def build(config):
    """The document, as a dict."""
    spec = APISpec("chat", "1", "3.0.3", plugins=[MarshmallowPlugin()])
    converter = spec.plugins[0].converter
    converter.add_attribute_function(typed_enum)
    converter.add_attribute_function(uri_format)

    def schema_ref(schema_class):
        if _name(schema_class) not in spec.components.schemas:
            spec.components.schema(_name(schema_class), schema=schema_class)
        return {"schemaFormat": SCHEMA_FORMAT, "schema": {"$ref": f"#/components/schemas/{_name(schema_class)}"}}

    messages, operations = {}, {}
    for event, handler in sorted(client_events().items()):
        key = _key(event)
        messages[key] = {"name": event, "title": event, "summary": SUMMARIES.get(event, ""),
                         "payload": schema_ref(handler.payload_schema)}
        messages[key + ".ack"] = {
            "name": f"{event} ack", "title": f"{event} ack",
            "summary": "The acknowledgement (Socket.IO callback): the result, or the error envelope (it has `code`).",
            "payload": {"schemaFormat": SCHEMA_FORMAT, "schema": {"oneOf": [
                schema_ref(handler.ack_schema)["schema"], schema_ref(ErrorSchema)["schema"]]}},
            "x-error-codes": sorted(error.code for error in ERRORS.get(event, []))}
        operations[key] = {
            "action": "receive", "channel": {"$ref": "#/channels/chat"}, "summary": SUMMARIES.get(event, ""),
            "messages": [{"$ref": f"#/channels/chat/messages/{key}"}],
            "reply": {"channel": {"$ref": "#/channels/chat"},
                      "messages": [{"$ref": f"#/channels/chat/messages/{key}.ack"}]}}
    for event, schema in sorted(services.EVENTS.items()):
        key = _key(event) + ".event" if event in client_events() else _key(event)
        messages[key] = {"name": event, "title": event, "summary": SUMMARIES.get(event, ""),
                         "payload": schema_ref(type(schema))}
        operations[key.replace(".event", "") + ".pushed"] = {
            "action": "send", "channel": {"$ref": "#/channels/chat"}, "summary": SUMMARIES.get(event, ""),
            "messages": [{"$ref": f"#/channels/chat/messages/{key}"}]}
    schema_ref(ConnectAuthSchema)
    messages["connect_error"] = {
        "name": "connect_error", "title": "connect_error",
        "summary": "The connection is refused: `{message, data}`, `data` being the error envelope "
                   "(`AUTH_002` no token, `AUTH_003` a bad one, `AUTH_004` expired: refresh and reconnect, "
                   "`AUTH_005` the sign-in ended).",
        "payload": schema_ref(ErrorSchema)}
    operations["connect.refused"] = {"action": "send", "channel": {"$ref": "#/channels/chat"},
                                     "summary": messages["connect_error"]["summary"],
                                     "messages": [{"$ref": "#/channels/chat/messages/connect_error"}]}
    schemas = spec.to_dict()["components"]["schemas"]
    host = config["PUBLIC_BASE_URL"].split("://", 1)[-1].rstrip("/") or "localhost"
    secure = config["PUBLIC_BASE_URL"].startswith("https")
    return {
        "asyncapi": "3.0.0",
        "info": {"title": f"{config['API_TITLE']}: chat", "version": config["API_VERSION"],
                 "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {"deployment": {
            "host": host, "protocol": "wss" if secure else "ws", "pathname": "/socket.io/",
            "description": "Socket.IO (Engine.IO 4) over WebSocket only: `transports: ['websocket']`.",
            "security": [{"$ref": "#/components/securitySchemes/accessToken"}],
            "bindings": {"ws": {"query": {"type": "object", "properties": {
                "EIO": {"type": "string", "const": "4"}, "transport": {"type": "string", "const": "websocket"}}}}}}},
        "channels": {"chat": {"address": services.NAMESPACE, "title": "Socket.IO namespace /chat",
                              "messages": messages}},
        "operations": operations,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"accessToken": {
                "type": "httpApiKey", "name": "token", "in": "query",
                "description": "Not in the URL: the access token goes in the Socket.IO connect packet's `auth` "
                               "payload, `{token}` (schema `ConnectAuth`). Pass `auth` as a function so a "
                               "reconnect sends a fresh token."}},
            "x-error-codes": [{"code": e.code, "status": e.status, "message": e.message} for e in CATALOGUE
                              if e in {error for errors in ERRORS.values() for error in errors} or
                              e.code.startswith("AUTH_")],
        },
    }


DESCRIPTION = (
    "Live chat over Socket.IO, namespace `/chat`. Connect with `transports: ['websocket']` and "
    "`auth: (cb) => cb({token: <access token>})`. Every event you emit is acknowledged: with its result, or "
    "with the error envelope `{code, message, details?, timestamp, requestId}`.\n\n"
    f"Back-pressure: an ack with `{Codes.CHAT_BUSY.code}` (`details.retry_after`, seconds) means the server "
    "had no room for the event: send it again after that long (with jitter), with the same `client_id`; it is "
    "never stored twice. Always send with an ack timeout, and resend with the same `client_id` when it expires.\n\n"
    "After every (re)connect, fetch what you missed: `GET /api/conversations/{id}/messages?after=<last id you "
    "saw>` (oldest first), then mark read. Deduplicate `message:new` by `id`.\n\n"
    "The full client guide: docs/chat.md in the repository.")


def serve():
    """GET /api/asyncapi.json (serialised once per process: it changes only with the code and config)."""
    cached = current_app.extensions.get("casting_asyncapi")
    if cached is None:
        cached = current_app.extensions["casting_asyncapi"] = json.dumps(build(current_app.config), indent=2)
    return current_app.response_class(cached, mimetype="application/json")
