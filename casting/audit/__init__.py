"""The audit log: who changed who can do what, from where.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["record", "search"]
})


def init_app(app):
    """Nothing to register: the audit log is written by the other domains and read through admin."""
