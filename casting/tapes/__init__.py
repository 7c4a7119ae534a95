"""Self-tapes: videos talent record at home, uploaded in resumable parts, checked and made watchable by the
worker, attached to a self-tape audition invitation or a casting-call submission.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "schemas": ["TapeBriefSchema"],
    "services": ["brief"]
})
