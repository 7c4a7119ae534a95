"""User accounts: contacts, passwords, roles and the profile cache.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "schemas": ["EmailField", "PhoneField", "RoleChangeSchema", "SELF_SERVICE_ROLES", "USER_EXAMPLE", "UserSchema",
                "notify_channel_field"],
    "services": ["MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "UserError", "check_password", "find_by_contact",
                 "get_user", "hash_password", "normalise_email", "normalise_phone", "password_problems",
                 "rehash_if_needed"],
    "cache": ["forget"]
}, modules=["cache"])


def init_app(app):
    """Nothing to register: users are served by the auth and admin routes."""
