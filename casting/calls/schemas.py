from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casting.calls.models import CallCategory, CallStatus, Eligibility, SubmissionStatus
from casting.calls.services import MAX_BULK
from casting.notifications.models import Channel
from casting.kernel.numbers import Boolean, Int32, members
from casting.kernel.pagination import PageArgsSchema
from casting.productions.models import ProductionType
from casting.productions import ROLE_EXAMPLE, RoleSchema
from casting.kernel.sorting import sort_field
from casting.talents.models import Gender
from casting.talents import MediaSchema, TALENT_EXAMPLE, TalentSchema
from casting.tapes import TapeBriefSchema
from casting.kernel.fields import PlainTextField

QUESTION = PlainTextField(validate=validate.Length(min=1, max=300))
ANSWER = PlainTextField(validate=validate.Length(max=2000))


class CallInputSchema(Schema):
    category = fields.Enum(CallCategory, by_value=True, metadata={"example": "supporting"})
    eligibility = fields.Enum(Eligibility, by_value=True, metadata={
        "description": "Who may submit: `all` talent (themselves or through their agent), `verified` talent only, "
                       "or `agents` only.", "example": "all"})
    deadline = fields.AwareDateTime(default_timezone=None, metadata={
        "description": "When submissions stop (with an offset); in the future, at most 365 days ahead.",
        "example": "2026-12-20T18:00:00+05:30"})
    details = PlainTextField(validate=validate.Length(max=5000), allow_none=True, metadata={
        "example": "Prepare the sangeet scene; a 60-second self-tape helps."})
    requires_headshot = Boolean(metadata={"description": "Default true."})
    portfolio_min = Int32(validate=validate.Range(min=0, max=10), metadata={
        "description": "Portfolio images a submission must pick (0-10, default 0)."})
    requires_cover_note = Boolean()
    questions = fields.List(QUESTION, validate=validate.Length(max=5), metadata={
        "description": "Up to five questions; a submission answers each, in order.",
        "example": ["Can you do a Lucknowi accent?"]})
    submission_cap = Int32(validate=validate.Range(min=1, max=100_000), allow_none=True, metadata={
        "description": "Stop taking submissions after this many (withdrawn ones free their place)."})
    remote = Boolean(metadata={"description": "The part can be auditioned for remotely."})
    self_tape = Boolean(metadata={"description": "The call asks for (or welcomes) a self-tape."})


class CallCreateSchema(CallInputSchema):
    role_id = Int32(required=True, metadata={"example": 11})
    deadline = fields.AwareDateTime(required=True, metadata={
        "description": "When submissions stop (with an offset); in the future, at most 365 days ahead.",
        "example": "2026-12-20T18:00:00+05:30"})


class CallUpdateSchema(CallInputSchema):
    """PUT: every field optional; `status` closes an open call, or reopens a closed one before its deadline."""

    status = fields.Enum(CallStatus, by_value=True, metadata={"example": "closed"})


class ProductionBriefSchema(Schema):
    id = Int32(required=True)
    title = fields.String(required=True)
    type = fields.Enum(ProductionType, by_value=True, required=True)
    language = fields.String(allow_none=True)
    location = fields.Dict()
    is_verified = Boolean(required=True, metadata={"description": "Posted by a verified casting account."})


