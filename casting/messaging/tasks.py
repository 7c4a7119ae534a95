"""Jobs of the messaging domain: they take ids, never ORM objects, and are idempotent."""
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import delete, select

from casting.kernel.extensions import db
from casting.kernel.jobs import periodic
from casting.media import file_storage as storage
from casting.messaging import presence
from casting.messaging.models import Attachment, Message, Participant
from casting.notifications import notify_user
from casting.users.models import Role, User


def tell_unread(conversation_id, user_id, message_id):
    """One notification for a burst of messages, unless the person has read it or come back meanwhile."""
    participant = db.session.get(Participant, (conversation_id, user_id))
    if participant is None or participant.last_read_message_id >= message_id:
        return "read"
    if presence.online([user_id]):
        return "online"
    person = db.session.get(User, user_id)
    sender = db.session.get(User, db.session.get(Message, message_id).sender_id or 0)
    notify_user(person, "chat_unread", {"name": person.full_name, "sender": sender.full_name if sender else "Someone"},
                f"chat-unread:{conversation_id}:{user_id}:{message_id}")
    return "sent"


def send_safety_tips(message_id):
    """One safety tip per conversation for each talent in the conversation of a message the shield flagged."""
    message = db.session.get(Message, message_id)
    if message is None:
        return 0
    talents = db.session.scalars(select(User).join(Participant, Participant.user_id == User.id).where(
        Participant.conversation_id == message.conversation_id, User.role == Role.TALENT,
        User.id != message.sender_id)).all()
    for talent in talents:
        notify_user(talent, "safety_tip", {"name": talent.full_name},
                    f"safety-tip:{message.conversation_id}:{talent.id}")
    return len(talents)


@periodic("ATTACHMENT_PRUNE_MINUTES")
def prune_unsent_attachments(batch_size=500):
    """Delete uploads no message took within ATTACHMENT_UNSENT_HOURS: rows first, then their files."""
    cutoff = datetime.now(timezone.utc) - timedelta(hours=current_app.config["ATTACHMENT_UNSENT_HOURS"])
    pruned = 0
    while rows := db.session.execute(delete(Attachment).where(Attachment.id.in_(
            select(Attachment.id).where(Attachment.message_id.is_(None), Attachment.created_at < cutoff)
            .limit(batch_size).with_for_update(skip_locked=True)))
            .returning(Attachment.key, Attachment.thumbnail_key)).all():
        db.session.commit()
        storage().forget(*(key for row in rows for key in row if key))
        pruned += len(rows)
    return pruned
