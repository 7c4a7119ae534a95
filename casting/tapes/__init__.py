"""Self-tapes: videos talent record at home, uploaded in resumable parts, checked and made watchable by the
worker, attached to a self-tape audition invitation or a casting-call submission.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "schemas": ["TapeBriefSchema"],
    "services": ["brief"]
})


def init_app(app):
    """The self-tape routes and the disk upload's part route; abandoned uploads are pruned periodically."""
    from casting.kernel.extensions import api
    from casting.kernel.jobs import register_periodic
    from casting.tapes import tasks
    from casting.tapes.routes import blp, parts_blp

    api.register_blueprint(blp)
    api.register_blueprint(parts_blp)
    register_periodic(app, tasks.prune_abandoned_uploads)