class CallSchema(Schema):
    id = Int32(required=True)
    role_id = Int32(required=True)
    production_id = Int32(required=True)
    status = fields.Enum(CallStatus, by_value=True, required=True)
    is_open = fields.Function(lambda call: _is_open(call), required=True, metadata={
        "description": "Taking submissions now: open and before the deadline."})
    category = fields.Enum(CallCategory, by_value=True, required=True)
    eligibility = fields.Enum(Eligibility, by_value=True, required=True)
    deadline = fields.DateTime(required=True)
    details = fields.String(allow_none=True)
    requires_headshot = Boolean(required=True)
    portfolio_min = Int32(required=True)
    requires_cover_note = Boolean(required=True)
    questions = fields.List(fields.String(), required=True)
    submission_cap = Int32(allow_none=True)
    submission_count = Int32(required=True, metadata={"description": (
        "Submissions so far (not withdrawn): counted as each is taken when the call has a cap, else by "
        "the job that follows each submission (within moments); a withdrawal counts at once.")})
    remote = Boolean(required=True)
    self_tape = Boolean(required=True)
    held_for_review = fields.Function(lambda call: call.held_at is not None, required=True, metadata={
        "description": "The scam shield held it until the safety team reviews it (only its owner and admins see "
                       "it meanwhile)."})
    role = fields.Nested(RoleSchema, required=True)
    production = fields.Nested(ProductionBriefSchema, required=True)
    closed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


def _is_open(call):
    from casting.calls.services import is_open

    return is_open(call)


class CallQuerySchema(PageArgsSchema):
    q = fields.String(validate=validate.Length(max=100), metadata={
        "description": "Words in the role's name or description or the production's title."})
    city = fields.String(validate=validate.Length(max=80), metadata={"example": "Mumbai"})
    category = fields.Enum(CallCategory, by_value=True)
    production_type = fields.Enum(ProductionType, by_value=True)
    language = fields.String(validate=validate.Length(max=40), metadata={
        "description": "The production's language, or one the role asks for.", "example": "Marathi"})
    gender = fields.Enum(Gender, by_value=True)
    pay_min = Int32(validate=validate.Range(min=0, max=1_000_000_000), metadata={"description": "Rupees."})
    pay_max = Int32(validate=validate.Range(min=0, max=1_000_000_000), metadata={"description": "Rupees."})
    deadline_after = fields.AwareDateTime(metadata={"example": "2026-12-01T00:00:00+05:30"})
    deadline_before = fields.AwareDateTime(metadata={"example": "2026-12-31T00:00:00+05:30"})
    remote = Boolean()
    self_tape = Boolean()
    mine = Boolean(metadata={"description": "Your productions' calls, open or closed (casting teams)."})
    sort = sort_field(["deadline", "created_at", "pay_inr"], "-created_at")


class ForMeQuerySchema(PageArgsSchema):
    talent_id = Int32(validate=validate.Range(min=1), metadata={
        "description": "Agents: the represented talent to match (talent: leave out, your own profile is used)."})


class ForMeSchema(Schema):
    call = fields.Nested(CallSchema, required=True)
    score = fields.Float(required=True, metadata={"description": "0..1, how well your profile fits the role."})
    reasons = fields.List(fields.String(), required=True, metadata={
        "description": "Short sentences, to you: what fits and what is missing."})


class SubmitSchema(Schema):
    talent_id = Int32(validate=validate.Range(min=1), metadata={
        "description": "Agents: the represented talent submitted (talent: leave out).", "example": 101})
    headshot_id = Int32(validate=validate.Range(min=1), allow_none=True, metadata={
        "description": "The talent's headshot (media id); left out, their current headshot is used."})
    portfolio_ids = fields.List(Int32(validate=validate.Range(min=1)), validate=validate.Length(max=10), metadata={
        "description": "Portfolio images of the talent's to show (media ids).", "example": [7, 9]})
    cover_note = PlainTextField(validate=validate.Length(max=3000), allow_none=True, metadata={
        "example": "I grew up in Lucknow and trained in Kathak for eight years."})
    answers = fields.List(ANSWER, validate=validate.Length(max=5), metadata={
        "description": "One answer per question of the call, in order.", "example": ["Yes, natively."]})


class CallBriefSchema(Schema):
    id = Int32(required=True)
    role_id = Int32(required=True)
    role_name = fields.String(required=True)
    production_title = fields.String(required=True)
    deadline = fields.DateTime(required=True)
    is_open = Boolean(required=True)


