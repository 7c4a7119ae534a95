from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casting.kernel.numbers import Boolean, Int32
from casting.kernel.pagination import PageArgsSchema
from casting.productions.models import ProductionStatus, ProductionType, RoleStatus
from casting.kernel.sorting import sort_field
from casting.talents.models import Gender
from casting.kernel.fields import LanguageSchema, LocationSchema, TitledField
from casting.talents import TALENT_EXAMPLE, TalentSchema
from casting.kernel.fields import PlainTextField

TITLE = validate.Length(min=1, max=200)
NAME = validate.Length(min=1, max=120)


class ProductionInputSchema(Schema):
    title = PlainTextField(required=True, validate=TITLE, metadata={"example": "Monsoon Wedding 2"})
    type = fields.Enum(ProductionType, by_value=True, required=True, metadata={"example": "film"})
    language = PlainTextField(validate=validate.Length(max=40), allow_none=True, metadata={"example": "Hindi"})
    description = PlainTextField(validate=validate.Length(max=10000), allow_none=True)
    status = fields.Enum(ProductionStatus, by_value=True, metadata={
        "description": "New productions start as `draft` (private) unless created straight into `casting`."})
    shoot_start = fields.Date(allow_none=True, metadata={"example": "2027-01-10"})
    shoot_end = fields.Date(allow_none=True, metadata={"example": "2027-03-01"})
    location = fields.Nested(LocationSchema)

    @validates_schema
    def _dates(self, data, **kwargs):
        if data.get("shoot_start") and data.get("shoot_end") and data["shoot_start"] > data["shoot_end"]:
            raise ValidationError("Must not be before shoot_start.", "shoot_end")


class ProductionCreateSchema(ProductionInputSchema):
    status = fields.Enum(ProductionStatus, by_value=True, validate=validate.OneOf(
        [ProductionStatus.DRAFT, ProductionStatus.CASTING]), metadata={
        "description": "`draft` (private, the default) or `casting` (visible to everyone signed in)."})


class ProductionUpdateSchema(ProductionInputSchema):
    """PUT: every field optional; `status` moves draft → casting/closed, casting → closed, closed → casting."""

    title = PlainTextField(validate=TITLE)
    type = fields.Enum(ProductionType, by_value=True)


class OptionalNested(fields.Nested):
    """A nested object stored as `{}` when absent: dumped as null, not as an object missing its required keys."""

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        return super()._serialize(nested_obj or None, attr, obj, **kwargs)


