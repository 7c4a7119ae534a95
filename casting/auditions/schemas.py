from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casting.auditions.models import AuditionMode, AuditionStatus, InvitationStatus
from casting.auditions.services import MAX_INVITES, RSVP
from casting.kernel.numbers import Boolean, Int32
from casting.kernel.pagination import PageArgsSchema
from casting.kernel.sorting import sort_field
from casting.kernel.text import Url
from casting.kernel.fields import LocationSchema
from casting.kernel.fields import PlainTextField

OUTCOMES = ["shortlisted", "callback", "selected", "rejected", "no_show"]


def _zone(value):
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("Not an IANA time zone (like Asia/Kolkata).") from None


class AuditionInputSchema(Schema):
    title = PlainTextField(validate=validate.Length(min=1, max=200), metadata={"example": "Young Radha: first round"})
    mode = fields.Enum(AuditionMode, by_value=True, metadata={"example": "in_person"})
    location = fields.Nested(LocationSchema, allow_none=True)
    meeting_url = Url(schemes={"https"}, allow_none=True, validate=validate.Length(max=500))
    instructions = PlainTextField(validate=validate.Length(max=10000), allow_none=True,
                                  metadata={"example": "Prepare the sangeet scene; wear something simple."})
    scheduled_date = fields.Date(allow_none=True, metadata={
        "example": "2026-12-05", "description": "The audition's day (`YYYY-MM-DD`); scheduling slots sets it to "
                                                "the first slot's day in `timezone`."})
    duration_minutes = Int32(validate=validate.Range(min=1, max=1440), allow_none=True)
    tape_due_at = fields.AwareDateTime(default_timezone=None, allow_none=True, metadata={
        "description": "For a `self_tape` audition: tapes are taken until then (with an offset); unset, until the "
                       "end of `scheduled_date` in `timezone`, or while the audition is open.",
        "example": "2026-12-05T18:00:00+05:30"})
    timezone = fields.String(validate=_zone, metadata={"example": "Asia/Kolkata",
                                                       "description": "IANA zone; Asia/Kolkata by default."})
    status = fields.Enum(AuditionStatus, by_value=True)


class AuditionCreateSchema(AuditionInputSchema):
    production_id = Int32(required=True, metadata={"example": 3})
    role_id = Int32(allow_none=True, metadata={"example": 11})
    title = PlainTextField(required=True, validate=validate.Length(min=1, max=200))
    mode = fields.Enum(AuditionMode, by_value=True, required=True)


AUDITION_SORT_KEYS = ["scheduled_date", "created_at", "updated_at", "title", "status"]


