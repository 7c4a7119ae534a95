"""Trust and safety: verification, the scam shield, reports, the admin queue, suspension.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["ensure_active", "flag_automatically", "hold", "register_target", "screen"]
})
