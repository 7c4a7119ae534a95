"""The flask-smorest Api: error envelope schema, catalogue and security in the OpenAPI document."""
import json
from http import HTTPStatus
from pathlib import Path

import flask_swagger_ui
from flask import current_app, send_from_directory
from flask_smorest import Api
from flask_smorest.arguments import ArgumentsMixin
from marshmallow import Schema, fields
from webargs.flaskparser import FlaskParser

from casting.errors import CATALOGUE, handle_http_exception


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
SWAGGER_UI_ASSETS = "/api/docs/assets/"


class OncePerSchemaParser(FlaskParser):
    """webargs' Flask parser, but a schema given as a class is instantiated once, not on every request
    (an instance deep-copies its fields: a measurable share of a cached read). Schemas keep no state
    between loads (marshmallow 4 has no context), so one instance serves every request."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._instances = {}

    def _get_schema(self, argmap, req):
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            if argmap not in self._instances:
                self._instances[argmap] = argmap()
            return self._instances[argmap]
        return super()._get_schema(argmap, req)


# Set before any blueprint is decorated (this module is imported by casting.extensions).
ArgumentsMixin.ARGUMENTS_PARSER = OncePerSchemaParser()


class CastingApi(Api):
    ERROR_SCHEMA = ErrorSchema
    _document = None

    def handle_http_exception(self, error):
        return handle_http_exception(error)

    def register_blueprint(self, blp, **options):
        self._document = None
        super().register_blueprint(blp, **options)

    def _openapi_json(self):
        """Serve the OpenAPI document, serialised once: it only changes when a blueprint is added."""
        if self._document is None or self._document[0] is not self.spec:
            self._document = (self.spec, json.dumps(self.spec.to_dict(), indent=2))
        return current_app.response_class(self._document[1], mimetype="application/json")


def error_responses(blp, *statuses):
    """Document the envelope responses a view can give, by HTTP status."""
    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, response=HTTPStatus(status).name)(view)
        return view
    return decorate


def docs_asset(filename):
    """Swagger UI's own files, served by the app: the docs work offline and load nothing third-party."""
    return send_from_directory(SWAGGER_UI_DIST, filename, max_age=86400)


def _catalogue_markdown():
    rows = "\n".join(f"| `{e.code}` | {e.status} | {e.message} |" for e in CATALOGUE)
    return "| code | status | meaning |\n|---|---|---|\n" + rows


def spec_options():
    """API_SPEC_OPTIONS: description with the error catalogue, security schemes, default security."""
    return {
        "info": {
            "description": (
                "The API of the casting platform for India's film, TV, web and ad industry.\n\n"
                "Every 4xx/5xx response carries the error envelope (`Error`), and the same "
                "`requestId` in the `X-Request-ID` header. Lists are pages: "
                "`{items, meta: {page, per_page, total, total_pages}}`.\n\n"
                "Text is plain text, never HTML: free text is stored as the user typed it, with only tags, "
                "comments and scripts removed (`a<b`, `&` and `&lt;` come back exactly as typed, not "
                "HTML-escaped). Escape every text value when you render it (HTML, a WebView, a notification).\n\n"
                "Rate limits: every route is counted per signed-in user (anonymous callers per IP) and per route, "
                "against `RATELIMIT_DEFAULT` (100 a minute by default) unless the operation's description names "
                "its own setting (search, uploads, sign-in). Every counted answer carries `RateLimit-Limit`, "
                "`RateLimit-Remaining`, `RateLimit-Reset` (seconds) and `RateLimit-Policy` (`100;w=60`); over "
                "the limit the answer is `429` `RATE_001` with `Retry-After` (seconds).\n\n"
                "## Error codes\n\n" + _catalogue_markdown()),
        },
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
