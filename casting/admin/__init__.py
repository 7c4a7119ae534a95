"""Administration: role changes, API keys and the audit log, for admins.

Other domains import nothing from it.
"""


def init_app(app):
    """The admin routes (roles, API keys, the audit log)."""
    from casting.admin.routes import blp
    from casting.kernel.extensions import api

    api.register_blueprint(blp)
