"""Conversations and messages: membership, storing and paging messages, read receipts, typing, presence.

Every live event goes to the personal rooms (`user:<id>`) of a conversation's participants, so a socket
hears exactly the conversations its user is in, on whichever server process it is connected to (the
Socket.IO message queue in Redis carries emits between processes). A participant who is away hears of
a burst of messages once, on their notification channel.
"""
from datetime import datetime, timezone
from typing import NamedTuple

from flask import current_app
from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from casting.kernel import throttle
from casting.auditions import visible as visible_audition
from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db, redis, socketio
from casting.kernel.jobs import enqueue
from casting.messaging import attachments, presence, tasks
from casting.messaging.models import Conversation, Message, MessageRead, Participant
from casting.messaging.schemas import MessageSchema, ReceiptSchema
from casting.kernel.pagination import paginate
from casting import safety
from casting.safety.models import FlagTarget
from casting.kernel.sorting import order_by
from casting.users.models import Role, User

NAMESPACE = "/chat"
MAX_CONTACTS = 2000


def _now():
    return datetime.now(timezone.utc)


def user_room(user_id):
    return f"user:{user_id}"


def _emit(event, payload, user_ids, skip_sid=None):
    rooms = [user_room(user_id) for user_id in user_ids]
    if rooms:
        socketio.emit(event, payload, namespace=NAMESPACE, to=rooms, skip_sid=skip_sid)


def _invalid(field, message):
    return ApiError(Codes.VALIDATION, details={"fields": {field: [message]}})


def _guard(setting, name, subject, error=Codes.RATE_LIMITED):
    """Count one attempt against the limit in `setting`; 429 with Retry-After when it is over."""
    if not throttle.hit(setting, name, subject):
        wait = throttle.wait_seconds(setting, name, subject)
        raise ApiError(error, details={"retry_after": wait}, headers={"Retry-After": str(wait)})


def members_of(conversation_id, user):
    """The ids of the conversation's participants; 404 for anyone not among them (its existence stays hidden)."""
    user_ids = members(conversation_id)
    if user.id not in user_ids:
        raise ApiError(Codes.CONVERSATION_NOT_FOUND)
    return user_ids


def members(conversation_id):
    return db.session.scalars(select(Participant.user_id).where(Participant.conversation_id == conversation_id)).all()


def _direct_key(user_ids, audition_id):
    low, high = sorted(user_ids)
    return f"{low}:{high}:{audition_id or 0}"


def start(user, participant_ids, audition_id=None):
    """A conversation of `user` with `participant_ids`: (conversation, created).

    Two people (about the same audition, or about none) always share one conversation.
    """
    others = sorted(set(participant_ids) - {user.id})
    if not others:
        raise _invalid("participant_ids", "Name at least one other person.")
    limit = current_app.config["CHAT_MAX_PARTICIPANTS"]
    if len(others) + 1 > limit:
        raise _invalid("participant_ids", f"A conversation has at most {limit} participants.")
    safety.ensure_active(user)
    if audition_id is not None:
        visible_audition(audition_id, user)
    key = _direct_key([user.id, *others], audition_id) if len(others) == 1 else None
    if key and (existing := _direct(key)):
        return existing, False
    found = {person.id: person for person in db.session.scalars(select(User).where(
        User.id.in_(others), User.is_active, User.suspended_at.is_(None)))}
    if missing := [user_id for user_id in others if user_id not in found]:
        raise _invalid("participant_ids", f"No such users: {', '.join(map(str, missing))}.")
    if not user.is_verified and user.role != Role.ADMIN:
        _bound_unverified(user, found.values())
    _guard("CHAT_CONVERSATION_LIMIT", "chat-start", user.id)
    conversation = Conversation(audition_id=audition_id, direct_key=key, created_by=user.id,
                                participants=[Participant(user_id=user_id) for user_id in (user.id, *others)])
    db.session.add(conversation)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if key and (existing := _direct(key)):  # the same pair, started at the same moment elsewhere
            return existing, False
        raise
    return conversation, True


def _bound_unverified(user, others):
    """What an account that is not verified may start: no one who wants verified contacts only, small
    groups (`CHAT_UNVERIFIED_MAX_PARTICIPANTS`), a few new conversations a day (`CHAT_UNVERIFIED_START_LIMIT`)."""
    if choosy := sorted(person.id for person in others if person.only_verified_contacts):
        raise ApiError(Codes.VERIFIED_ONLY, details={"user_ids": choosy})
    most = current_app.config["CHAT_UNVERIFIED_MAX_PARTICIPANTS"]
    if len(others) + 1 > most:
        raise ApiError(Codes.UNVERIFIED_GROUP_LIMIT, f"Until your account is verified, a conversation has at most "
                       f"{most} participants.", details={"max_participants": most})
    _guard("CHAT_UNVERIFIED_START_LIMIT", "chat-start-unverified", user.id, Codes.UNVERIFIED_START_LIMIT)


def _direct(key):
    return db.session.scalar(select(Conversation).where(Conversation.direct_key == key))


