"""Signing up and in, sessions and tokens, permissions and service API keys.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "permissions": ["login_required"],
    "schemas": ["ApiKeyCreateSchema", "ApiKeyCreatedSchema", "ApiKeySchema"],
    "api_keys": ["api_key_required", "calling_user", "user_or_api_key"],
    "principal": ["Principal", "RATE_LIMIT_HEADERS", "check_request", "prefetch", "prefetched",
                  "rate_limit_headers", "resolve", "signed_in_principal"],
    "responses": ["cached_response", "keep_for"],
    "sessions": ["on_revoke"]
}, modules=["api_keys", "principal"])


def init_app(app):
    """Sign-up, sign-in and session routes, and the JWT callbacks that check a token's session."""
    from casting.auth.routes import blp
    from casting.auth.sessions import register_jwt_callbacks
    from casting.kernel.extensions import api, jwt

    register_jwt_callbacks(jwt)
    api.register_blueprint(blp)
