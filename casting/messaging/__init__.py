"""Conversations and messages: REST and the Socket.IO `/chat` namespace.

Other domains import nothing from it.
"""


def init_app(app):
    """The conversation routes and the `/chat` Socket.IO handlers; messages can be reported; unsent
    attachments are pruned periodically; the socket protocol's AsyncAPI document is served beside the OpenAPI one."""
    from casting.kernel.extensions import api, limiter, socketio
    from casting.kernel.jobs import register_periodic
    from casting.messaging import asyncapi, events, tasks
    from casting.messaging.routes import blp
    from casting.messaging.services import reported_message
    from casting.safety import register_target
    from casting.safety.models import FlagTarget

    api.register_blueprint(blp)
    app.add_url_rule("/api/asyncapi.json", "asyncapi", limiter.exempt(asyncapi.serve))
    events.register(socketio)
    register_target(FlagTarget.MESSAGE, reported_message)
    register_periodic(app, tasks.prune_unsent_attachments)
