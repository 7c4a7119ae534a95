from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casting.kernel.numbers import Int32, Int64
from casting.kernel.pagination import PageArgsSchema
from casting.tapes.models import TapeStatus
from casting.kernel.fields import PlainTextField


class TapeCreateSchema(Schema):
    filename = PlainTextField(required=True, validate=validate.Length(min=1, max=255), metadata={
        "description": "The file's name on the phone, for the talent's own list.", "example": "radha-sangeet.mov"})
    size_bytes = Int64(required=True, validate=validate.Range(min=1), metadata={
        "description": "The file's exact size; at most VIDEO_MAX_BYTES (413 `TAPE_002` above).",
        "example": 48_000_000})
    content_type = fields.String(validate=validate.Regexp(r"^video/[A-Za-z0-9.+-]{1,60}$"), metadata={
        "description": "The file's type as the phone says (`video/...`); the worker judges the bytes anyway.",
        "example": "video/quicktime"})
    talent_id = Int32(metadata={"description": "The talent the tape is of: agents and admins name one; talent "
                                               "upload their own."})


class PartSchema(Schema):
    number = Int32(required=True, metadata={"example": 1})
    size = Int64(required=True, metadata={"example": 8_388_608})
    etag = fields.String(required=True, metadata={"example": "9b2cf535f27731c974343645a3985328"})


class PartUrlSchema(Schema):
    number = Int32(required=True, metadata={"example": 2})
    url = fields.String(required=True, metadata={
        "description": "PUT the part's bytes here (no token); the answer's `ETag` header is its tag."})


class UploadSchema(Schema):
    part_size = Int64(required=True, metadata={"description": "Every part but the last is this size.",
                                               "example": 8_388_608})
    part_count = Int32(required=True, metadata={"example": 6})
    received = fields.List(fields.Nested(PartSchema), required=True, metadata={
        "description": "Parts already here: after a dropped connection, send only the others."})
    parts = fields.List(fields.Nested(PartUrlSchema), required=True, metadata={
        "description": "A fresh, expiring URL for each part not yet received."})
    expires_at = fields.DateTime(required=True, metadata={
        "description": "An upload not completed by then is deleted, with its parts."})


class SentToSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["audition", "submission"]))
    audition_id = Int32()
    invitation_id = Int32()
    submission_id = Int32()
    call_id = Int32()
    deadline = fields.DateTime(allow_none=True, metadata={"description": "The tape may be replaced until then."})


class TapeSchema(Schema):
    id = Int32(required=True)
    talent_id = Int32(required=True)
    status = fields.Enum(TapeStatus, by_value=True, required=True, metadata={
        "description": "`uploading` (parts arriving), `queued` (waiting for the worker), `processing` (see "
                       "`progress`), `ready` (watchable), `rejected` (not a video, or too long: "
                       "`failure_code`), `failed` (the video could not be converted)."})
    progress = Int32(required=True, metadata={"description": "Percent of the conversion done (0-100)."})
    failure_code = fields.String(allow_none=True, metadata={
        "description": "`not_video`, `too_long`, `unconvertible` or `internal`; null unless rejected or failed."})
    failure_message = fields.String(allow_none=True)
    filename = fields.String(required=True)
    size_bytes = Int64(required=True)
    duration_seconds = fields.Float(allow_none=True)
    width = Int32(allow_none=True)
    height = Int32(allow_none=True)
    video_url = fields.String(allow_none=True, metadata={
        "description": "A signed, expiring link to the H.264/AAC MP4 (range requests work: a player seeks); "
                       "null until ready."})
    poster_url = fields.String(allow_none=True, metadata={"description": "A signed, expiring link to the poster."})
    sent_to = fields.List(fields.Nested(SentToSchema), required=True)
    upload = fields.Nested(UploadSchema, metadata={
        "description": "While uploading, for the talent or their agent: the parts and where to send them."})
    created_at = fields.DateTime(required=True)
    uploaded_at = fields.DateTime(allow_none=True)
    processed_at = fields.DateTime(allow_none=True)


class TapeBriefSchema(Schema):
    """A tape as lists of submissions show it."""

    id = Int32(required=True)
    status = fields.Enum(TapeStatus, by_value=True, required=True)
    duration_seconds = fields.Float(allow_none=True)
    video_url = fields.String(allow_none=True)
    poster_url = fields.String(allow_none=True)


class TapeQuerySchema(PageArgsSchema):
    audition_id = Int32(metadata={"description": "The tapes sent to this audition (its casting team)."})
    call_id = Int32(metadata={"description": "The tapes sent with this call's submissions (its casting team)."})
    talent_id = Int32()
    status = fields.Enum(TapeStatus, by_value=True)


class SubmitTapeSchema(Schema):
    audition_id = Int32(metadata={"description": "A self_tape audition you are invited to.", "example": 7})
    submission_id = Int32(metadata={"description": "Your submission to a casting call that asks for a self-tape."})

    @validates_schema
    def one_target(self, data, **kwargs):
        if (data.get("audition_id") is None) == (data.get("submission_id") is None):
            raise ValidationError("Give audition_id or submission_id (one of them).", "audition_id")


class PartLinkSchema(Schema):
    expires = Int64(required=True, metadata={"description": "Unix time the link stops working."})
    signature = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


TAPE_EXAMPLE = {
    "id": 12, "talent_id": 4, "status": "ready", "progress": 100, "failure_code": None, "failure_message": None,
    "filename": "radha-sangeet.mov", "size_bytes": 48_000_000, "duration_seconds": 62.4, "width": 1080,
    "height": 1920, "video_url": "https://api.casting.in/api/media/tapes/4/12/3f2a.mp4?expires=1764547200&"
    "signature=...", "poster_url": "https://api.casting.in/api/media/tapes/4/12/3f2a.jpg?expires=1764547200&"
    "signature=...", "sent_to": [{"kind": "audition", "audition_id": 7, "invitation_id": 31,
                                  "deadline": "2026-12-05T00:00:00+05:30"}],
    "created_at": "2026-11-30T10:00:00+00:00", "uploaded_at": "2026-11-30T10:02:00+00:00",
    "processed_at": "2026-11-30T10:03:10+00:00"}

UPLOAD_EXAMPLE = {
    "part_size": 8_388_608, "part_count": 6,
    "received": [{"number": 1, "size": 8_388_608, "etag": "9b2cf535f27731c974343645a3985328"}],
    "parts": [{"number": n, "url": "https://casting-media.s3.ap-south-1.amazonaws.com/tapes/4/0f3c/upload"
               f"?partNumber={n}&uploadId=...&X-Amz-Signature=..."} for n in range(2, 7)],
    "expires_at": "2026-12-01T10:00:00+00:00"}
UPLOADING_EXAMPLE = {**TAPE_EXAMPLE, "status": "uploading", "progress": 0, "duration_seconds": None, "width": None,
                     "height": None, "video_url": None, "poster_url": None, "sent_to": [], "uploaded_at": None,
                     "processed_at": None, "upload": {**UPLOAD_EXAMPLE, "received": [], "parts": [
                         {"number": 1, "url": UPLOAD_EXAMPLE["parts"][0]["url"].replace("=2&", "=1&")},
                         *UPLOAD_EXAMPLE["parts"]]}}
QUEUED_EXAMPLE = {**UPLOADING_EXAMPLE, "status": "queued", "uploaded_at": "2026-11-30T10:02:00+00:00"}
QUEUED_EXAMPLE.pop("upload")
PART_EXAMPLE = {"number": 2, "size": 8_388_608, "etag": "9b2cf535f27731c974343645a3985328"}
