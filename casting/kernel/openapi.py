"""The flask-smorest Api: error envelope schema, catalogue and security in the OpenAPI document."""
import json
import re
from http import HTTPStatus
from pathlib import Path

import flask_swagger_ui
from apispec import BasePlugin
from flask import current_app, send_from_directory
from flask_smorest import Api, Blueprint
from flask_smorest.arguments import ArgumentsMixin
from marshmallow import Schema, fields, validate
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from casting.kernel.errors import CATALOGUE, catalogue_markdown, handle_http_exception
from casting.kernel.text import URI_CHARACTER


class ErrorSchema(Schema):
    """The error envelope of CONTRACT §1."""

    code = fields.String(required=True, metadata={
        "enum": [error.code for error in CATALOGUE], "example": "VALIDATION_001"})
    message = fields.String(required=True, metadata={"example": "Some fields are not valid."})
    details = fields.Dict(metadata={"example": {"fields": {"per_page": ["Must be at most 100."]}}})
    timestamp = fields.String(required=True, metadata={
        "format": "date-time", "example": "2026-11-24T10:00:00+00:00"})
    requestId = fields.String(required=True, metadata={"example": "0b6f0c5e6a0d4c1f9f1b2a7d3e4c5b6a"})


SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
REDOC_DIST = Path(__file__).parent / "redoc"  # ReDoc's standalone bundle (npm `redoc`, see its VERSION)
SWAGGER_UI_ASSETS = "/api/docs/assets/"


class OncePerSchemaParser(FlaskParser):
    """webargs' Flask parser, but a schema given as a class is instantiated once, not on every request
    (an instance deep-copies its fields: a measurable share of a cached read). Schemas keep no state
    between loads (marshmallow 4 has no context), so one instance serves every request.

    It also reads `location="multipart"`: a multipart/form-data body's files and fields in one schema,
    documented as one `multipart/form-data` request body. (Two arguments, `form` and `files`, would be
    documented with the form fields as Swagger 2 `in: formData` parameters, which OpenAPI 3 has not.)
    """

    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}
    # A part the schema does not name is refused (422), as the document's `additionalProperties: false` says.
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "multipart": None}

    def load_multipart(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._instances = {}

    def _get_schema(self, argmap, req):
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            if argmap not in self._instances:
                self._instances[argmap] = argmap()
            return self._instances[argmap]
        return super()._get_schema(argmap, req)


# Set before any blueprint is decorated (this module is imported by casting.kernel.extensions).
ArgumentsMixin.ARGUMENTS_PARSER = OncePerSchemaParser()
Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
    **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING, "multipart": "multipart/form-data"}


RETRY_AFTER = {"description": "Seconds to wait before trying again.",
               "schema": {"type": "integer", "minimum": 1, "example": 30}}


def operation_id(endpoint, method):
    """A stable operationId from the route's endpoint and method: `talents.TalentByIdViews` + `get` gives
    `talents_talent_by_id_get`. Renaming a view class renames its operations (generated clients' methods)."""
    blueprint, _, view = endpoint.rpartition(".")
    view = re.sub(r"Views?$", "", view)
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", view).lower()
    return "_".join(part for part in (blueprint, words, method.lower()) if part)


def typed_enum(converter, field, ret, **kwargs):
    """An enum's JSON type, which apispec leaves out for `fields.Enum` (and so for its nullable form,
    whose `nullable: true` needs a sibling `type`): validators and generated clients need it. An enum
    field that takes only some members (`validate.OneOf`) lists only those."""
    update = {}
    chosen = [choice for check in field.validators if isinstance(check, validate.OneOf) for choice in check.choices]
    if isinstance(field, fields.Enum) and chosen:
        values = [choice.value if field.by_value else choice.name for choice in chosen]
        update["enum"] = values + ([None] if field.allow_none else [])
    else:
        values = [value for value in ret.get("enum") or () if value is not None]
    if values and "type" not in ret:
        kinds = {type(value) for value in values}
        names = {str: "string", int: "integer", bool: "boolean", float: "number"}
        if len(kinds) == 1 and kinds <= names.keys():
            update["type"] = names[kinds.pop()]
    return update


_LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


def uri_format(converter, field, ret, **kwargs):
    """A URL field is a `uri` (apispec says `url`, which JSON Schema does not know), with a pattern for what
    its validator takes: the schemes, a host name (with a top-level domain unless `require_tld=False`), an
    optional port and path. (The validator also takes IP addresses and `localhost`; the pattern leaves
    them out, so generated clients and fuzzers send ordinary host names.)"""
    if not isinstance(field, fields.Url) or not field.absolute:
        return {}
    urls = [check for check in field.validators if isinstance(check, validate.URL)]
    schemes = sorted(urls[0].schemes if urls else ("http", "https"))
    host = f"({_LABEL}\\.)+[A-Za-z]{{2,6}}" if field.require_tld else f"{_LABEL}(\\.{_LABEL})*"
    return {"format": "uri",
            "pattern": f"^({'|'.join(schemes)})://{host}(:[0-9]{{1,5}})?(/|[/?#]{URI_CHARACTER}+)?$"}


