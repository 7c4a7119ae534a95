"""Liveness and readiness probes.

Other domains import nothing from it.
"""


def init_app(app):
    """The probes' routes."""
    from casting.kernel.extensions import api
    from casting.health.routes import blp

    api.register_blueprint(blp)
