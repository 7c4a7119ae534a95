"""Open casting calls: a role open to submissions, talent and agents applying, casting teams reviewing.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["is_open", "owned"]
})


def init_app(app):
    """The casting-call routes; calls can be reported and held; a closed role closes its call; the deadline
    sweep, the digest and the drain of placed submissions run periodically."""
    from casting.calls import tasks
    from casting.calls.models import CastingCall
    from casting.calls.routes import blp
    from casting.calls.services import reported_call, role_closed
    from casting.kernel.extensions import api
    from casting.kernel.jobs import register_periodic
    from casting.productions import on_role_closed
    from casting.safety import register_target
    from casting.safety.models import FlagTarget

    api.register_blueprint(blp)
    register_target(FlagTarget.CALL, reported_call, holdable=CastingCall)
    on_role_closed(role_closed)
    register_periodic(app, tasks.close_calls_past_deadline, tasks.send_digests, tasks.submissions_received)