class SubmissionSchema(Schema):
    """A submission as its applicant (the talent or their agent) sees it."""

    id = Int32(required=True)
    call_id = Int32(required=True)
    talent_id = Int32(required=True)
    submitted_by = Int32(allow_none=True)
    status = fields.Enum(SubmissionStatus, by_value=True, required=True)
    headshot = fields.Nested(MediaSchema, allow_none=True)
    portfolio = fields.List(fields.Nested(MediaSchema), required=True)
    cover_note = fields.String(allow_none=True)
    answers = fields.List(fields.String(), required=True)
    self_tape_id = Int32(allow_none=True, metadata={
        "description": "The self-tape sent with the submission (`POST /api/tapes/{id}/submit`); null: none."})
    self_tape = fields.Nested(TapeBriefSchema, allow_none=True, metadata={
        "description": "That tape's status, length, poster and (once ready) a signed link to watch it."})
    call = fields.Nested(CallBriefSchema, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    withdrawn_at = fields.DateTime(allow_none=True)


class NoteInputSchema(Schema):
    body = PlainTextField(validate=validate.Length(min=1, max=5000),
                          metadata={"example": "Strong dancer; check Hindi."})
    rating = Int32(validate=validate.Range(min=1, max=5), metadata={"example": 4})

    @validates_schema
    def _something(self, data, **kwargs):
        if data.get("body") is None and data.get("rating") is None:
            raise ValidationError("Give a body, a rating or both.", "body")


class NoteSchema(Schema):
    id = Int32(required=True)
    submission_id = Int32(required=True)
    author_id = Int32(allow_none=True)
    body = fields.String(allow_none=True)
    rating = Int32(allow_none=True)
    created_at = fields.DateTime(required=True)


class ReviewedSubmissionSchema(SubmissionSchema):
    """A submission as the casting team sees it: with the talent, the match score and the private notes."""

    talent = fields.Nested(TalentSchema, allow_none=True, metadata={"description": "Null if the profile was deleted."})
    match_score = fields.Float(required=True, metadata={"description": "0..1, as the role's matches score it."})
    rating = Int32(allow_none=True, metadata={"description": "The team's latest rating, 1-5 (private)."})
    notes = fields.List(fields.Nested(NoteSchema), required=True, metadata={"description": "Private to the team."})


class SubmissionQuerySchema(PageArgsSchema):
    status = fields.Enum(SubmissionStatus, by_value=True, metadata={
        "description": "Only this status (withdrawn ones are left out unless asked for)."})
    city = fields.String(validate=validate.Length(max=80))
    age_min = Int32(validate=validate.Range(min=0, max=120), metadata={
        "description": "Playing age (or, without one, age) overlapping the range, as in talent search."})
    age_max = Int32(validate=validate.Range(min=0, max=120))
    verified = Boolean(metadata={"description": "Only verified (or only unverified) talent."})
    has_self_tape = Boolean()
    sort = sort_field(["created_at", "match_score", "rating"], "-match_score")


class MySubmissionQuerySchema(PageArgsSchema):
    status = fields.Enum(SubmissionStatus, by_value=True)
    sort = sort_field(["created_at", "updated_at"], "-created_at")


class ReviewSchema(Schema):
    submission_ids = fields.List(Int32(validate=validate.Range(min=1)), required=True,
                                 validate=validate.Length(min=1, max=MAX_BULK), metadata={"example": [41, 42, 43]})
    status = fields.Enum(SubmissionStatus, by_value=True, required=True, validate=members(
        SubmissionStatus.VIEWED, SubmissionStatus.SHORTLISTED, SubmissionStatus.DECLINED), metadata={
        "description": "`viewed`, `shortlisted` or `declined`.", "example": "shortlisted"})


class ReviewResultSchema(Schema):
    updated = Int32(required=True)
    skipped = fields.List(fields.Dict(), required=True, metadata={
        "description": "`{submission_id, reason}`; reason is `not_found`, `duplicate`, `unchanged` or "
                       "`not_allowed` (withdrawn, invited, or back to `viewed`).",
        "example": [{"submission_id": 44, "reason": "not_allowed"}]})


class CallInviteSchema(Schema):
    audition_id = Int32(required=True, validate=validate.Range(min=1), metadata={"example": 4})
    submission_ids = fields.List(Int32(validate=validate.Range(min=1)), validate=validate.Length(min=1, max=MAX_BULK),
                                 metadata={"description": "Shortlisted submissions to invite (default: every "
                                                          "shortlisted one).", "example": [41, 42]})


class CallInviteResultSchema(Schema):
    invited = Int32(required=True)
    skipped = fields.List(fields.Dict(), required=True, metadata={
        "description": "`{submission_id, talent_id, reason}`: `not_found`, `not_shortlisted`, or a reason of the "
                       "audition's bulk invite (`already_invited`, `deleted`, `verified_contacts_only`, "
                       "`invite_limit`).",
        "example": [{"submission_id": 44, "talent_id": 7, "reason": "already_invited"}]})


class DigestInputSchema(Schema):
    enabled = Boolean(required=True, metadata={"example": True})
    channel = fields.Enum(Channel, by_value=True, validate=members(Channel.WHATSAPP, Channel.EMAIL),
                          metadata={"description": "`whatsapp` or `email` (default: your preferred channel).",
                                    "example": "whatsapp"})


class DigestSchema(Schema):
    enabled = Boolean(required=True)
    channel = fields.Enum(Channel, by_value=True, allow_none=True)
    last_sent_at = fields.DateTime(allow_none=True)


CALL_EXAMPLE = {
    "id": 21, "role_id": 11, "production_id": 3, "status": "open", "is_open": True, "category": "supporting",
    "eligibility": "all", "deadline": "2026-12-20T12:30:00+00:00",
    "details": "Prepare the sangeet scene; a 60-second self-tape helps.", "requires_headshot": True,
    "portfolio_min": 1, "requires_cover_note": False, "questions": ["Can you do a Lucknowi accent?"],
    "submission_cap": 500, "submission_count": 42, "remote": False, "self_tape": True, "held_for_review": False,
    "role": ROLE_EXAMPLE, "production": {"id": 3, "title": "Monsoon Wedding 2", "type": "film", "language": "Hindi",
                                         "location": {"city": "Delhi"}, "is_verified": True},
    "closed_at": None, "created_at": "2026-11-24T10:00:00+00:00", "updated_at": "2026-11-24T10:00:00+00:00"}
FOR_ME_EXAMPLE = {"call": CALL_EXAMPLE, "score": 0.7812, "reasons": [
    "you have Acting", "the role asks for Kathak, which is not on your profile", "you speak Hindi (native)",
    "the role asks for 20\u201328; your playing age is 24\u201330", "the role is in Delhi; you are based in Mumbai",
    "you have 5 years of experience"]}
MEDIA_PICK_EXAMPLE = TALENT_EXAMPLE["headshot"]
SUBMISSION_EXAMPLE = {
    "id": 41, "call_id": 21, "talent_id": 101, "submitted_by": 42, "status": "shortlisted",
    "headshot": MEDIA_PICK_EXAMPLE, "portfolio": [], "cover_note": "I trained in Kathak for eight years.",
    "answers": ["Yes, natively."], "self_tape_id": None,
    "call": {"id": 21, "role_id": 11, "role_name": "Young Radha", "production_title": "Monsoon Wedding 2",
             "deadline": "2026-12-20T12:30:00+00:00", "is_open": True},
    "created_at": "2026-11-25T10:00:00+00:00", "updated_at": "2026-11-26T10:00:00+00:00", "withdrawn_at": None}
NOTE_EXAMPLE = {"id": 3, "submission_id": 41, "author_id": 5, "body": "Strong dancer; check Hindi.", "rating": 4,
                "created_at": "2026-11-26T10:00:00+00:00"}
REVIEWED_EXAMPLE = {**SUBMISSION_EXAMPLE, "talent": TALENT_EXAMPLE, "match_score": 0.8125, "rating": 4,
                    "notes": [NOTE_EXAMPLE]}
