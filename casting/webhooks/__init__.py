"""Inbound webhooks: WhatsApp messages and delivery statuses.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["on_inbound"]
})


def init_app(app):
    """The WhatsApp and SMS webhook routes (the domains register their inbound handlers themselves)."""
    from casting.kernel.extensions import api
    from casting.webhooks.routes import blp

    api.register_blueprint(blp)