class AuditionQueryArgsSchema(PageArgsSchema):
    date_from = fields.Date(metadata={"example": "2026-12-01",
                                      "description": "Only auditions on this day or later (`scheduled_date`)."})
    date_to = fields.Date(metadata={"example": "2026-12-31",
                                    "description": "Only auditions on this day or earlier (`scheduled_date`)."})
    sort = sort_field(AUDITION_SORT_KEYS, "scheduled_date,-created_at")

    @validates_schema
    def _range(self, data, **kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("Must not be before date_from.", "date_to")


INVITATION_SORT_KEYS = ["created_at", "updated_at", "status", "talent_id", "waitlist_position", "rating"]


class InvitationQueryArgsSchema(PageArgsSchema):
    status = fields.Enum(InvitationStatus, by_value=True, metadata={"description": "Only invitations in this status."})
    sort = sort_field(INVITATION_SORT_KEYS, "status,-updated_at")


class InvitationSlotSchema(Schema):
    id = Int32(required=True)
    start_at = fields.DateTime(required=True)
    end_at = fields.DateTime(required=True)


class SlotSchema(InvitationSlotSchema):
    capacity = Int32(required=True)
    booked = Int32(required=True)


class AuditionSchema(Schema):
    id = Int32(required=True)
    production_id = Int32(required=True)
    is_verified = Boolean(required=True, metadata={"description": "Run by a verified casting account."})
    role_id = Int32(allow_none=True)
    title = fields.String(required=True)
    mode = fields.Enum(AuditionMode, by_value=True, required=True)
    location = fields.Nested(LocationSchema, allow_none=True)
    meeting_url = fields.String(allow_none=True)
    instructions = fields.String(allow_none=True)
    scheduled_date = fields.Date(allow_none=True)
    duration_minutes = Int32(allow_none=True)
    tape_due_at = fields.DateTime(allow_none=True, metadata={"description": "When self-tapes are due (if set)."})
    timezone = fields.String()
    status = fields.Enum(AuditionStatus, by_value=True, required=True)
    slots = fields.List(fields.Nested(SlotSchema))
    created_at = fields.DateTime()


class ScheduleSchema(Schema):
    start_at = fields.DateTime(required=True, metadata={
        "example": "2026-12-05T10:00:00+05:30", "description": "An offset-less time is read in `timezone`."})
    end_at = fields.DateTime(required=True, metadata={"example": "2026-12-05T13:00:00+05:30"})
    slot_minutes = Int32(required=True, validate=validate.Range(min=5, max=480), metadata={"example": 15})
    capacity_per_slot = Int32(required=True, validate=validate.Range(min=1, max=100),
                              metadata={"example": 2})
    timezone = fields.String(validate=_zone, metadata={"example": "Asia/Kolkata"})

    @validates_schema
    def _window(self, data, **kwargs):
        start, end = data.get("start_at"), data.get("end_at")
        if start and end and (start.tzinfo is None) == (end.tzinfo is None) and start >= end:
            raise ValidationError("Must be after start_at.", "end_at")


class InviteSchema(Schema):
    talent_ids = fields.List(Int32(), required=True, validate=validate.Length(min=1, max=MAX_INVITES),
                             metadata={"example": [101, 102, 103]})


class InviteResultSchema(Schema):
    invited = Int32(required=True)
    skipped = fields.List(fields.Dict(), required=True, metadata={
        "description": "`{talent_id, reason}`; reason is `not_found`, `deleted`, `already_invited`, `duplicate`, "
                       "`verified_contacts_only` (the talent accepts verified casting accounts only, and the sender "
                       "is not verified) or `invite_limit` (this sender invited this talent `INVITE_LIMIT_PER_TALENT` "
                       "times already).",
        "example": [{"talent_id": 999, "reason": "not_found"}]})


class RsvpSchema(Schema):
    response = fields.String(required=True, validate=validate.OneOf(list(RSVP)), metadata={"example": "accept"})
    slot_id = Int32(allow_none=True)
    note = PlainTextField(validate=validate.Length(max=1000), allow_none=True)


class ResultSchema(Schema):
    talent_id = Int32(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    notes = PlainTextField(validate=validate.Length(max=5000), allow_none=True)
    rating = Int32(validate=validate.Range(min=1, max=5), allow_none=True)


class ResultsSchema(ResultSchema):
    """One result (`talent_id`, `outcome`, ...) or `results`: a list of them."""

    talent_id = Int32()
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    results = fields.List(fields.Nested(ResultSchema), validate=validate.Length(min=1, max=MAX_INVITES))

    @validates_schema
    def _one_or_many(self, data, **kwargs):
        if ("results" in data) == ("talent_id" in data or "outcome" in data):
            raise ValidationError("Send `talent_id` and `outcome`, or `results`.", "results")
        if "results" not in data and not ("talent_id" in data and "outcome" in data):
            raise ValidationError("Both `talent_id` and `outcome` are needed.", "outcome")


class HistorySchema(Schema):
    from_status = fields.Enum(InvitationStatus, by_value=True, allow_none=True)
    to_status = fields.Enum(InvitationStatus, by_value=True, required=True)
    by_user_id = Int32(allow_none=True)
    at = fields.DateTime(required=True)
    note = fields.String(allow_none=True)


class InvitationSchema(Schema):
    id = Int32(required=True)
    audition_id = Int32(required=True)
    talent_id = Int32(required=True)
    status = fields.Enum(InvitationStatus, by_value=True, required=True)
    slot = fields.Nested(InvitationSlotSchema, allow_none=True)
    waitlist_position = Int32(allow_none=True)
    history = fields.List(fields.Nested(HistorySchema))
