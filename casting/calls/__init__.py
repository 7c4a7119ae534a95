"""Open casting calls: a role open to submissions, talent and agents applying, casting teams reviewing.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["is_open", "owned"]
})
