"""Administration: role changes and the audit log."""
from casting.audit import record, search
from casting.kernel.extensions import db
from casting.users.models import Role
from casting.users import get_user


def change_role(admin, user_id, role, client):
    user = get_user(user_id)
    previous, user.role = user.role, Role(role)
    record("role_change", actor_id=admin.id, target_type="user", target_id=user.id,
           details={"from": previous.value, "to": user.role.value}, ip=client.ip)
    db.session.commit()
    return user


def audit_events(filters):
    return search(filters)
