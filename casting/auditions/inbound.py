"""RSVPs from WhatsApp: the invite's Accept / Decline / Reschedule buttons come back as `rsvp:<id>:<answer>`."""
import logging

from casting.auditions.models import Audition, Invitation
from casting.auditions.services import RSVP, answer_invitation
from casting.kernel.errors import ApiError
from casting.kernel.extensions import db
from casting.talents.models import Talent
from casting.users.models import User

log = logging.getLogger(__name__)


def _parse(payload):
    parts = (payload or "").split(":")
    if len(parts) == 3 and parts[0] == "rsvp" and parts[1].isdigit() and parts[2] in RSVP:
        return int(parts[1]), parts[2]
    return None


def rsvp_from_whatsapp(message):
    """Answer the invitation, but only when the reply comes from the invited talent's own phone."""
    parsed = _parse(message.payload)
    if parsed is None:
        return
    invitation = db.session.get(Invitation, parsed[0])
    talent = invitation and db.session.get(Talent, invitation.talent_id)
    user = talent and talent.user_id and db.session.get(User, talent.user_id)
    if not user or user.phone != message.sender:
        log.warning("RSVP button from a phone that is not the invited talent's",
                    extra={"invitation_id": parsed[0], "message_id": message.message_id})
        return
    try:
        answer_invitation(db.session.get(Audition, invitation.audition_id), invitation, user,
                          {"response": parsed[1], "note": "by WhatsApp"})
    except ApiError as refused:
        db.session.rollback()
        log.info("RSVP button refused", extra={"invitation_id": parsed[0], "code": refused.error.code})
