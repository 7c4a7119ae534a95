from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casting.messaging.models import AttachmentKind
from casting.kernel.numbers import Boolean, Int32, Int64
from casting.kernel.pagination import PageArgsSchema
from casting.kernel.sorting import sort_field
from casting.users.models import Role
from casting.kernel.fields import PlainTextField

MAX_BODY = 4000
MAX_HISTORY_PAGE = 100
CURSOR = r"^[0-9]{1,18}$"


class ConversationCreateSchema(Schema):
    participant_ids = fields.List(Int32(validate=validate.Range(min=1)), required=True,
                                  validate=validate.Length(min=1, max=100), metadata={
                                      "example": [42],
                                      "description": "User ids; you are always a participant. Until your account is "
                                      "verified: at most `CHAT_UNVERIFIED_MAX_PARTICIPANTS` people in all (403 "
                                      "`MESSAGE_007`), and `CHAT_UNVERIFIED_START_LIMIT` new conversations "
                                      "(429 `MESSAGE_008`)."})
    audition_id = Int32(allow_none=True, metadata={
        "example": 7, "description": "The audition this conversation is about; you must organise it or be invited."})


class ParticipantSchema(Schema):
    id = Int32(required=True, metadata={"example": 42})
    full_name = fields.String(required=True, metadata={"example": "Asha Rao"})
    role = fields.Enum(Role, by_value=True, required=True)
    is_verified = Boolean(required=True, metadata={"description": "A verified casting account."})
    online = Boolean(required=True, metadata={"description": "Connected to `/chat` right now."})


class AttachmentSchema(Schema):
    id = Int32(required=True, metadata={"example": 5})
    kind = fields.Enum(AttachmentKind, by_value=True, required=True)
    name = fields.String(required=True, metadata={"example": "showreel-stills.pdf"})
    content_type = fields.String(required=True, metadata={"example": "application/pdf"})
    size_bytes = Int32(required=True)
    width = Int32(allow_none=True)
    height = Int32(allow_none=True)
    url = fields.Function(lambda item: f"/api/attachments/{item.id}", required=True, metadata={
        "type": "string", "description": "Fetch with your access token; participants of the conversation only."})
    thumbnail_url = fields.Function(
        lambda item: f"/api/attachments/{item.id}?size=thumbnail" if item.thumbnail_key else None,
        allow_none=True, metadata={"type": "string", "description": "Images only: a WebP at most 400 px on a side."})
    created_at = fields.DateTime(required=True)


class ReadBySchema(Schema):
    user_id = Int32(required=True)
    read_at = fields.DateTime(required=True)


class SafetySchema(Schema):
    flagged = Boolean(required=True)
    reasons = fields.List(fields.String(), required=True, metadata={
        "example": ["asks for a registration, processing, portfolio, membership or audition fee"]})
    advice = fields.String(required=True, metadata={
        "example": "Genuine casting never asks talent for money: ... Do not pay anyone, and report this message."})


class MessageSchema(Schema):
    id = Int64(required=True, metadata={"example": 1201})
    conversation_id = Int32(required=True, metadata={"example": 9})
    sender_id = Int32(allow_none=True, metadata={"example": 42})
    is_verified = Boolean(required=True, metadata={"description": "The sender is a verified casting account."})
    body = fields.String(allow_none=True, metadata={"example": "Can you come in for a callback on Friday?"})
    attachments = fields.List(fields.Nested(AttachmentSchema), required=True)
    client_id = fields.String(required=True, metadata={"example": "2b0d7b3e-6c1a-4a8e-9f7e-0c9d3f1e2a41"})
    safety = fields.Nested(SafetySchema, allow_none=True, metadata={
        "description": "Set when the scam shield found a request for money or explicit photos: show it as a "
                       "warning. The message is still delivered."})
    created_at = fields.DateTime(required=True)
    read_by = fields.List(fields.Nested(ReadBySchema), required=True, metadata={
        "description": "Who (besides the sender) has read it, and when."})


class ConversationSchema(Schema):
    id = Int32(required=True, metadata={"example": 9})
    audition_id = Int32(allow_none=True)
    is_group = Boolean(required=True)
    participants = fields.List(fields.Nested(ParticipantSchema), required=True)
    last_message = fields.Nested(MessageSchema, allow_none=True)
    unread_count = Int32(required=True, metadata={"description": "Messages from others after your "
                                                                 "last read one."})
    last_read_message_id = Int64(required=True, metadata={"description": "Yours; 0 before any."})
    created_at = fields.DateTime(required=True)
    last_message_at = fields.DateTime(allow_none=True)


