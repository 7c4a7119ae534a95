"""Every domain's models in one tuple: `create_app` checks the metadata holds them all (Alembic and the tests
read it)."""
from casting.auditions.models import Audition, AuditionSlot, CalendarFeed, Invitation, InvitationEvent
from casting.audit.models import AuditEvent
from casting.calls.models import CastingCall, DigestSubscription, Submission, SubmissionNote
from casting.auth.models import ApiKey, AuthSession, OAuthIdentity
from casting.kernel.idempotency import IdempotencyKey
from casting.messaging.models import Attachment, Conversation, Message, MessageRead, Participant
from casting.notifications.models import Notification
from casting.productions.models import CastingRole, Production
from casting.safety.models import Flag
from casting.talents.models import Talent, TalentEmbedding, TalentMedia
from casting.tapes.models import Tape
from casting.users.models import User

MODELS = (ApiKey, Attachment, Audition, AuditionSlot, AuditEvent, AuthSession, CalendarFeed, CastingCall, CastingRole,
          Conversation, DigestSubscription, Flag, IdempotencyKey, Invitation, InvitationEvent, Message, MessageRead,
          Notification, OAuthIdentity, Participant, Production, Submission, SubmissionNote, Talent, Tape,
          TalentEmbedding, TalentMedia, User)
