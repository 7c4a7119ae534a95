"""Jobs of the messaging domain: they take ids, never ORM objects, and are idempotent."""
from casting.extensions import db
from casting.messaging import presence
from casting.messaging.models import Message, Participant
from casting.notifications.services import notify_user
from casting.users.models import User


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
