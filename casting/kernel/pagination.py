"""Paging for every list route: `page`/`per_page` arguments, the `{items, meta}` envelope, and `@paginated`,
the one decorator every offset-paged list view wears. (Messages page by cursor: `casting.messaging`.)"""
from functools import wraps
from math import ceil

from marshmallow import Schema, fields, validate

from casting.kernel.numbers import Boolean, Int32

MAX_PER_PAGE = 100


class PageArgsSchema(Schema):
    page = Int32(load_default=1, validate=validate.Range(min=1),
                 metadata={"description": "1-based page number."})
    per_page = Int32(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE),
                     metadata={"description": f"Items per page, at most {MAX_PER_PAGE}."})


class PageMetaSchema(Schema):
    page = Int32(required=True)
    per_page = Int32(required=True)
    total = Int32(required=True)
    total_pages = Int32(required=True)
    total_exact = Boolean(metadata={
        "description": "False when `total` is a lower bound: talent lists, searches and matches count their "
                       "matches up to 1,000 only (counting a million rows would cost more than the page); "
                       "`total` is then at least 1,000 and `total_pages` follows it. Absent: `total` is exact."})


_page_schemas = {}


def page_of(item_schema):
    """The page schema `{items: [item], meta}` for `item_schema`, made once per item schema."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    if name not in _page_schemas:
        _page_schemas[name] = type(name, (Schema,), {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "meta": fields.Nested(PageMetaSchema, required=True)})
    return _page_schemas[name]


def page(items, total, page_number, per_page, exact=True):
    meta = {"page": page_number, "per_page": per_page, "total": total,
            "total_pages": ceil(total / per_page) if total else 0}
    if not exact:
        meta["total_exact"] = False
    return {"items": items, "meta": meta}


def paginate(query, args):
    """Run a select for one page and wrap it: `{items, meta}`."""
    from casting.kernel.extensions import db

    result = db.paginate(query, page=args["page"], per_page=args["per_page"], error_out=False,
                         max_per_page=MAX_PER_PAGE, count=True)
    return page(result.items, result.total, args["page"], args["per_page"])


def page_example(*items):
    """The documented example of a page holding `items` (the first page of 20)."""
    return {"items": list(items), "meta": {"page": 1, "per_page": 20, "total": len(items), "total_pages": 1}}


def _paging(args, kwargs):
    """The view's parsed `page`/`per_page` arguments (the query schema derives from PageArgsSchema)."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, dict) and "per_page" in value and "page" in value:
            return value
    raise TypeError("a @paginated view takes page arguments: put it below @blp.arguments(<a PageArgsSchema>)")


def paginated(blp, item_schema, example, present=None):
    """Serve and document one page `{items, meta}` of `item_schema`, its example made from one item example
    (or a list of them). Put it where `@blp.response` would go, below `@blp.arguments`.

    The view returns a select (run here for the asked page, counted exactly), a list (paged here, in memory),
    or a page it made itself (`page(...)`: a bounded count, a cached page) or a response, given back as they
    are. `present(items)`, if given, turns the rows of the page into what the schema shows.
    """
    examples = example if isinstance(example, list) else [example]

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            result = view(*args, **kwargs)
            if isinstance(result, dict) or hasattr(result, "status_code"):
                return result
            paging = _paging(args, kwargs)
            if isinstance(result, (list, tuple)):
                start = (paging["page"] - 1) * paging["per_page"]
                shown = page(list(result[start:start + paging["per_page"]]), len(result), paging["page"],
                             paging["per_page"])
            else:
                shown = paginate(result, paging)
            if present is not None:
                shown["items"] = present(shown["items"])
            return shown

        return blp.response(200, page_of(item_schema), example=page_example(*examples))(wrapper)

    return decorator
