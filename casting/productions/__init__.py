"""Productions and their roles, and matching talent to a role.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["is_shown", "on_role_closed", "owned", "register_dependent", "role", "shown"],
    "matching": ["FULL_EXPERIENCE_YEARS", "WEIGHTS"],
    "schemas": ["ROLE_EXAMPLE", "RoleSchema"]
}, modules=["matching"])
