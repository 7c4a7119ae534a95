"""Auditions: sessions a production runs, invitations, slots, RSVPs and the calendar feed.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["invite", "owned", "visible"],
    "tasks": ["tell"]
})
