"""Every domain's models, imported in one place so the metadata (and Alembic) sees them all."""
from casting.auditions.models import Audition, AuditionSlot, CalendarFeed, Invitation, InvitationEvent
from casting.audit.models import AuditEvent
from casting.auth.models import ApiKey, AuthSession, OAuthIdentity
from casting.notifications.models import Notification
from casting.productions.models import CastingRole, Production
from casting.talents.models import Talent, TalentMedia
from casting.users.models import User

__all__ = ["ApiKey", "Audition", "AuditionSlot", "AuditEvent", "AuthSession", "CalendarFeed", "CastingRole",
           "Invitation", "InvitationEvent", "Notification", "OAuthIdentity", "Production", "Talent", "TalentMedia",
           "User"]