class ProductionSchema(Schema):
    id = Int32(required=True)
    owner_id = Int32(required=True)
    is_verified = Boolean(required=True, metadata={"description": "Posted by a verified casting account."})
    held_for_review = fields.Function(lambda item: item.held_at is not None, required=True, metadata={
        "description": "The scam shield held it from search and matching until the safety team reviews it "
                       "(only its owner and admins see it meanwhile)."})
    title = fields.String(required=True)
    type = fields.Enum(ProductionType, by_value=True, required=True)
    language = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    status = fields.Enum(ProductionStatus, by_value=True, required=True)
    shoot_start = fields.Date(allow_none=True)
    shoot_end = fields.Date(allow_none=True)
    location = OptionalNested(LocationSchema, allow_none=True, metadata={"description": "null when none was given."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ProductionQuerySchema(PageArgsSchema):
    status = fields.Enum(ProductionStatus, by_value=True)
    type = fields.Enum(ProductionType, by_value=True)
    mine = Boolean(metadata={"description": "Only productions you own."})
    sort = sort_field(["created_at", "updated_at", "title", "status", "type", "shoot_start", "shoot_end"],
                      "shoot_start,-created_at")


class RoleQueryArgsSchema(PageArgsSchema):
    sort = sort_field(["name", "created_at", "updated_at", "status", "pay_inr", "age_min", "age_max"], "-pay_inr,name")


class RoleInputSchema(Schema):
    name = PlainTextField(required=True, validate=NAME, metadata={"example": "Young Radha"})
    description = PlainTextField(validate=validate.Length(max=10000), allow_none=True)
    gender = fields.Enum(Gender, by_value=True, allow_none=True, metadata={"example": "female"})
    age_min = Int32(validate=validate.Range(min=0, max=120), allow_none=True, metadata={"example": 20})
    age_max = Int32(validate=validate.Range(min=0, max=120), allow_none=True, metadata={"example": 28})
    skills = fields.List(PlainTextField(validate=validate.Length(min=1, max=50)), validate=validate.Length(max=30),
                         metadata={"example": ["Acting", "Kathak"]})
    languages = fields.List(fields.Nested(LanguageSchema), validate=validate.Length(max=10), metadata={
        "description": "Languages the part needs, each with the least proficiency that will do.",
        "example": [{"name": "Marathi", "proficiency": "fluent"}]})
    city = TitledField(validate=validate.Length(max=80), allow_none=True, metadata={"example": "Mumbai"})
    city_required = Boolean(metadata={
        "description": "Only talent in `city` match (otherwise being there only helps the score)."})
    pay_inr = Int32(validate=validate.Range(min=0, max=1_000_000_000), allow_none=True)

    @validates_schema
    def _ages(self, data, **kwargs):
        if data.get("age_min") is not None and data.get("age_max") is not None and data["age_min"] > data["age_max"]:
            raise ValidationError("Must not be above age_max.", "age_min")


class RoleUpdateSchema(RoleInputSchema):
    """PUT: every field optional; `status` moves open → filled/closed, filled → open/closed, closed → open."""

    name = PlainTextField(validate=NAME)
    status = fields.Enum(RoleStatus, by_value=True)


class RoleSchema(Schema):
    id = Int32(required=True)
    production_id = Int32(required=True)
    name = fields.String(required=True)
    description = fields.String(allow_none=True)
    gender = fields.Enum(Gender, by_value=True, allow_none=True)
    age_min = Int32(allow_none=True)
    age_max = Int32(allow_none=True)
    skills = fields.List(fields.String())
    languages = fields.List(fields.Nested(LanguageSchema))
    city = fields.String(allow_none=True)
    city_required = Boolean()
    status = fields.Enum(RoleStatus, by_value=True, required=True)
    pay_inr = Int32(allow_none=True)
    is_verified = Boolean(required=True, metadata={"description": "Posted by a verified casting account."})
    held_for_review = fields.Function(lambda item: item.held_at is not None, required=True, metadata={
        "description": "The scam shield held it from search and matching until the safety team reviews it "
                       "(only its owner and admins see it meanwhile)."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class MatchSchema(Schema):
    talent = fields.Nested(TalentSchema, required=True)
    score = fields.Float(required=True, metadata={"description": "0..1, higher is a better fit."})
    reasons = fields.List(fields.String(), required=True, metadata={
        "description": "Short sentences: what fits and what is missing."})


PRODUCTION_EXAMPLE = {
    "is_verified": True, "held_for_review": False,
    "id": 3, "owner_id": 5, "title": "Monsoon Wedding 2", "type": "film", "language": "Hindi",
    "description": "A family drama in Delhi.", "status": "casting", "shoot_start": "2027-01-10",
    "shoot_end": "2027-03-01", "location": {"city": "Delhi", "state": "Delhi", "country": "India"},
    "created_at": "2026-11-24T10:00:00+00:00", "updated_at": "2026-11-24T10:00:00+00:00"}
ROLE_EXAMPLE = {
    "is_verified": True, "held_for_review": False,
    "id": 11, "production_id": 3, "name": "Young Radha", "description": "The bride's sister; dances at the sangeet.",
    "gender": "female", "age_min": 20, "age_max": 28, "skills": ["Acting", "Kathak"],
    "languages": [{"name": "Hindi", "proficiency": "fluent"}], "city": "Delhi", "city_required": False,
    "status": "open", "pay_inr": 25000, "created_at": "2026-11-24T10:00:00+00:00",
    "updated_at": "2026-11-24T10:00:00+00:00"}
MATCH_EXAMPLE = {"talent": TALENT_EXAMPLE, "score": 0.8125, "reasons": [
    "has Acting", "missing skill: Kathak", "speaks Hindi (native)", "based in Delhi", "5 years of experience"]}
