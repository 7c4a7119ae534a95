"""Jobs: audition messages leave through the notifications layer, never inside the request."""
import logging

from sqlalchemy import select

from casting.auditions.models import Audition, Invitation, InvitationStatus
from casting.kernel.extensions import db
from casting.notifications import notify_user
from casting.productions.models import CastingRole, Production
from casting.talents.models import Talent
from casting.users.models import User

log = logging.getLogger(__name__)
S = InvitationStatus
STILL_WAITING = (S.INVITED, S.ACCEPTED, S.RESCHEDULE_REQUESTED, S.ATTENDED, S.SHORTLISTED, S.CALLBACK)


def tell(talent, template, params, key):
    """Message a talent (or their agent). `key` makes a message go out once, however often this runs."""
    person = db.session.get(User, talent.user_id or talent.agent_id or 0)
    if person is None:
        log.info("nobody to tell", extra={"talent_id": talent.id, "template": template})
        return
    notify_user(person, template, params, key)


def _context(audition):
    role = db.session.get(CastingRole, audition.role_id) if audition.role_id else None
    production = db.session.get(Production, audition.production_id)
    return production.title, role.name if role else audition.title


def _invitations_with_talent(*conditions):
    return db.session.execute(select(Invitation, Talent).join(Talent, Talent.id == Invitation.talent_id)
                              .where(*conditions).order_by(Invitation.id)).all()


def send_invites(invitation_ids):
    """The invitation, with Accept / Decline / Reschedule buttons on WhatsApp (one audition per batch)."""
    rows = _invitations_with_talent(Invitation.id.in_(invitation_ids))
    if not rows:
        return
    audition = db.session.get(Audition, rows[0][0].audition_id)
    production, role = _context(audition)
    venue = (audition.location or {}).get("city") or audition.meeting_url or "online"
    for invitation, talent in rows:
        tell(talent, "audition_invite", {
            "talent_name": talent.stage_name, "role": role, "production": production,
            "date": str(audition.scheduled_date or "to be confirmed"), "venue": venue,
            "invitation_id": str(invitation.id)}, f"invite:{invitation.id}")


def tell_waiting(audition_id):
    """The role is cast or the audition closed: everyone still waiting hears it, kindly and once."""
    audition = db.session.get(Audition, audition_id)
    production, role = _context(audition)
    for invitation, talent in _invitations_with_talent(Invitation.audition_id == audition_id,
                                                       Invitation.status.in_(STILL_WAITING)):
        tell(talent, "audition_closed", {"talent_name": talent.stage_name, "production": production, "role": role},
             f"closed:{invitation.id}")


def tell_moved(moves):
    """Talent whose slot a reschedule removed: they went first in line for a new one; tell them to look."""
    for invitation_id, slot_id in moves:
        invitation = db.session.get(Invitation, invitation_id)
        talent = db.session.get(Talent, invitation.talent_id)
        production, _ = _context(db.session.get(Audition, invitation.audition_id))
        tell(talent, "audition_moved", {"talent_name": talent.stage_name, "production": production},
             f"moved:{invitation_id}:{slot_id}")


def tell_team(invitation_id, request_number):
    """A talent asked for another time: the production's owner hears it (once per request)."""
    invitation = db.session.get(Invitation, invitation_id)
    audition = db.session.get(Audition, invitation.audition_id)
    owner = db.session.get(User, db.session.get(Production, audition.production_id).owner_id)
    talent = db.session.get(Talent, invitation.talent_id)
    notify_user(owner, "reschedule_requested", {"name": owner.full_name, "talent_name": talent.stage_name,
                                                "audition": audition.title},
                f"reschedule:{invitation_id}:{request_number}")
