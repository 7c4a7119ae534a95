"""Jobs of the safety domain: a digest of new flags for admins."""
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import func, select

from casting.kernel.extensions import db
from casting.kernel.jobs import periodic
from casting.notifications import notify_user
from casting.safety.models import Flag, FlagStatus
from casting.users.models import Role, User


@periodic("SAFETY_DIGEST_MINUTES")
def flag_digest():
    """Tell every admin how many flags opened in the last period (nothing when none did)."""
    minutes = current_app.config["SAFETY_DIGEST_MINUTES"]
    now = datetime.now(timezone.utc)
    window = int(now.timestamp()) // (minutes * 60)
    count = db.session.scalar(select(func.count()).where(Flag.status == FlagStatus.OPEN,
                                                         Flag.created_at >= now - timedelta(minutes=minutes)))
    waiting = db.session.scalar(select(func.count()).where(Flag.status == FlagStatus.OPEN))
    if count:
        for admin in db.session.scalars(select(User).where(User.role == Role.ADMIN, User.is_active)):
            notify_user(admin, "flag_digest", {"name": admin.full_name, "count": str(count), "open": str(waiting)},
                        f"flag-digest:{admin.id}:{window}")
    return count
