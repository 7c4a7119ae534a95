from datetime import date

from flask import current_app
from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from casting.kernel.numbers import Boolean, Int32
from casting.kernel.pagination import PageArgsSchema
from casting.kernel.sorting import CommaList, sort_field
from config import embedding_dim
from casting.talents.models import Availability, Gender, MediaKind
from casting.kernel.fields import PROFICIENCIES, LanguageSchema, LocationSchema, PlainTextField

SORT_KEYS = ["stage_name", "created_at", "updated_at", "experience_years", "day_rate_inr", "height_cm"]


def _past(value):
    if value > date.today() or value.year < 1900:
        raise ValidationError("Must be a real date of birth in the past.")


class TalentInputSchema(Schema):
    stage_name = PlainTextField(required=True, validate=validate.Length(min=1, max=120),
                                metadata={"example": "Asha Rao"})
    bio = PlainTextField(validate=validate.Length(max=4000), allow_none=True,
                         metadata={"example": "Kathak-trained actor; theatre in Pune, two web series."})
    gender = fields.Enum(Gender, by_value=True, allow_none=True, metadata={"example": "female"})
    date_of_birth = fields.Date(validate=_past, allow_none=True, metadata={"example": "1998-04-12"})
    playing_age_min = Int32(validate=validate.Range(min=0, max=100), allow_none=True)
    playing_age_max = Int32(validate=validate.Range(min=0, max=100), allow_none=True)
    height_cm = Int32(validate=validate.Range(min=40, max=250), allow_none=True, metadata={"example": 165})
    location = fields.Nested(LocationSchema, metadata={"example": {"city": "Mumbai", "state": "Maharashtra",
                                                                   "country": "India"}})
    skills = fields.List(PlainTextField(validate=validate.Length(min=1, max=50)), validate=validate.Length(max=50),
                         metadata={"example": ["Acting", "Kathak", "Horse riding"]})
    languages = fields.List(fields.Nested(LanguageSchema), validate=validate.Length(max=20))
    experience_years = Int32(validate=validate.Range(min=0, max=80), allow_none=True)
    availability_status = fields.Enum(Availability, by_value=True, metadata={"example": "available"})
    day_rate_inr = Int32(validate=validate.Range(min=0, max=100_000_000), allow_none=True,
                         metadata={"example": 15000})

    @validates_schema
    def _playing_age(self, data, **kwargs):
        low, high = data.get("playing_age_min"), data.get("playing_age_max")
        if low is not None and high is not None and low > high:
            raise ValidationError("Must not be above playing_age_max.", "playing_age_min")


class TalentUpdateSchema(TalentInputSchema):
    """PUT: every field optional; the ones left out stay as they are."""

    stage_name = PlainTextField(validate=validate.Length(min=1, max=120), metadata={"example": "Asha Rao"})
    is_verified = Boolean(metadata={"description": "Admins only; anyone else gets a 403."})
    is_featured = Boolean(metadata={"description": "Admins only; anyone else gets a 403."})


class MediaUploadSchema(Schema):
    """The multipart body of an upload: the image and its kind."""

    kind = fields.Enum(MediaKind, by_value=True, required=True, metadata={
        "description": "`headshot` (one per talent: a new one replaces the old) or `portfolio`."})
    file = Upload(required=True, metadata={
        "description": "A JPEG, PNG or WebP image (judged by its content), at most MEDIA_MAX_BYTES (10 MB) "
                       "and MEDIA_MAX_PIXELS (40 megapixels, read from its header; 413 MEDIA_002 beyond). "
                       "It is re-encoded without EXIF/GPS metadata and a thumbnail is made."})


class MediaSchema(Schema):
    id = Int32(required=True)
    kind = fields.Enum(MediaKind, by_value=True, required=True)
    url = fields.String(required=True, metadata={"description": "Expires: at least MEDIA_URL_TTL/2 from now."})
    thumbnail_url = fields.String(allow_none=True, metadata={"description": "A WebP at most 400 px on a side."})
    content_type = fields.String(required=True)
    width = Int32(allow_none=True)
    height = Int32(allow_none=True)
    created_at = fields.DateTime(required=True)


