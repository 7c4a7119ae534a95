"""Auditions: sessions a production runs, invitations, slots, RSVPs and the calendar feed.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["invite", "owned", "visible"],
    "tasks": ["tell"]
})


def init_app(app):
    """The audition and calendar routes; a production with auditions is not deleted; a cast role tells its
    waiting talent; a WhatsApp RSVP button answers an invitation; the repair sweep runs periodically."""
    from casting.auditions.inbound import rsvp_from_whatsapp
    from casting.auditions.repair import repair_lost_work
    from casting.auditions.routes import blp, calendar_blp
    from casting.auditions.services import count_auditions, role_cast
    from casting.kernel.extensions import api
    from casting.kernel.jobs import register_periodic
    from casting.productions import on_role_closed, register_dependent
    from casting.webhooks import on_inbound

    api.register_blueprint(blp)
    api.register_blueprint(calendar_blp)
    register_dependent("auditions", count_auditions)
    on_role_closed(role_cast)
    on_inbound("button", rsvp_from_whatsapp)
    register_periodic(app, repair_lost_work)
