"""Every domain's models, imported in one place so the metadata (and Alembic) sees them all."""
from casting.auditions.models import Audition, AuditionSlot, CalendarFeed, Invitation, InvitationEvent
from casting.audit.models import AuditEvent
from casting.idempotency import IdempotencyKey
from casting.calls.models import CastingCall, DigestSubscription, Submission, SubmissionNote
from casting.auth.models import ApiKey, AuthSession, OAuthIdentity
from casting.messaging.models import Attachment, Conversation, Message, MessageRead, Participant
from casting.notifications.models import Notification
from casting.productions.models import CastingRole, Production
from casting.safety.models import Flag
from casting.talents.models import Talent, TalentEmbedding, TalentMedia
from casting.tapes.models import Tape
from casting.users.models import User

__all__ = ["ApiKey", "Attachment", "Audition", "AuditionSlot", "AuditEvent", "AuthSession", "CalendarFeed",
           "CastingCall", "CastingRole", "Conversation", "DigestSubscription", "Flag", "IdempotencyKey", "Invitation",
           "InvitationEvent",
           "Message", "MessageRead", "Notification", "OAuthIdentity", "Participant", "Production", "Submission",
           "SubmissionNote", "Talent", "Tape", "TalentEmbedding", "TalentMedia", "User"]
