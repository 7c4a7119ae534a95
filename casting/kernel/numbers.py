"""Integers as the database stores them: one bound for path parts, query and body fields alike.

PostgreSQL's `integer` holds 32 bits and `bigint` 64; a larger number reaching a query is a
database error (a 500). So every integer the API accepts is bounded where it enters: path parts by
the app-wide `int` converter (beyond the range: no such thing, 404), query and body fields by the
`Int32`/`Int64` fields (beyond the range: 422).
"""
from marshmallow import fields, validate
from werkzeug.routing import IntegerConverter

INT32_MAX = 2 ** 31 - 1
INT64_MAX = 2 ** 63 - 1


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that matches only what an `integer` column can hold: a larger id is simply not found."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)


class Int32(fields.Integer):
    """An integer that fits PostgreSQL's `integer` (ids, counts, page numbers); tighter `validate` ranges add."""

    bounds = validate.Range(min=-INT32_MAX - 1, max=INT32_MAX)

    def __init__(self, **kwargs):
        given = kwargs.pop("validate", None)
        given = [given] if callable(given) else list(given or [])
        super().__init__(validate=[self.bounds, *given], strict=kwargs.pop("strict", False), **kwargs)

    def _validated(self, value):
        # A JSON number with a fraction or an exponent (`2.5`, `1e3`) is not an integer, as the document says:
        # marshmallow would truncate it. A query string's "7" still parses.
        if isinstance(value, float):
            raise self.make_error("invalid")
        return super()._validated(value)


class Int64(Int32):
    """An integer that fits PostgreSQL's `bigint` (message ids)."""

    bounds = validate.Range(min=-INT64_MAX - 1, max=INT64_MAX)


def register_converters(app):
    """Make `<int:...>` bounded for every route; call before any blueprint is registered."""
    app.url_map.converters["int"] = BoundedIntConverter


class Boolean(fields.Boolean):
    """`true`/`false`: a JSON number (`0`, `1`) is not a boolean, as the document says (marshmallow takes
    them); a query string's `true`/`false`/`1`/`0` still parse."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, (bool, str)):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


def members(*choices):
    """A validator for an enum field that takes only `choices`; its 422 names their values, as clients send them."""
    return validate.OneOf(choices, labels=[choice.value for choice in choices], error="Must be one of: {labels}.")