class ConversationQueryArgsSchema(PageArgsSchema):
    sort = sort_field(["last_message_at", "created_at"], "-created_at")


class MessagePageArgsSchema(Schema):
    before = fields.String(validate=validate.Regexp(CURSOR, error="Not a cursor from `meta.next_cursor`."),
                           metadata={"description": "`meta.next_cursor` of the previous page; omit for the newest."})
    after = fields.String(validate=validate.Regexp(CURSOR, error="Not a message id."), metadata={
        "example": "1201", "description": "Catch up: the messages after this id (the last one you saw), oldest "
                                          "first; pass `meta.next_cursor` as `after` for the next page. With "
                                          "`before` too: the messages between the two."})
    limit = Int32(load_default=30, validate=validate.Range(min=1, max=MAX_HISTORY_PAGE))


class MessagePageMetaSchema(Schema):
    limit = Int32(required=True)
    next_cursor = fields.String(allow_none=True, metadata={
        "description": "Pass as `before` for older messages (as `after` for newer ones, when you paged with "
                       "`after`); null when there are none."})


class MessagePageSchema(Schema):
    items = fields.List(fields.Nested(MessageSchema), required=True, metadata={
        "description": "Newest first; oldest first with `after`."})
    meta = fields.Nested(MessagePageMetaSchema, required=True)


class MessageCreateSchema(Schema):
    body = PlainTextField(validate=validate.Length(max=MAX_BODY), allow_none=True, metadata={
        "example": "Can you come in for a callback on Friday?", "description": "Plain text; markup is removed."})
    attachment_ids = fields.List(Int32(), load_default=list, validate=validate.Length(max=10), metadata={
        "description": "Ids from `POST /api/attachments`, uploaded by you and not yet sent."})
    client_id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9._:-]{1,64}$"), metadata={
        "example": "2b0d7b3e-6c1a-4a8e-9f7e-0c9d3f1e2a41",
        "description": "Your id for this message (a UUID): sending it again returns the first message."})

    @validates_schema
    def _not_empty(self, data, **kwargs):
        if not data.get("body") and not data.get("attachment_ids"):
            raise ValidationError("Send some text or an attachment.", "body")


class SocketMessageSchema(MessageCreateSchema):
    conversation_id = Int32(required=True, validate=validate.Range(min=1))


class ReadSchema(Schema):
    message_id = Int64(required=True, validate=validate.Range(min=1), metadata={"example": 1201})


class SocketReadSchema(ReadSchema):
    conversation_id = Int32(required=True, validate=validate.Range(min=1))


class TypingSchema(Schema):
    conversation_id = Int32(required=True, validate=validate.Range(min=1))
    is_typing = Boolean(required=True)


class ReceiptSchema(Schema):
    conversation_id = Int32(required=True)
    user_id = Int32(required=True)
    message_id = Int64(required=True, metadata={"description": "Everything up to this one is read."})
    read_at = fields.DateTime(allow_none=True)


class AttachmentFileSchema(Schema):
    file = Upload(required=True, metadata={
        "description": "A JPEG, PNG or WebP image or a PDF (judged by content), at most MEDIA_MAX_BYTES (10 MB); "
                       "an image at most MEDIA_MAX_PIXELS (40 megapixels, read from its header; 413 MEDIA_002 "
                       "beyond). Images are re-encoded without EXIF/GPS metadata; PDFs with scripts are refused."})


class AttachmentArgsSchema(Schema):
    size = fields.String(validate=validate.OneOf(["original", "thumbnail"]), load_default="original")


class TypingStateSchema(Schema):
    conversation_id = Int32(required=True)
    user_id = Int32(required=True)
    is_typing = Boolean(required=True)
    expires_in = Int32(required=True, metadata={
        "description": "Seconds until `is_typing: true` lapses by itself (`CHAT_TYPING_SECONDS`); 0 when false."})


class PresenceSchema(Schema):
    user_id = Int32(required=True)
    online = Boolean(required=True, metadata={"description": "Connected to `/chat` (any socket, any process)."})


class ConnectAuthSchema(Schema):
    token = fields.String(required=True, metadata={
        "description": "An access token (`POST /api/auth/login` or `/api/auth/refresh`). Give the client a "
                       "function as `auth`, so every reconnect sends the current one."})
