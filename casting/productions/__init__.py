"""Productions and their roles, and matching talent to a role.

Other domains import from it only what its public face names below (and its tables, in `models`).
"""
from casting.kernel.faces import public_face

__getattr__, __dir__, PUBLIC = public_face(__name__, {
    "services": ["is_shown", "on_role_closed", "owned", "register_dependent", "role", "shown"],
    "matching": ["FULL_EXPERIENCE_YEARS", "WEIGHTS"],
    "schemas": ["ROLE_EXAMPLE", "RoleSchema"]
}, modules=["matching"])


def init_app(app):
    """The production and role routes; productions and roles can be reported and held."""
    from casting.kernel.extensions import api
    from casting.productions.models import CastingRole, Production
    from casting.productions.routes import blp
    from casting.productions.services import reported_production, reported_role
    from casting.safety import register_target
    from casting.safety.models import FlagTarget

    api.register_blueprint(blp)
    register_target(FlagTarget.PRODUCTION, reported_production, holdable=Production)
    register_target(FlagTarget.ROLE, reported_role, holdable=CastingRole)