def _refs(node):
    """The component schema names `node` refers to, directly."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        found = {ref.rsplit("/", 1)[-1]} if ref.startswith("#/components/schemas/") else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def _reachable(names, schemas):
    """`names` and every component schema they refer to, however deep."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in seen and name in schemas:
            seen.add(name)
            todo.extend(_refs(schemas[name]))
    return seen


def request_defaults_described(document):
    """Request-only schemas say their defaults in words, not with `default`: generators such as
    openapi-typescript read `default` as "always present" and would make `page` or `channel` required in
    a request. A schema that a response also uses keeps `default` (there the field is always present)."""
    schemas = document.get("components", {}).get("schemas", {})
    operations = [operation for item in document.get("paths", {}).values() for operation in item.values()
                  if isinstance(operation, dict)]
    sent = _reachable(set().union(*(_refs(op.get("requestBody", {})) for op in operations)), schemas)
    answered = _reachable(set().union(*(_refs(op.get("responses", {})) for op in operations)), schemas)
    for name in sent - answered:
        for prop in schemas[name].get("properties", {}).values():
            if "default" in prop:
                default = json.dumps(prop.pop("default"))
                prop["description"] = f"{prop.get('description', '').rstrip()} Default: `{default}`.".lstrip()
    return document


IDEMPOTENCY_DESCRIPTION = (
    "A key of your choosing (a UUID) that makes retrying this request safe: a retry with the same key and the "
    "same request (method, path, query and body, byte for byte) by the same user gets the first answer again, "
    "with `Idempotent-Replayed: true`, and creates nothing more. The same key with a different request is "
    "`422 REQUEST_006`; while the first one's answer is not recorded (still running, or its process died after "
    "committing) it is `409 REQUEST_007`. Keys are kept `IDEMPOTENCY_HOURS` (24) per user.")


class OperationsPlugin(BasePlugin):
    """What every operation gets from the route it documents rather than from each view:

    - `operationId` from the endpoint and method (see `operation_id`);
    - a `429` with `Retry-After` wherever a request can be refused for its rate: every route the default
      rate limit counts, and those that document their own limit;
    - a JSON body none of whose fields is required is optional (`requestBody.required: false`): a request
      without one is read as `{}`, as the server does;
    - an optional `Idempotency-Key` header on every creating operation (`_idempotency_key`).
    """

    def __init__(self, api):
        self.api = api
        self.spec = None

    def init_spec(self, spec):
        self.spec = spec

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        if rule is None:
            return
        limited = self._rate_limited(rule.endpoint)
        for method, operation in operations.items():
            operation.setdefault("operationId", operation_id(rule.endpoint, method))
            self._optional_body(operation)
            self._idempotency_key(rule.endpoint, method, operation)
            if limited:
                operation.setdefault("responses", {}).setdefault("429", "TOO_MANY_REQUESTS")

    def _idempotency_key(self, endpoint, method, operation):
        """The `Idempotency-Key` header on every creating operation a signed-in caller makes (see
        `casting.kernel.idempotency.creates`, which the server applies to the same operations)."""
        from casting.kernel.idempotency import HEADER, KEY_PATTERN, creates, handler_of

        handler = handler_of(self.api._app.view_functions.get(endpoint), method)
        if operation.get("security") == [] or not creates(method, handler):
            return
        operation.setdefault("parameters", []).append({
            "in": "header", "name": HEADER, "required": False,
            "schema": {"type": "string", "pattern": KEY_PATTERN, "maxLength": 255,
                       "example": "5f0c6f1e-1b7a-4d0e-9a55-2f4b8c1d9e30"},
            "description": IDEMPOTENCY_DESCRIPTION})
        responses = operation.setdefault("responses", {})
        responses.setdefault("409", "CONFLICT")
        responses.setdefault("422", "UNPROCESSABLE_ENTITY")

    def _optional_body(self, operation):
        schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if "$ref" in schema:
            schema = self.spec.components.schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
        if schema.get("type") == "object" and not schema.get("required"):
            operation["requestBody"]["required"] = False

    def _rate_limited(self, endpoint):
        from flask_limiter import ExemptionScope

        from casting.kernel.extensions import limiter

        app = self.api._app
        scope = limiter.limit_manager.exemption_scope(app, endpoint, endpoint.rpartition(".")[0] or None)
        return not scope & ExemptionScope.DEFAULT