def conversations(user, args):
    """A page of the user's conversations, the most recently active first unless `sort` says otherwise."""
    query = (select(Conversation).join(Participant, Participant.conversation_id == Conversation.id)
             .where(Participant.user_id == user.id)
             .order_by(*order_by(Conversation, args.get("sort"), (Conversation.last_message_at.desc().nulls_last(),))))
    result = paginate(query, args)
    result["items"] = describe_conversations(result["items"], user)
    return result


def conversation(conversation_id, user):
    members_of(conversation_id, user)
    return describe_conversations([db.session.get(Conversation, conversation_id)], user)[0]


def describe_conversations(items, user):
    """Conversations as the API shows them to `user`: people (with presence), last message, unread count."""
    ids = [item.id for item in items]
    people = db.session.execute(
        select(Participant.conversation_id, Participant.last_read_message_id, User.id, User.full_name, User.role,
               User.verified_at)
        .join(User, User.id == Participant.user_id).where(Participant.conversation_id.in_(ids))
        .order_by(Participant.joined_at, User.id)).all()
    online = presence.online({row.id for row in people})
    latest = (select(Message.id).where(Message.conversation_id == Conversation.id)
              .order_by(Message.id.desc()).limit(1).scalar_subquery())
    last = {view["conversation_id"]: view for view in describe_messages(db.session.scalars(
        select(Message).where(Message.id.in_(select(latest).where(Conversation.id.in_(ids))))).all())}
    read_up_to = {row.conversation_id: row.last_read_message_id for row in people if row.id == user.id}
    unread = dict(db.session.execute(
        select(Message.conversation_id, func.count())
        .join(Participant, (Participant.conversation_id == Message.conversation_id) & (Participant.user_id == user.id))
        .where(Message.conversation_id.in_(ids), Message.id > Participant.last_read_message_id,
               Message.sender_id.is_distinct_from(user.id))
        .group_by(Message.conversation_id)).all())
    return [{"id": item.id, "audition_id": item.audition_id, "is_group": item.direct_key is None,
             "participants": [{"id": row.id, "full_name": row.full_name, "role": row.role,
                               "is_verified": row.verified_at is not None, "online": row.id in online}
                              for row in people if row.conversation_id == item.id],
             "last_message": last.get(item.id), "unread_count": unread.get(item.id, 0),
             "last_read_message_id": read_up_to.get(item.id, 0), "created_at": item.created_at,
             "last_message_at": item.last_message_at} for item in items]


def describe_messages(messages):
    """Messages with their attachments and who has read them (one query for the receipts of them all)."""
    reads = {}
    if messages:
        for row in db.session.execute(select(MessageRead.message_id, MessageRead.user_id, MessageRead.read_at)
                                      .where(MessageRead.message_id.in_([message.id for message in messages]))
                                      .order_by(MessageRead.read_at, MessageRead.user_id)):
            reads.setdefault(row.message_id, []).append({"user_id": row.user_id, "read_at": row.read_at})
    return [dict(id=message.id, conversation_id=message.conversation_id, sender_id=message.sender_id,
                 is_verified=message.is_verified, body=message.body, attachments=message.attachments,
                 client_id=message.client_id, safety=message.safety, created_at=message.created_at,
                 read_by=reads.get(message.id, [])) for message in messages]


