from marshmallow import Schema, ValidationError, fields, validate

from casting.kernel.numbers import Boolean, Int32
from casting.notifications.models import Channel
from casting.users.models import Role
from casting.users.services import UserError, normalise_email, normalise_phone

SELF_SERVICE_ROLES = [role.value for role in Role if role != Role.ADMIN]


PHONE_DESCRIPTION = ("A mobile number (codes and WhatsApp messages go to it), written any usual way: `+919876543210`, "
                     "`98765 43210`, `098765 43210`, `0091 98765 43210`, `+91 98765-43210`; without a country code "
                     "it is Indian. Checked against the numbering plans and stored and returned in E.164 "
                     "(`+919876543210`). A landline, or a number no plan has, is a 422 saying which.")


class PhoneField(fields.String):
    """The one phone field: any usual writing in, E.164 out (`casting.users.services.normalise_phone`).

    Every phone the API takes is one that codes and WhatsApp messages go to, so a mobile number is
    required unless `mobile=False`.
    """

    # What the document says a phone number looks like: E.164, or an Indian mobile number as people write it.
    PATTERN = r"^(\+[1-9][0-9]{7,14}|(\+91[ -]?|0091[ -]?|0)?[6-9][0-9]{4}[ -]?[0-9]{5})$"

    def __init__(self, *args, mobile=True, metadata=None, **kwargs):
        self.mobile = mobile
        metadata = {"description": PHONE_DESCRIPTION, "example": "+919876543210", "pattern": self.PATTERN,
                    **(metadata or {})}
        super().__init__(*args, metadata=metadata, validate=validate.Length(max=32), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return normalise_phone(super()._deserialize(value, attr, data, **kwargs), mobile=self.mobile)
        except UserError as error:
            raise ValidationError(str(error)) from error


class EmailField(fields.Email):
    """An email address, trimmed and lower-cased."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return normalise_email(super()._deserialize(value.strip() if isinstance(value, str) else value,
                                                        attr, data, **kwargs))
        except UserError as error:
            raise ValidationError(str(error)) from error


def notify_channel_field():
    """How a person wants to hear of messages that wait for them."""
    return fields.Enum(Channel, by_value=True, allow_none=True, metadata={
        "example": "whatsapp",
        "description": "How to reach this person about messages while they are away: `whatsapp`, `sms` or "
                       "`email` (null: WhatsApp when there is a phone, otherwise email)."})


class UserSchema(Schema):
    id = Int32(required=True, metadata={"example": 42})
    full_name = fields.String(required=True, metadata={"example": "Asha Rao"})
    email = fields.String(allow_none=True, metadata={"example": "asha@example.in"})
    phone = fields.String(allow_none=True, metadata={"example": "+919876543210"})
    role = fields.Enum(Role, by_value=True, required=True, metadata={"example": "talent"})
    phone_verified = Boolean(required=True)
    email_verified = Boolean(required=True)
    notify_channel = notify_channel_field()
    only_verified_contacts = Boolean(required=True, metadata={
        "description": "Talent: accept new conversations only from verified casting accounts."})
    is_verified = Boolean(required=True, metadata={"description": "A verified casting account."})
    is_suspended = Boolean(required=True)
    created_at = fields.DateTime(required=True, metadata={"example": "2026-11-24T10:00:00+00:00"})


USER_EXAMPLE = {"id": 42, "full_name": "Asha Rao", "email": "asha@example.in", "phone": "+919876543210",
                "role": "talent", "phone_verified": True, "email_verified": False, "notify_channel": "whatsapp",
                "only_verified_contacts": False, "is_verified": False, "is_suspended": False,
                "created_at": "2026-11-24T10:00:00+00:00"}


class RoleChangeSchema(Schema):
    role = fields.Enum(Role, by_value=True, required=True, metadata={"example": "casting_director"})
