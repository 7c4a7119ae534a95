from marshmallow import Schema, fields, validate

from casting.kernel.numbers import Int32
from casting.kernel.pagination import PageArgsSchema
from casting.kernel.sorting import sort_field


class AuditEventSchema(Schema):
    id = Int32(required=True)
    actor_id = Int32(allow_none=True)
    actor_api_key_id = Int32(allow_none=True)
    action = fields.String(required=True, metadata={"example": "login"})
    target_type = fields.String(allow_none=True, metadata={"example": "user"})
    target_id = fields.String(allow_none=True, metadata={"example": "42"})
    ip = fields.String(allow_none=True, metadata={"example": "203.0.113.7"})
    request_id = fields.String(allow_none=True)
    details = fields.Dict(required=True)
    at = fields.DateTime(required=True)


class AuditQuerySchema(PageArgsSchema):
    action = fields.String(validate=validate.Length(max=64), metadata={"example": "token_reuse"})
    actor_id = Int32()
    target_type = fields.String(validate=validate.Length(max=32))
    target_id = fields.String(validate=validate.Length(max=64))
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    sort = sort_field(["at", "action", "target_type"], "action,-at")


class ApiKeyQueryArgsSchema(PageArgsSchema):
    sort = sort_field(["created_at", "last_used_at", "revoked_at", "name"], "name")