def history(conversation_id, user, before=None, limit=30):
    """A page of messages, newest first, older than the cursor `before` (an index range scan at any depth)."""
    members_of(conversation_id, user)
    query = select(Message).where(Message.conversation_id == conversation_id)
    if before is not None:
        query = query.where(Message.id < int(before))
    rows = db.session.scalars(query.order_by(Message.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    return {"items": describe_messages(page),
            "meta": {"limit": limit, "next_cursor": str(page[-1].id) if len(rows) > limit else None}}


def _by_client_id(conversation_id, sender_id, client_id):
    return db.session.scalar(select(Message).where(Message.conversation_id == conversation_id,
                                                   Message.sender_id == sender_id, Message.client_id == client_id))


class Sent(NamedTuple):
    message: dict
    created: bool
    participant_ids: list


def send(user, conversation_id, body, attachment_ids, client_id):
    """Store a message; returns it as `Sent`. A repeated `client_id` returns the first message (not created).

    It is committed before this returns, so it is stored before anyone is told of it. Only a new
    message counts against the flood limit, so a client retrying a send is never refused for it.
    """
    user_ids = members_of(conversation_id, user)
    safety.ensure_active(user)
    claimed = attachments.claim(user, attachment_ids)
    now = _now()
    warning = _warning(user, user_ids, body)
    message_id = db.session.scalar(
        insert(Message).values(conversation_id=conversation_id, sender_id=user.id, body=body or None,
                               client_id=client_id, safety=warning, created_at=now)
        .on_conflict_do_nothing(constraint="uq_messages_conversation_id_sender_id_client_id").returning(Message.id))
    if message_id is None:
        db.session.rollback()
        return Sent(describe_messages([_by_client_id(conversation_id, user.id, client_id)])[0], False, user_ids)
    try:
        _guard("CHAT_SEND_LIMIT", "chat-send", f"{user.id}:{conversation_id}", Codes.MESSAGE_FLOOD)
    except ApiError:
        db.session.rollback()
        raise
    for attachment in claimed:
        attachment.message_id = message_id
    db.session.execute(update(Conversation).where(Conversation.id == conversation_id).values(last_message_at=now))
    if warning:
        safety.flag_automatically(FlagTarget.MESSAGE, message_id, user.id, warning)
    view = dict(id=message_id, conversation_id=conversation_id, sender_id=user.id, is_verified=user.is_verified,
                body=body or None, attachments=claimed, client_id=client_id, safety=warning, created_at=now,
                read_by=[])
    db.session.commit()
    if warning:
        enqueue("default", tasks.send_safety_tips, message_id)
    return Sent(view, True, user_ids)


def _warning(sender, user_ids, body):
    """The shield's verdict on a casting-side sender's message to talent, or None."""
    verdict = safety.screen(sender, body)
    if verdict is None or not db.session.scalar(select(func.count()).where(
            User.id.in_(user_ids), User.id != sender.id, User.role == Role.TALENT)):
        return None
    return verdict


def publish(sent, skip_sid=None):
    """Tell the participants of a new message: live to every socket of theirs (but `skip_sid`), and once
    per burst on their notification channel to those who are away."""
    view, user_ids = sent.message, sent.participant_ids
    _emit("message:new", MessageSchema().dump(view), user_ids, skip_sid)
    others = [user_id for user_id in user_ids if user_id != view["sender_id"]]
    for user_id in set(others) - presence.online(others):
        if redis.set(_burst_key(view["conversation_id"], user_id), view["id"], nx=True,
                     ex=current_app.config["CHAT_NOTIFY_BURST_SECONDS"]):
            enqueue("default", tasks.tell_unread, view["conversation_id"], user_id, view["id"],
                    delay=current_app.config["CHAT_NOTIFY_DELAY_SECONDS"])


def _burst_key(conversation_id, user_id):
    return f"casting:chat:burst:{conversation_id}:{user_id}"


def mark_read(user, conversation_id, message_id, skip_sid=None):
    """Everything up to `message_id` is read by `user`; the others (and the user's other sockets) hear it.

    Returns the receipt: the user's read position, which never moves back.
    """
    user_ids = members_of(conversation_id, user)
    if not db.session.scalar(select(Message.id).where(Message.id == message_id,
                                                      Message.conversation_id == conversation_id)):
        raise ApiError(Codes.MESSAGE_NOT_FOUND)
    participant = db.session.get(Participant, (conversation_id, user.id), with_for_update=True,
                                 populate_existing=True)
    if participant.last_read_message_id >= message_id:
        receipt = _receipt(participant)
        db.session.rollback()
        return receipt
    now = _now()
    db.session.execute(insert(MessageRead).from_select(
        ["message_id", "user_id", "read_at"],
        select(Message.id, literal(user.id), literal(now))
        .where(Message.conversation_id == conversation_id, Message.id > participant.last_read_message_id,
               Message.id <= message_id, Message.sender_id.is_distinct_from(user.id))).on_conflict_do_nothing())
    participant.last_read_message_id, participant.last_read_at = message_id, now
    receipt = _receipt(participant)
    db.session.commit()
    redis.delete(_burst_key(conversation_id, user.id))
    _emit("message:read", ReceiptSchema().dump(receipt), user_ids, skip_sid)
    return receipt


def _receipt(participant):
    return {"conversation_id": participant.conversation_id, "user_id": participant.user_id,
            "message_id": participant.last_read_message_id, "read_at": participant.last_read_at}


def typing(user, conversation_id, is_typing):
    """Tell the others that `user` is (or stopped) typing; a `true` lapses by itself after `expires_in` seconds."""
    user_ids = members_of(conversation_id, user)
    _guard("CHAT_TYPING_LIMIT", "chat-typing", user.id)
    return announce_typing(user.id, conversation_id, is_typing, user_ids)


def announce_typing(user_id, conversation_id, is_typing, participant_ids=None):
    payload = {"conversation_id": conversation_id, "user_id": user_id, "is_typing": is_typing,
               "expires_in": current_app.config["CHAT_TYPING_SECONDS"] if is_typing else 0}
    others = [member for member in participant_ids or members(conversation_id) if member != user_id]
    _emit("typing", payload, others)
    return payload


def contacts(user_id):
    """Everyone who shares a conversation with the user (the people who see their presence)."""
    theirs = select(Participant.conversation_id).where(Participant.user_id == user_id)
    return db.session.scalars(select(Participant.user_id).distinct()
                              .where(Participant.conversation_id.in_(theirs), Participant.user_id != user_id)
                              .limit(MAX_CONTACTS)).all()


def announce_presence(user_id, online, people=None):
    """Tell the user's contacts (`people`, when already known) that they came online or left."""
    _emit("presence", {"user_id": user_id, "online": online}, contacts(user_id) if people is None else people)


def reported_message(reporter, message_id):
    """A message's sender, when the reporter is in its conversation (for reports to the safety team)."""
    message = db.session.get(Message, message_id)
    if message is not None and db.session.get(Participant, (message.conversation_id, reporter.id)):
        return message.sender_id
    return None