class TalentSchema(Schema):
    id = Int32(required=True)
    user_id = Int32(allow_none=True)
    stage_name = fields.String(required=True)
    bio = fields.String(allow_none=True)
    gender = fields.Enum(Gender, by_value=True, allow_none=True)
    date_of_birth = fields.Date(allow_none=True, metadata={
        "description": "Shown only to the talent, their agent and admins."})
    age = Int32(allow_none=True)
    playing_age_min = Int32(allow_none=True)
    playing_age_max = Int32(allow_none=True)
    height_cm = Int32(allow_none=True)
    location = fields.Nested(LocationSchema)
    skills = fields.List(fields.String())
    languages = fields.List(fields.Nested(LanguageSchema))
    experience_years = Int32(allow_none=True)
    availability_status = fields.Enum(Availability, by_value=True)
    day_rate_inr = Int32(allow_none=True)
    is_verified = Boolean()
    is_featured = Boolean()
    headshot = fields.Nested(MediaSchema, allow_none=True, metadata={"description": "The headshot, if any."})
    media = fields.List(fields.Nested(MediaSchema), metadata={
        "description": "Every image of the talent, the headshot included, oldest first."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


TALENT_EXAMPLE = {
    "id": 7, "user_id": 42, "stage_name": "Asha Rao", "bio": "Kathak-trained actor; theatre in Pune.",
    "gender": "female", "age": 28, "playing_age_min": 22, "playing_age_max": 30, "height_cm": 165,
    "location": {"city": "Mumbai", "state": "Maharashtra", "country": "India"},
    "skills": ["Acting", "Kathak"], "languages": [{"name": "Marathi", "proficiency": "native"}],
    "experience_years": 5, "availability_status": "available", "day_rate_inr": 15000, "is_verified": False,
    "is_featured": False, "headshot": None, "media": [], "created_at": "2026-11-24T10:00:00+00:00",
    "updated_at": "2026-11-24T10:00:00+00:00"}


def _language_levels(values):
    """`Marathi` or `Marathi:fluent` (at least that proficiency), each level one of PROFICIENCIES."""
    wrong = sorted({value for value in values if ":" in value
                    and value.partition(":")[2].strip().lower() not in PROFICIENCIES})
    if wrong:
        raise ValidationError(f"Unknown proficiency in {', '.join(wrong)}; after `:` use {', '.join(PROFICIENCIES)}.")


def _filters(list_field):
    """The filter fields, with lists as `list_field` (comma strings in a query, arrays in a body)."""
    return {
        "q": fields.String(validate=validate.Length(min=1, max=100), metadata={"example": "Priyanka"}),
        "city": fields.String(validate=validate.Length(max=80)),
        "state": fields.String(validate=validate.Length(max=80)),
        "skills": list_field(metadata={"description": "All of these skills."}),
        "skills_any": list_field(metadata={"description": "Any of these skills."}),
        "languages": list_field(validate=_language_levels, metadata={
            "description": "All of these languages; `Marathi:fluent` asks for at least that proficiency "
                           f"({' < '.join(PROFICIENCIES)}), as role matching does.",
            "example": "Marathi:fluent,Hindi" if list_field is CommaList else ["Marathi:fluent", "Hindi"]}),
        "gender": fields.Enum(Gender, by_value=True),
        "age_min": Int32(validate=validate.Range(min=0, max=120)),
        "age_max": Int32(validate=validate.Range(min=0, max=120)),
        "height_min": Int32(validate=validate.Range(min=0, max=300)),
        "height_max": Int32(validate=validate.Range(min=0, max=300)),
        "availability_status": fields.Enum(Availability, by_value=True),
        "experience_min": Int32(validate=validate.Range(min=0, max=80)),
        "is_verified": Boolean(),
        "sort": sort_field(SORT_KEYS, "-created_at,stage_name", list_field),
    }


def _embedding_size(value):
    """A vector of EMBEDDING_DIM finite numbers, not all zero (a zero vector has no cosine)."""
    dim = current_app.config["EMBEDDING_DIM"]
    if len(value) != dim:
        raise ValidationError(f"Must have {dim} numbers (EMBEDDING_DIM); got {len(value)}.")
    if not any(value):
        raise ValidationError("Must not be all zeros: a zero vector has no direction to compare.")


HALF_MAX = 65504.0  # the largest half-precision number: the HNSW index keeps vectors as halfvec


def embedding_field(metadata=None, **kwargs):
    dim = embedding_dim()  # the document says the length the check below asks for
    number = fields.Float(allow_nan=False, validate=validate.Range(min=-HALF_MAX, max=HALF_MAX))
    return fields.List(number, validate=_embedding_size,
                       metadata={"minItems": dim, "maxItems": dim, **(metadata or {})}, **kwargs)


def _known_model(value):
    model = current_app.config["EMBEDDING_MODEL"]
    if value != model:
        raise ValidationError(f"Embeddings here are made with {model!r} (EMBEDDING_MODEL); got {value!r}.")


def _known_dimension(value):
    dim = current_app.config["EMBEDDING_DIM"]
    if value != dim:
        raise ValidationError(f"Embeddings here have dimension {dim} (EMBEDDING_DIM); got {value}.")


class EmbeddingInputSchema(Schema):
    """PUT .../embedding: what the ML service made, and with what (checked against the settings)."""

    model = fields.String(required=True, validate=_known_model, metadata={
        "description": "The model that made the vector; must be EMBEDDING_MODEL.", "example": "all-MiniLM-L6-v2"})
    dimension = Int32(required=True, validate=_known_dimension, metadata={
        "description": "The vector's dimension; must be EMBEDDING_DIM (384).", "example": 384})
    embedding = embedding_field(required=True, metadata={
        "description": "The vector: `dimension` finite numbers, not all zero (cosine similarity is used)."})


class EmbeddingSchema(Schema):
    model = fields.String(required=True)
    dimension = Int32(required=True)
    updated_at = fields.DateTime(required=True)


TalentQueryArgsSchema = PageArgsSchema.from_dict(_filters(CommaList), name="TalentQueryArgsSchema")
_SearchFilters = PageArgsSchema.from_dict(
    _filters(lambda **kwargs: fields.List(fields.String(validate=validate.Length(max=50)), **kwargs)),
    name="TalentSearchFiltersSchema")


class TalentSearchSchema(_SearchFilters):
    """The list filters as a body, plus vector search: `similar_to` a talent or near an `embedding`."""

    similar_to = Int32(validate=validate.Range(min=1), metadata={
        "description": "A talent id: rank by cosine similarity to that talent's embedding (the talent itself "
                       "is left out). The talent must have an embedding (else 422)."})
    embedding = embedding_field(metadata={
        "description": "A vector of EMBEDDING_DIM numbers (made with EMBEDDING_MODEL): rank by cosine "
                       "similarity to it. Only talent with an embedding are returned; every other filter and "
                       "paging apply. With `sort`, the sort keys order first and similarity breaks ties."})

    @validates_schema
    def _one_vector(self, data, **kwargs):
        if data.get("similar_to") is not None and data.get("embedding") is not None:
            raise ValidationError("Give `similar_to` or `embedding`, not both.", "embedding")


MEDIA_EXAMPLE = {"id": 12, "kind": "headshot", "url": "https://casting-media.s3.ap-south-1.amazonaws.com/"
                 "talents/7/4be1c2.jpg?X-Amz-Expires=3600&X-Amz-Signature=...",
                 "thumbnail_url": "https://casting-media.s3.ap-south-1.amazonaws.com/talents/7/4be1c2-thumb.webp?...",
                 "content_type": "image/jpeg", "width": 1200, "height": 1600, "created_at": "2026-11-24T10:00:00+00:00"}


# A whole vector, as the document says one is (EMBEDDING_DIM numbers, not all zero).
EMBEDDING_EXAMPLE = {"model": "all-MiniLM-L6-v2", "dimension": embedding_dim(),
                     "embedding": [round((i * 37 % 200 - 100) / 1000, 3) for i in range(embedding_dim())]}
EMBEDDING_STORED_EXAMPLE = {"model": "all-MiniLM-L6-v2", "dimension": 384, "updated_at": "2026-11-30T10:00:00+00:00"}
