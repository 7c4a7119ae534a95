"""`@paginated`: a select, a list or a ready page in; one page `{items, meta}` out, documented once."""
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields

from casting.kernel.pagination import PageArgsSchema, page, paginated


class ItemSchema(Schema):
    name = fields.String()


def _app(result, present=None):
    from flask import Flask

    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    blp = Blueprint("things", __name__, url_prefix="/things")

    @blp.route("/")
    class Things(MethodView):
        @blp.arguments(PageArgsSchema, location="query")
        @paginated(blp, ItemSchema, {"name": "Asha"}, present=present)
        def get(self, args):
            return result

    api.register_blueprint(blp)
    return app, api


def test_a_list_is_paged_in_memory_and_documented_with_a_generated_example():
    app, api = _app([{"name": f"n{i}"} for i in range(45)])
    answer = app.test_client().get("/things/?page=3&per_page=20").json
    assert answer == {"items": [{"name": f"n{i}"} for i in range(40, 45)],
                      "meta": {"page": 3, "per_page": 20, "total": 45, "total_pages": 3}}
    content = api.spec.to_dict()["paths"]["/things/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert content["example"] == {"items": [{"name": "Asha"}],
                                  "meta": {"page": 1, "per_page": 20, "total": 1, "total_pages": 1}}


def test_a_ready_page_passes_and_present_shapes_the_rows():
    ready = page([{"name": "x"}], 1000, 1, 20, exact=False)
    app, _ = _app(ready)
    assert app.test_client().get("/things/").json["meta"]["total_exact"] is False
    app, _ = _app(["a", "b"], present=lambda rows: [{"name": row.upper()} for row in rows])
    assert app.test_client().get("/things/").json["items"] == [{"name": "A"}, {"name": "B"}]
