from marshmallow import Schema, fields
from casting.kernel.numbers import Int32


class VerificationArgsSchema(Schema):
    mode = fields.String(required=True, data_key="hub.mode", metadata={"example": "subscribe"})
    verify_token = fields.String(required=True, data_key="hub.verify_token")
    challenge = fields.String(required=True, data_key="hub.challenge", metadata={"example": "1158201444"})


class WebhookAckSchema(Schema):
    statuses = Int32(required=True, metadata={"description": "Delivery reports applied."})
    messages = Int32(required=True, metadata={"description": "Inbound messages handed over."})
