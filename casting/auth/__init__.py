"""Signing up and in, sessions and tokens, permissions and service API keys.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "permissions": ["login_required"],
    "schemas": ["ApiKeyCreateSchema", "ApiKeyCreatedSchema", "ApiKeySchema"],
    "api_keys": ["api_key_required", "calling_user", "user_or_api_key"],
    "principal": ["resolve"],
    "sessions": ["on_revoke"]
}, modules=["api_keys"])
