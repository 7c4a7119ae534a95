"""Marshmallow fields and schemas that several domains share: plain text, title-cased names, a location and
a spoken language. Kernel code: it imports no domain."""
from marshmallow import Schema, fields, validate

from casting.kernel.text import plain

PLAIN_TEXT = ("Plain text: tags, comments and scripts are removed and everything else is kept as typed "
              "(`a<b`, `&` and `&lt;` included, never HTML-escaped); escape it when you render it.")
PROFICIENCIES = ["basic", "conversational", "fluent", "native"]


class PlainTextField(fields.String):
    """Free text with markup and scripts removed, otherwise as typed (see `casting.kernel.text.plain`)."""

    def __init__(self, *args, metadata=None, **kwargs):
        metadata = dict(metadata or {})
        metadata["description"] = " ".join(filter(None, (metadata.get("description"), PLAIN_TEXT)))
        super().__init__(*args, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        typed = super()._deserialize(value, attr, data, **kwargs)
        self._validate(typed)  # what was sent keeps to the documented limits (`maxLength`), and then what is kept
        return plain(typed)


class TitledField(PlainTextField):
    """Free text title-cased, so `mumbai` and `Mumbai` (or `hindi` and `Hindi`) are one value."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip().title()


class LocationSchema(Schema):
    city = TitledField(required=True, validate=validate.Length(min=1, max=80), metadata={"example": "Mumbai"})
    state = TitledField(validate=validate.Length(max=80), metadata={"example": "Maharashtra"})
    country = PlainTextField(load_default="India", validate=validate.Length(max=80), metadata={"example": "India"})


class LanguageSchema(Schema):
    name = TitledField(required=True, validate=validate.Length(min=1, max=40), metadata={"example": "Marathi"})
    proficiency = fields.String(required=True, validate=validate.OneOf(PROFICIENCIES),
                                metadata={"example": "native"})
