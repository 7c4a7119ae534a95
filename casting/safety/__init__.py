"""Trust and safety: verification, the scam shield, reports, the admin queue, suspension.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["ensure_active", "flag_automatically", "hold", "register_target", "screen"]
})


def init_app(app):
    """The report, flag-queue and verification routes; users can be reported; the admins' flag digest runs
    periodically."""
    from casting.kernel.extensions import api
    from casting.kernel.jobs import register_periodic
    from casting.safety import tasks
    from casting.safety.models import FlagTarget
    from casting.safety.routes import blp
    from casting.safety.services import register_target, user_subject

    api.register_blueprint(blp)
    register_target(FlagTarget.USER, user_subject)
    register_periodic(app, tasks.flag_digest)
