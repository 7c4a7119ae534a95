from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casting.auth.api_keys import SCOPES
from casting.kernel.numbers import Boolean, Int32
from casting.kernel.text import Url
from casting.kernel.fields import PlainTextField
from casting.users import EmailField, notify_channel_field, PhoneField, SELF_SERVICE_ROLES, USER_EXAMPLE, UserSchema
from casting.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, password_problems

TOKENS_EXAMPLE = {"access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl",
                  "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0eXBlIjoicmVmcmVzaCJ9.c2ln"}
SIGNED_IN_EXAMPLE = {"user": USER_EXAMPLE, **TOKENS_EXAMPLE}
PASSWORD_LENGTH = validate.Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)


def _check_password(data, password_key="password"):
    if password_key in data:
        problems = password_problems(data[password_key], data.get("email"), data.get("phone"),
                                     data.get("full_name"))
        if problems:
            raise ValidationError(problems, password_key)


class RegisterSchema(Schema):
    email = EmailField(metadata={"example": "asha@example.in"})
    phone = PhoneField(metadata={"example": "98765 43210"})
    password = fields.String(required=True, load_only=True, validate=PASSWORD_LENGTH,
                             metadata={"example": "monsoon-kathak-audition"})
    full_name = PlainTextField(required=True, validate=validate.Length(min=1, max=120),
                               metadata={"example": "Asha Rao"})
    role = fields.String(required=True, validate=validate.OneOf(SELF_SERVICE_ROLES),
                         metadata={"example": "talent", "enum": SELF_SERVICE_ROLES})

    @validates_schema
    def _contact_and_password(self, data, **kwargs):
        if not (data.get("email") or data.get("phone")):
            raise ValidationError("An email or a phone number is required.", "email")
        _check_password(data)


class LoginSchema(Schema):
    identifier = fields.String(required=True, validate=validate.Length(min=1, max=254),
                               metadata={"example": "asha@example.in", "description": "Email or phone."})
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=256))


class TokensSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)


class SignedInSchema(TokensSchema):
    user = fields.Nested(UserSchema, required=True)
    is_new_user = Boolean(metadata={"description": "Present on OTP and Google/Facebook sign-in."})


class OtpSendSchema(Schema):
    phone = PhoneField(required=True, metadata={"example": "+91 98765-43210"})
    channel = fields.String(load_default="whatsapp", validate=validate.OneOf(["whatsapp", "sms"]))
    purpose = fields.String(load_default="login", validate=validate.OneOf(["login", "verify_phone"]))


class OtpSentSchema(Schema):
    channel = fields.String(required=True, metadata={"example": "whatsapp"})
    expires_in = Int32(required=True, metadata={"example": 600})
    resend_after = Int32(required=True, metadata={"example": 30})


class OtpVerifySchema(Schema):
    phone = PhoneField(required=True, metadata={"example": "9876543210"})
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="Six digits."),
                         metadata={"example": "482913"})


class LogoutSchema(Schema):
    refresh_token = fields.String(metadata={"description": "Also end the session this refresh token belongs to."})


class SessionSchema(Schema):
    id = fields.String(required=True, metadata={"example": "5f0c2a9e0d6b4c1f8e3a7b6d5c4e3f21"})
    device = fields.String(allow_none=True, metadata={"example": "CastingApp/2.3 (Android 15)"})
    ip = fields.String(allow_none=True, metadata={"example": "203.0.113.7"})
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(required=True)
    current = Boolean(required=True, metadata={"description": "The session making this call."})


class _OAuthSchema(Schema):
    code = fields.String(validate=validate.Length(max=2048))
    redirect_uri = Url(require_tld=False)
    token_field = ""

    @validates_schema
    def _token_or_code(self, data, **kwargs):
        if not data.get(self.token_field) and not (data.get("code") and data.get("redirect_uri")):
            raise ValidationError(f"Send `{self.token_field}`, or `code` with `redirect_uri`.", self.token_field)


class GoogleSignInSchema(_OAuthSchema):
    id_token = fields.String(validate=validate.Length(max=8192))
    token_field = "id_token"


class FacebookSignInSchema(_OAuthSchema):
    access_token = fields.String(validate=validate.Length(max=2048))
    token_field = "access_token"


class MeUpdateSchema(Schema):
    full_name = PlainTextField(validate=validate.Length(min=1, max=120))
    email = EmailField()
    phone = PhoneField()
    password = fields.String(load_only=True, validate=PASSWORD_LENGTH, metadata={
        "description": "A new password ends every other session of the account."})
    notify_channel = notify_channel_field()
    only_verified_contacts = Boolean()

    @validates_schema
    def _password(self, data, **kwargs):
        _check_password(data)


class ApiKeySchema(Schema):
    id = Int32(required=True)
    name = fields.String(required=True, metadata={"example": "matching-service"})
    prefix = fields.String(required=True, metadata={"example": "9f3a61c2"})
    scopes = fields.List(fields.String(), required=True, metadata={"example": ["ml", "export"]})
    created_by_id = Int32(allow_none=True)
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeyCreateSchema(Schema):
    name = PlainTextField(required=True, validate=validate.Length(min=1, max=80))
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True,
                         validate=validate.Length(min=1), metadata={"example": ["ml"]})


class ApiKeyCreatedSchema(Schema):
    api_key = fields.Nested(ApiKeySchema, required=True)
    key = fields.String(required=True, metadata={"description": "The key itself: shown this once, never again.",
                                                 "example": "ck_9f3a61c2_Zt7kq0dQ3m1Lx8VbR2nW5yH4sJ6pA9cE0uF1gT3hK"})
