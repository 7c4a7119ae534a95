from flask import Response, g, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from casting.kernel.numbers import Boolean
from casting.auth import api_key_required
from casting.exports import services
from casting.kernel.openapi import error_responses
from casting.kernel.requestid import current_client

blp = Blueprint("exports", __name__, url_prefix="/api/export",
                description="Bulk exports for the ML service and partners (service API keys).")


class TalentExportArgsSchema(Schema):
    updated_since = fields.AwareDateTime(metadata={
        "description": "Only talent changed at or after this time (ISO 8601 with offset): for incremental syncs."})
    include_embeddings = Boolean(load_default=False, metadata={
        "description": "Add `embedding`: `{model, vector}` of the talent's stored embedding, or null."})


@blp.route("/talents")
class TalentExportViews(MethodView):
    @api_key_required("export", "ml")
    @blp.doc(security=[{"apiKeyAuth": []}], responses={"200": {
        "description": "One JSON talent per line (`application/x-ndjson`), ordered by id: the talent fields of "
                       "CONTRACT §3 without media. `date_of_birth`, `email` and `phone` only for keys with the "
                       "`pii` scope; `embedding` with `include_embeddings=true`.",
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}})
    @blp.arguments(TalentExportArgsSchema, location="query")
    @error_responses(blp, 401, 403)
    def get(self, args):
        """Stream every live talent as NDJSON (an API key with the `export` or `ml` scope); every export is audited."""
        lines = services.talent_lines(g.api_key, current_client(), args.get("updated_since"),
                                      args["include_embeddings"])
        return Response(stream_with_context(lines), mimetype="application/x-ndjson")
