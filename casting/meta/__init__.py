"""The suggestion lists (skills, languages, cities, categories) behind `/api/meta`.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "catalog": ["CITIES", "LANGUAGES", "SKILLS"]
})


def init_app(app):
    """The suggestion-list routes."""
    from casting.kernel.extensions import api
    from casting.meta.routes import blp

    api.register_blueprint(blp)
