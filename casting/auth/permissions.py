"""Who may call what: one decorator for signed-in users and roles, one check for object ownership."""
from functools import wraps

from flask import g
from flask_jwt_extended import current_user, verify_jwt_in_request

from casting.auth.principal import signed_in_principal
from casting.kernel.errors import ApiError, Codes
from casting.users.models import Role


def login_required(*roles, fresh=False):
    """A valid access token (fresh if asked); with `roles`, the user must hold one of them (403)."""
    allowed = {Role(role) for role in roles}

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            _verify(fresh)
            if allowed and current_user.role not in allowed:
                raise ApiError(Codes.AUTH_FORBIDDEN)
            return view(*args, **kwargs)
        return wrapper
    return decorate


def _verify(fresh):
    """The bearer's principal as `check_request` read it (no second decode, no database), or the
    full flask-jwt-extended check, which answers every failure with its own envelope."""
    found = None if fresh else signed_in_principal()
    if found is None:
        verify_jwt_in_request(fresh=fresh)
        return
    payload, principal = found
    # what verify_jwt_in_request would have stored, so get_jwt() and current_user work as before
    g._jwt_extended_jwt_user = {"loaded_user": principal}
    g._jwt_extended_jwt_header = {}
    g._jwt_extended_jwt = payload
    g._jwt_extended_jwt_location = "headers"
