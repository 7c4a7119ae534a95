from marshmallow import Schema, fields
from casting.kernel.numbers import Int32


class OutboxMessageSchema(Schema):
    id = Int32(required=True, metadata={"description": "The notification id."})
    channel = fields.String(required=True, metadata={"enum": ["whatsapp", "sms", "email"]})
    to = fields.String(required=True)
    template = fields.String(required=True)
    body = fields.String(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
