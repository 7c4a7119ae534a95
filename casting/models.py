"""Every domain's models, imported in one place so the metadata (and Alembic) sees them all."""
from casting.notifications.models import Notification
from casting.users.models import User

__all__ = ["Notification", "User"]