class CastingApi(Api):
    ERROR_SCHEMA = ErrorSchema
    _document = None

    def _init_spec(self, **kwargs):
        kwargs["extra_plugins"] = [*kwargs.get("extra_plugins", ()), OperationsPlugin(self)]
        super()._init_spec(**kwargs)
        self.ma_plugin.converter.add_attribute_function(typed_enum)
        self.ma_plugin.converter.add_attribute_function(uri_format)
        self._errors_tag_last()

    def _register_pagination_header(self):
        """None: lists page with their own envelope (`casting.kernel.pagination`), not flask-smorest's header."""

    def _register_responses(self):
        super()._register_responses()
        self.spec.components.responses_lazy["TOO_MANY_REQUESTS"]["headers"] = {"Retry-After": RETRY_AFTER}

    def handle_http_exception(self, error):
        return handle_http_exception(error)

    def register_blueprint(self, blp, **options):
        self._document = None
        super().register_blueprint(blp, **options)
        self._errors_tag_last()

    def _errors_tag_last(self):
        self.spec._tags[:] = [tag for tag in self.spec._tags if tag["name"] != ERRORS_TAG] + [errors_tag()]

    def _openapi_json(self):
        """Serve the OpenAPI document, serialised once: it only changes when a blueprint is added."""
        if self._document is None or self._document[0] is not self.spec:
            self._document = (self.spec, json.dumps(request_defaults_described(self.spec.to_dict()), indent=2))
        return current_app.response_class(self._document[1], mimetype="application/json")


def error_responses(blp, *statuses):
    """Document the envelope responses a view can give, by HTTP status."""
    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, response=HTTPStatus(status).name)(view)
        return view
    return decorate


def docs_asset(filename):
    """Swagger UI's and ReDoc's own files, served by the app: the docs work offline and load nothing
    third-party."""
    folder = REDOC_DIST if filename.startswith("redoc.") else SWAGGER_UI_DIST
    return send_from_directory(folder, filename, max_age=86400)


ERRORS_TAG = "errors"


def errors_tag():
    """The error catalogue, as the description of the last tag, which has no operations (`x-traitTag`):
    ReDoc shows it as a section after the operations and the Swagger UI page renders it below them, so
    both pages open on the operations and the Authorize button."""
    return {"name": ERRORS_TAG, "x-traitTag": True,
            "description": "Every error response's `code`, its HTTP status and meaning.\n\n" + catalogue_markdown()}


def spec_options(config):
    """API_SPEC_OPTIONS: description, servers, security schemes, default security, and the error catalogue.

    The catalogue is not in the description (which both pages show first): see `errors_tag`.
    """
    return {
        "info": {
            "description": (
                "The API of the casting platform for India's film, TV, web and ad industry.\n\n"
                "Every 4xx/5xx response carries the error envelope (`Error`), and the same "
                "`requestId` in the `X-Request-ID` header; its codes are listed under "
                f"`{ERRORS_TAG}`, after the operations. A 429 carries `Retry-After` "
                "(seconds). Lists are pages: `{items, meta: {page, per_page, total, total_pages}}`.\n\n"
                "Text is plain text, never HTML: free text is stored as the user typed it, with only tags, "
                "comments and scripts removed (`a<b`, `&` and `&lt;` come back exactly as typed, not "
                "HTML-escaped). Escape every text value when you render it (HTML, a WebView, a notification).\n\n"
                "Rate limits: every route is counted per signed-in user (anonymous callers per IP) and per route, "
                "against `RATELIMIT_DEFAULT` (100 a minute by default) unless the operation's description names "
                "its own setting (search, uploads, sign-in). Every counted answer carries `RateLimit-Limit`, "
                "`RateLimit-Remaining`, `RateLimit-Reset` (seconds) and `RateLimit-Policy` (`100;w=60`); over "
                "the limit the answer is `429` `RATE_001` with `Retry-After` (seconds).\n\n"
                "Overload: when a server process is already serving all it can, any operation may be answered at "
                "once with `503` `SERVER_003` and `Retry-After` (seconds) instead of waiting its turn, and so is "
                "one whose database work runs past a bound (`DB_STATEMENT_TIMEOUT_MS`: a statement waiting behind "
                "a lock, say); retry after it (`ADMISSION_LIMIT`, `ADMISSION_WAIT_MS`)."),
            "license": {"name": "Proprietary"},
        },
        "servers": [{"url": config["PUBLIC_BASE_URL"], "description": "This deployment (PUBLIC_BASE_URL)."}],
        "x-error-codes": [{"code": e.code, "status": e.status, "message": e.message}
                          for e in CATALOGUE],
        "components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "A service API key (`flask keys create-api-key`), with the scope the "
                                          "route names."},
        }},
        "security": [{"bearerAuth": []}],
    }
