"""Administration: role changes and the audit log."""
from casting.audit.services import record, search
from casting.errors import ApiError, Codes
from casting.extensions import db
from casting.users.models import Role, User


def change_role(admin, user_id, role):
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(Codes.AUTH_NOT_FOUND)
    previous, user.role = user.role, Role(role)
    record("role_change", actor_id=admin.id, target_type="user", target_id=user.id,
           details={"from": previous.value, "to": user.role.value})
    db.session.commit()
    return user


def audit_events(filters):
    return search(filters)
