from functools import lru_cache

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from casting.kernel.jsonprovider import dumps_bytes, json_response
from casting.meta.catalog import CATEGORIES, CITIES, LANGUAGES, SKILLS
from casting.kernel.openapi import error_responses
from casting.kernel.pagination import PageArgsSchema, page, page_of, paginated

DAY = 86400
NAME_LISTS = {"skills": SKILLS, "languages": LANGUAGES, "categories": CATEGORIES}
blp = Blueprint("meta", __name__, url_prefix="/api/meta",
                description="Suggestion lists for forms and filters: public, cached for a day, never limiting.")


class NameSchema(Schema):
    name = fields.String(required=True)


class CitySchema(Schema):
    city = fields.String(required=True)
    state = fields.String(required=True)
    country = fields.String(required=True)


@lru_cache(maxsize=512)
def _page_json(kind, page_number, per_page):
    """A page of a fixed list, serialised once per process: the lists are part of the code."""
    schema, items = (CitySchema, [{"city": city, "state": state, "country": "India"} for city, state in CITIES]) \
        if kind == "cities" else (NameSchema, [{"name": name} for name in NAME_LISTS[kind]])
    start = (page_number - 1) * per_page
    return dumps_bytes(page_of(schema)().dump(page(items[start:start + per_page], len(items), page_number, per_page)))


def _served(kind, args):
    return json_response(_page_json(kind, args["page"], args["per_page"]))


@blp.after_request
def _cache_for_a_day(response):
    if response.status_code == 200:
        response.cache_control.public = True
        response.cache_control.max_age = DAY
    return response


@blp.route("/<any(skills, languages, categories):kind>")
class NameListViews(MethodView):
    @blp.doc(security=[])
    @blp.arguments(PageArgsSchema, location="query")
    @paginated(blp, NameSchema, [{"name": "Acting"}, {"name": "Kathak"}])
    @error_responses(blp, 404, 422)
    def get(self, args, kind):
        """Common skills, languages or talent categories: suggestions (a talent may list any value)."""
        return _served(kind, args)


@blp.route("/cities")
class CityViews(MethodView):
    @blp.doc(security=[])
    @blp.arguments(PageArgsSchema, location="query")
    @paginated(blp, CitySchema, {"city": "Mumbai", "state": "Maharashtra", "country": "India"})
    @error_responses(blp, 422)
    def get(self, args):
        """Cities where casting happens, with their state."""
        return _served("cities", args)
