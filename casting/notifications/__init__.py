"""Notifications over WhatsApp, SMS and email: templates, providers, delivery jobs.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["NotificationError", "NotificationFlood", "Recipient", "apply_status", "notify", "notify_user",
                 "preferred_channel"]
})


def init_app(app):
    """In development, the outbox route; stale notifications are reconciled periodically."""
    from casting.kernel.extensions import api
    from casting.kernel.jobs import register_periodic
    from casting.notifications import tasks
    from casting.notifications.routes import dev_blp

    if app.config["APP_ENV"] == "development":
        api.register_blueprint(dev_blp)
    register_periodic(app, tasks.reconcile_notifications)
