"""Bulk export of talent for the ML service and partners.

Other domains import nothing from it.
"""


def init_app(app):
    """The bulk export route."""
    from casting.exports.routes import blp
    from casting.kernel.extensions import api

    api.register_blueprint(blp)
