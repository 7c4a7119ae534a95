"""`sort=key,-key` on every list: one validated field and the ORDER BY it names.

Keys are column names; a leading `-` sorts descending; empty values come last either way. Unknown keys
are a 422 that lists the allowed ones. The list's default order and its id break ties, so pages never overlap.
"""
from marshmallow import ValidationError, fields


class CommaList(fields.String):
    """A list given as `a,b,c` in a query string."""

    def _deserialize(self, value, attr, data, **kwargs):
        items = [item.strip() for item in super()._deserialize(value, attr, data, **kwargs).split(",")]
        return [item for item in items if item]


def sort_field(keys, example, list_field=CommaList):
    """The `sort` argument over `keys` (comma list in a query, array in a JSON body); the document names
    the keys too (a pattern for the comma list, an enum for the array's items)."""
    def known(value):
        unknown = [key for key in value if key.lstrip("-") not in keys]
        if unknown:
            raise ValidationError(f"Unknown sort key(s) {', '.join(unknown)}; use {', '.join(keys)}.")

    description = f"Sort keys; `-` before a key sorts descending. Keys: {', '.join(keys)}."
    if list_field is CommaList:
        key = f"-?({'|'.join(keys)})"
        return CommaList(validate=known, metadata={"example": example, "pattern": f"^({key}(,{key})*)?$",
                                                   "description": "Comma separated. " + description})
    spelled = fields.String(metadata={"enum": [f"{sign}{name}" for name in keys for sign in ("", "-")]})
    return fields.List(spelled, validate=known, metadata={"example": example.split(","),
                                                          "description": description})


def sort_clauses(model, sort):
    """The ORDER BY clauses that validated `sort` keys name on `model`: empty values last either way (the
    highest day rate first, not the talent who gave none; PostgreSQL alone would put them first descending)."""
    return [_descending(getattr(model, key[1:])) if key.startswith("-") else getattr(model, key).asc()
            for key in sort or []]


def _descending(column):
    # only where the column may be empty: on a column that never is, NULLS LAST would change nothing but
    # could keep PostgreSQL from reading a descending index in order
    return column.desc().nulls_last() if getattr(column.expression, "nullable", False) else column.desc()


def order_by(model, sort, default=()):
    """`sort` first, then the list's `default` order, then the id (newest first) so pages never overlap."""
    return [*sort_clauses(model, sort), *default, model.id.desc()]
