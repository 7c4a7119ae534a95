"""Jobs: audition messages leave through the notifications layer, never inside the request."""
import logging

from casting.auditions.models import Audition, Invitation
from casting.extensions import db
from casting.notifications.models import Channel
from casting.notifications.services import NotificationError, Recipient, notify
from casting.productions.models import CastingRole, Production
from casting.talents.models import Talent
from casting.users.models import User

log = logging.getLogger(__name__)


def send_invites(invitation_ids):
    """Tell each invited talent (or their agent): WhatsApp with Accept / Decline / Reschedule buttons (SMS is
    the notifications layer's fallback), or email for people without a phone."""
    for invitation_id in invitation_ids:
        invitation = db.session.get(Invitation, invitation_id)
        if invitation is None:
            continue
        audition = db.session.get(Audition, invitation.audition_id)
        talent = db.session.get(Talent, invitation.talent_id)
        person = db.session.get(User, talent.user_id or talent.agent_id or 0)
        if person is None:
            log.info("invitation without anyone to tell", extra={"invitation_id": invitation_id})
            continue
        role = db.session.get(CastingRole, audition.role_id) if audition.role_id else None
        production = db.session.get(Production, audition.production_id)
        venue = (audition.location or {}).get("city") or audition.meeting_url or "online"
        params = {"talent_name": talent.stage_name, "role": role.name if role else audition.title,
                  "production": production.title, "date": str(audition.scheduled_date or "to be confirmed"),
                  "venue": venue, "invitation_id": str(invitation.id)}
        channel = Channel.WHATSAPP if person.phone else Channel.EMAIL
        try:
            notify("audition_invite", params, Recipient.for_user(person), channel=channel,
                   idempotency_key=f"invite:{invitation.id}")
        except NotificationError as error:
            log.warning("invitation not sent", extra={"invitation_id": invitation_id, "reason": str(error)})
