"""Conversations and messages: membership, storing and paging messages, read receipts, typing, presence.

Every live event goes to the personal rooms (`user:<id>`) of a conversation's participants, so a socket
hears exactly the conversations its user is in, on whichever server process it is connected to (the
Socket.IO message queue in Redis carries emits between processes). A participant who is away hears of
a burst of messages once, on their notification channel.
"""
import logging
import threading
import time
import weakref
from datetime import datetime, timezone
from functools import lru_cache
from types import SimpleNamespace
from typing import NamedTuple

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import DateTime, and_, bindparam, exists, func, literal_column, select, text, true
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from casting import safety
from casting.auditions import visible as visible_audition
from casting.auth import principal
from casting.kernel import throttle
from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import at_once, db, in_transaction, redis, socketio
from casting.kernel.idempotency import alone
from casting.kernel.jobs import enqueue
from casting.kernel.jsonprovider import iso
from casting.kernel.pagination import page
from casting.kernel.pii import EncryptedString
from casting.messaging import attachments, fanout, presence, tasks
from casting.messaging.models import Attachment, Conversation, Message, MessageRead, Participant
from casting.messaging.schemas import (
    AttachmentSchema, MessageSchema, PresenceSchema, ReceiptSchema, SafetySchema, TypingStateSchema)
from casting.safety.models import FlagTarget
from casting.kernel.sorting import order_by
from casting.users.models import Role, User

NAMESPACE = "/chat"
MAX_CONTACTS = 2000
MEMBERS_TTL = 600  # who is in a conversation never changes; only an account's deletion takes someone out
MEMBERS_CACHED = 10000
MEMBERS_WARM = 100  # conversations whose participants a connecting socket's process remembers at once
# What the server pushes on `/chat`, and the schema of each payload (the AsyncAPI document lists these).
EVENTS = {"message:new": MessageSchema(), "message:read": ReceiptSchema(), "typing": TypingStateSchema(),
          "presence": PresenceSchema()}
_ATTACHMENTS, _SAFETY = AttachmentSchema(many=True), SafetySchema()
PUBLISHED_TTL = 7 * 24 * 3600  # a client retrying a send later than this republishes it (ids are unique)
log = logging.getLogger(__name__)


def _now():
    return datetime.now(timezone.utc)


def user_room(user_id):
    return f"user:{user_id}"


class Wire(dict):
    """An event's payload as it goes out, dumped with its schema once: a socket's ack and the push to the
    others are the same JSON, and `chat_event` acks a `Wire` as it is."""


def wire(event, payload):
    """`payload` dumped with the schema of `event` (unless it is a `Wire` already)."""
    return payload if isinstance(payload, Wire) else Wire(EVENTS[event].dump(payload))


def _emit(event, payload, user_ids, skip_sid=None, then=None, sockets=None):
    """Send a live event to the sockets of `user_ids`: one Redis round trip finds where they are
    connected (unless the caller read `sockets` already), one more publishes it to those processes
    only, with the commands `then(pipe, sockets)` queues (it may return a function, given their replies)."""
    user_ids = list(dict.fromkeys(user_ids))
    if not user_ids and then is None:
        return {}
    payload = wire(event, payload)
    try:
        if sockets is None:
            with redis.pipeline(transaction=False) as pipe:
                presence.ask_sockets(pipe, user_ids)
                sockets = presence.sockets_of(user_ids, pipe.execute())
    except RedisError:
        log.warning("presence unreadable: %s goes to every process", event)
        if user_ids:
            socketio.emit(event, payload, namespace=NAMESPACE, to=[user_room(u) for u in user_ids], skip_sid=skip_sid)
        return None
    _deliver(event, payload, fanout.plan(user_ids, sockets, user_room), skip_sid, then, sockets)
    return sockets


def _deliver(event, payload, targets, skip_sid=None, then=None, sockets=None):
    with redis.pipeline(transaction=False) as pipe:
        local = fanout.emit(pipe, event, payload, NAMESPACE, targets, skip_sid)
        published = len(pipe)
        settle = then(pipe, sockets) if then is not None else None
        replies = pipe.execute()
    local()
    if settle is not None:
        settle(replies[published:])


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


def _members_query(conversation_id):
    return select(Participant.user_id).where(Participant.conversation_id == conversation_id)


_MEMBERS = text("SELECT user_id FROM conversation_participants WHERE conversation_id = :conversation_id")


def members(conversation_id):
    return db.session.scalars(_members_query(conversation_id)).all()


_members_seen = {}  # conversation id -> (until when, its participants): who is in one never changes


def members_cached(conversation_id):
    """`members`, remembered by this process for MEMBERS_TTL seconds (a conversation's participants
    are fixed when it starts; the TTL only bounds how long a deleted one is remembered: no harm meanwhile,
    since the statements that store and read check membership themselves, and a deleted account has no
    socket to be found or to send from). An id with no participants is asked again each time: its
    conversation may be started a moment later."""
    now = time.monotonic()
    seen = _members_seen.get(conversation_id)
    if seen is None or seen[0] < now:
        if len(_members_seen) >= MEMBERS_CACHED:
            _members_seen.clear()
        if alone():  # one statement on its own: no BEGIN or ROLLBACK round trip
            ids = [row.user_id for row in at_once(_MEMBERS, {"conversation_id": conversation_id})]
        else:
            ids = members(conversation_id)
        seen = (now + MEMBERS_TTL, ids)
        if seen[1]:  # not a conversation that does not exist yet (ids are handed out in turn)
            _members_seen[conversation_id] = seen
    return seen[1]


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


@lru_cache(maxsize=16)
def _listing(sort, one):
    """The select of a user's conversations (`:user_id`) as the API shows them, a page (`:limit`, `:offset`,
    ordered by `sort`) or the one `:conversation_id` (`one`): each row carries its people (JSON), its last
    message (`_message_columns`, prefixed `message_`), the unread count and the caller's last read id. One
    statement where the ORM took seven; built once per shape, with bound parameters."""
    user_id = bindparam("user_id")
    me, them = aliased(Participant), aliased(Participant)
    people = (select(func.coalesce(func.json_agg(aggregate_order_by(func.json_build_object(
        "id", User.id, "full_name", User.full_name, "role", User.role, "is_verified", User.verified_at.is_not(None)),
        them.joined_at, User.id)), literal_column("'[]'::json")))
        .join_from(them, User, User.id == them.user_id).where(them.conversation_id == Conversation.id)
        .scalar_subquery())
    unread = (select(func.count())
              .where(Message.conversation_id == Conversation.id, Message.id > me.last_read_message_id,
                     Message.sender_id.is_distinct_from(user_id)).scalar_subquery())
    last = (select(*_message_columns()).where(Message.conversation_id == Conversation.id)
            .order_by(Message.id.desc()).limit(1).lateral("last"))
    query = (select(Conversation.id, Conversation.audition_id, Conversation.direct_key, Conversation.created_at,
                    Conversation.last_message_at, me.last_read_message_id, people.label("people"),
                    unread.label("unread_count"), *(column.label(f"message_{column.name}") for column in last.c),
                    func.count().over().label("total"))
             .join(me, and_(me.conversation_id == Conversation.id, me.user_id == user_id))
             .outerjoin(last, true()))
    if one:
        return query.where(Conversation.id == bindparam("conversation_id"))
    return (query.order_by(*order_by(Conversation, list(sort), (Conversation.last_message_at.desc().nulls_last(),)))
            .limit(bindparam("limit")).offset(bindparam("offset")))


def conversations(user, args):
    """A page of the user's conversations, the most recently active first unless `sort` says otherwise, as
    `ConversationSchema` writes it (`_listing`, then who is online: one statement and one Redis round trip)."""
    offset = (args["page"] - 1) * args["per_page"]
    rows = db.session.execute(_listing(tuple(args.get("sort") or ()), False), {
        "user_id": user.id, "limit": args["per_page"], "offset": offset}).all()
    if rows:
        total = rows[0].total
    else:  # past the end (or none at all): each of their participant rows is a conversation
        total = db.session.scalar(select(func.count()).where(Participant.user_id == user.id)) if offset else 0
    return page(_described(rows), total, args["page"], args["per_page"])


def conversation(conversation_id, user):
    members_of(conversation_id, user)
    row = db.session.execute(_listing((), True), {"user_id": user.id, "conversation_id": conversation_id}).one()
    return _described([row])[0]


def _described(rows):
    """`_listing`'s rows as `ConversationSchema` writes them, with who is online now."""
    online = presence.online({person["id"] for row in rows for person in row.people})
    last = _message_views([None if row.message_id is None else SimpleNamespace(**{
        name.removeprefix("message_"): value for name, value in row._mapping.items() if name.startswith("message_")})
        for row in rows])
    return [{"id": row.id, "audition_id": row.audition_id, "is_group": row.direct_key is None,
             "participants": [{**person, "online": person["id"] in online} for person in row.people],
             "last_message": message, "unread_count": row.unread_count,
             "last_read_message_id": row.last_read_message_id, "created_at": iso(row.created_at),
             "last_message_at": iso(row.last_message_at)} for row, message in zip(rows, last)]


def _message_columns():
    """A message's columns as the API shows it, for a select over `messages`: its receipts as JSON, and
    whether it carries attachments (read apart, and only then, by `_message_views`)."""
    read_by = (select(func.coalesce(func.json_agg(aggregate_order_by(
        func.json_build_object("user_id", MessageRead.user_id, "read_at", MessageRead.read_at),
        MessageRead.read_at, MessageRead.user_id)), literal_column("'[]'::json")))
        .where(MessageRead.message_id == Message.id).scalar_subquery())
    return (Message.id, Message.conversation_id, Message.sender_id, Message.is_verified.label("is_verified"),
            Message.body, Message.client_id, Message.safety, Message.created_at, read_by.label("read_by"),
            exists().where(Attachment.message_id == Message.id).label("has_attachments"))


def _message_views(rows):
    """Rows of `_message_columns` (None stays None) as `MessageSchema` writes them, without marshmallow but
    for the rare attachments and safety warnings; the attachments of them all in one statement, if any."""
    attached = {}
    carrying = [row.id for row in rows if row is not None and row.has_attachments]
    if carrying:
        for attachment in db.session.scalars(select(Attachment).where(Attachment.message_id.in_(carrying))
                                             .order_by(Attachment.id)):
            attached.setdefault(attachment.message_id, []).append(attachment)
    return [None if row is None else {
        "id": row.id, "conversation_id": row.conversation_id, "sender_id": row.sender_id,
        "is_verified": row.is_verified, "body": row.body, "attachments": _ATTACHMENTS.dump(attached.get(row.id, [])),
        "client_id": row.client_id, "safety": None if row.safety is None else _SAFETY.dump(row.safety),
        "created_at": iso(row.created_at),
        "read_by": [{"user_id": read["user_id"], "read_at": iso(datetime.fromisoformat(read["read_at"]))}
                    for read in row.read_by]} for row in rows]


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


@lru_cache(maxsize=4)
def _history(before, after):
    """The select of a page of a conversation's messages (`:conversation_id`, `:limit`), with a `:before`
    and an `:after` bound when given: newest first, or oldest first to catch up. Built once per shape."""
    query = select(*_message_columns()).where(Message.conversation_id == bindparam("conversation_id"))
    if before:
        query = query.where(Message.id < bindparam("before"))
    if after:
        query = query.where(Message.id > bindparam("after")).order_by(Message.id)
    else:
        query = query.order_by(Message.id.desc())
    return query.limit(bindparam("limit"))


def history(conversation_id, user, before=None, limit=30, after=None):
    """A page of messages, newest first, older than the cursor `before`; or, to catch up, oldest first,
    newer than `after` (the last id a client saw). An index range scan at any depth, either way; one
    statement, as `MessagePageSchema` writes it."""
    members_of(conversation_id, user)
    rows = db.session.execute(_history(before is not None, after is not None), {
        "conversation_id": conversation_id, "before": None if before is None else int(before),
        "after": None if after is None else int(after), "limit": limit + 1}).all()
    page = rows[:limit]
    return {"items": _message_views(page),
            "meta": {"limit": limit, "next_cursor": str(page[-1].id) if len(rows) > limit else None}}


def _by_client_id(conversation_id, sender_id, client_id):
    return db.session.scalar(select(Message).where(Message.conversation_id == conversation_id,
                                                   Message.sender_id == sender_id, Message.client_id == client_id))


class Vouch:
    """The sign-in a socket event acts for (session id, user id), checked on the first Redis round trip
    the event makes anyway, before anything it did is committed: `ask` on that pipeline, `settle` with
    the reply (AUTH_005 for a session that ended, SAFETY_001 for a suspended account). `check` makes
    the round trip of its own, for a path that has none."""

    def __init__(self, session_id, user_id):
        self.session_id, self.user_id, self.settled = session_id, user_id, False

    def ask(self, pipe):
        principal.ask(pipe, self.session_id, self.user_id)

    def settle(self, reply):
        active, user = principal.answer(self.session_id, self.user_id, reply)
        self.settled = True
        if not active or user is None:
            raise ApiError(Codes.AUTH_REVOKED)
        safety.ensure_active(user)
        return user

    def check(self):
        if not self.settled:
            with redis.pipeline(transaction=False) as pipe:
                self.ask(pipe)
                self.settle(pipe.execute()[0])


def _vouched(vouch, pipe):
    """Run `pipe` with `vouch`'s question last (when there is one); the replies to the other commands."""
    if vouch is not None:
        vouch.ask(pipe)
    replies = pipe.execute()
    if vouch is not None:
        vouch.settle(replies.pop())
    return replies


class Sent(NamedTuple):
    message: dict
    created: bool
    participant_ids: list
    published: bool = False
    sockets: dict | None = None  # presence, read with the flood limit: {user id: [socket keys]}
    pushed: Wire | None = None  # the message as it was pushed, once published by this send


# One round trip stores a message: who is in the conversation (the sender must be), the insert (once
# per client_id), the safety verdict kept only when a talent is among the others, the conversation's
# last activity, and whether the sender is verified.
_STORE = text("""
WITH members AS (
    SELECT coalesce(array_agg(user_id ORDER BY user_id), '{}') AS ids
    FROM conversation_participants WHERE conversation_id = :conversation_id
), stored AS (
    INSERT INTO messages (conversation_id, sender_id, body, client_id, safety, created_at)
    SELECT :conversation_id, :sender_id, :body, :client_id,
           CASE WHEN CAST(:verdict AS jsonb) IS NOT NULL AND EXISTS (
               SELECT 1 FROM conversation_participants p JOIN users u ON u.id = p.user_id
               WHERE p.conversation_id = :conversation_id AND p.user_id <> :sender_id AND u.role = 'talent')
           THEN CAST(:verdict AS jsonb) END,
           :created_at
    FROM members WHERE :sender_id = ANY(members.ids)
    ON CONFLICT ON CONSTRAINT uq_messages_conversation_id_sender_id_client_id DO NOTHING
    RETURNING id, safety
), touched AS (
    UPDATE conversations SET last_message_at = :created_at
    WHERE id = :conversation_id AND EXISTS (SELECT 1 FROM stored)
)
SELECT members.ids, stored.id, stored.safety,
       (SELECT verified_at IS NOT NULL FROM users WHERE id = :sender_id) AS is_verified
FROM members LEFT JOIN stored ON true
""").bindparams(bindparam("body", type_=EncryptedString()), bindparam("verdict", type_=JSONB(none_as_null=True)),
                bindparam("created_at", type_=DateTime(timezone=True)))


def send(user, conversation_id, body, attachment_ids, client_id, vouch=None):
    """Store a message; returns it as `Sent`. A repeated `client_id` returns the first message (not created).

    It is committed before this returns, so it is stored before anyone is told of it. Only a new
    message counts against the flood limit, so a client retrying a send is never refused for it.
    Without attachments and with nothing for the safety team: one Redis round trip first (the flood
    limit, where the participants are, and a socket's sign-in, `vouch`), then one statement that commits
    on its own (no BEGIN or COMMIT round trip). Nothing is stored when the first round trip refuses it.
    """
    safety.ensure_active(user)
    claimed = attachments.claim(user, attachment_ids)
    body = body or None
    verdict = safety.screen(user, body)
    user_ids = members_cached(conversation_id)
    if user.id not in user_ids:
        raise ApiError(Codes.CONVERSATION_NOT_FOUND)
    subject = f"{user.id}:{conversation_id}"
    try:
        with redis.pipeline(transaction=False) as pipe:  # the flood limit, and where the participants are
            throttle.hit_on(pipe, "CHAT_SEND_LIMIT", "chat-send", subject)
            presence.ask_sockets(pipe, user_ids)
            counted, *replies = _vouched(vouch, pipe)
    except (ApiError, RedisError):
        db.session.rollback()
        raise
    sockets = presence.sockets_of(user_ids, replies)
    if not counted:
        first = _by_client_id(conversation_id, user.id, client_id)
        if first is not None:  # a retry of a stored message: never refused for the flood
            return _again(first, user_ids, sockets)
        db.session.rollback()
        wait = throttle.wait_seconds("CHAT_SEND_LIMIT", "chat-send", subject)
        raise ApiError(Codes.MESSAGE_FLOOD, details={"retry_after": wait}, headers={"Retry-After": str(wait)})
    now = _now()
    params = {"conversation_id": conversation_id, "sender_id": user.id, "body": body, "client_id": client_id,
              "verdict": verdict, "created_at": now}
    if claimed or verdict is not None or not alone():
        row = db.session.execute(_STORE, params).one()  # in the session's transaction, committed below
    else:
        [row] = at_once(_STORE, params)  # the statement is the whole write
    message_id, warning = row.id, row.safety
    if user.id not in row.ids:  # gone since this process remembered its participants
        db.session.rollback()
        raise ApiError(Codes.CONVERSATION_NOT_FOUND)
    if message_id is None:
        db.session.rollback()
        return _again(_by_client_id(conversation_id, user.id, client_id), user_ids, sockets, refund=subject)
    for attachment in claimed:
        attachment.message_id = message_id
    if warning:
        safety.flag_automatically(FlagTarget.MESSAGE, message_id, user.id, warning)
    view = dict(id=message_id, conversation_id=conversation_id, sender_id=user.id, is_verified=bool(row.is_verified),
                body=body, attachments=claimed, client_id=client_id, safety=warning, created_at=now, read_by=[])
    if in_transaction():
        db.session.commit()
    if warning:
        enqueue("default", tasks.send_safety_tips, message_id)
    return Sent(view, True, list(row.ids), sockets=sockets)


def _again(first, user_ids, sockets, refund=None):
    """A send of a `client_id` already stored: the first message, and whether it was published; the
    flood limit's count for this attempt is handed back (`refund`, its subject) in the same round trip."""
    view = describe_messages([first])[0]
    db.session.rollback()
    with redis.pipeline(transaction=False) as pipe:
        pipe.exists(_published_key(first.id))
        if refund is not None:
            throttle.refund_on(pipe, "CHAT_SEND_LIMIT", "chat-send", refund)
        published = pipe.execute()[0]
    return Sent(view, False, user_ids, published == 1, sockets)


_ordering = weakref.WeakValueDictionary()  # conversation id -> the lock its sends in this process take in turn
_ordering_guard = threading.Lock()


def post(user, conversation_id, body, attachment_ids, client_id, vouch=None, skip_sid=None):
    """Store a message and deliver it (`send`, then `deliver`), one send of a conversation at a time in this
    process: its messages then reach every socket in the order of their ids, so a client that reconnects
    and catches up after the last id it saw misses none (a message numbered before one it saw, but whose
    push died with the process, would otherwise be skipped)."""
    with _ordering_guard:
        lock = _ordering.get(conversation_id)
        if lock is None:
            lock = _ordering[conversation_id] = threading.Lock()
    with lock:
        sent = send(user, conversation_id, body, attachment_ids, client_id, vouch)
        pushed = deliver(sent, skip_sid)  # a RedisError: stored, not published; refused, the client sends again
    return sent if pushed is None else sent._replace(pushed=pushed)


def deliver(sent, skip_sid=None):
    """Publish `sent` unless it is known to be published: a new message, or one stored by a send whose
    process died (or whose Redis failed) before it was published, when its client sends it again. Returns
    what was pushed (the message's `Wire`), or None."""
    if sent.created or not sent.published:
        return publish(sent, skip_sid)
    return None


def publish(sent, skip_sid=None):
    """Tell the participants of a message: live to every socket of theirs (but `skip_sid`), and once per
    burst on their notification channel to those who are away; and mark it published (a later send of
    the same `client_id` then publishes nothing). One Redis round trip: the publishes, the away
    participants' bursts and the mark (the notices are queued after it). Raises RedisError when it could
    not be published; returns the message as it was pushed (its `Wire`)."""
    view, user_ids = sent.message, sent.participant_ids
    pushed = wire("message:new", view)

    def then(pipe, sockets):  # in the publish's round trip: each away participant's burst, and the mark
        away = [user_id for user_id in user_ids if user_id != view["sender_id"] and user_id not in sockets]
        for user_id in away:
            pipe.set(_burst_key(view["conversation_id"], user_id), view["id"], nx=True,
                     ex=current_app.config["CHAT_NOTIFY_BURST_SECONDS"])
        pipe.set(_published_key(view["id"]), 1, ex=PUBLISHED_TTL)

        def settle(replies):  # whoever's burst this message began hears of it once, on their channel
            for user_id, began in zip(away, replies):
                if began:
                    enqueue("default", tasks.tell_unread, view["conversation_id"], user_id, view["id"],
                            delay=current_app.config["CHAT_NOTIFY_DELAY_SECONDS"])
        return settle

    _emit("message:new", pushed, user_ids, skip_sid, then=then, sockets=sent.sockets)  # presence unreadable:
    return pushed  # sent to every process, not marked, no one told on their channel


def _published_key(message_id):
    return f"casting:chat:published:{message_id}"


def _burst_key(conversation_id, user_id):
    return f"casting:chat:burst:{conversation_id}:{user_id}"


# One round trip moves a read position forward: the participant's row (locked), the message, the
# receipts of every message from the others up to it, and the new position; the position never moves back.
_READ = text("""
WITH me AS (
    SELECT last_read_message_id AS position, last_read_at FROM conversation_participants
    WHERE conversation_id = :conversation_id AND user_id = :user_id FOR UPDATE
), target AS (
    SELECT id FROM messages WHERE id = :message_id AND conversation_id = :conversation_id
), moved AS (
    UPDATE conversation_participants p SET last_read_message_id = :message_id, last_read_at = :now
    FROM me, target
    WHERE p.conversation_id = :conversation_id AND p.user_id = :user_id AND me.position < :message_id
    RETURNING p.last_read_message_id, p.last_read_at
), receipts AS (
    INSERT INTO message_reads (message_id, user_id, read_at)
    SELECT m.id, :user_id, :now FROM messages m, me, moved
    WHERE m.conversation_id = :conversation_id AND m.id > me.position AND m.id <= :message_id
      AND m.sender_id IS DISTINCT FROM :user_id
    ON CONFLICT DO NOTHING
)
SELECT (SELECT coalesce(array_agg(user_id ORDER BY user_id), '{}') FROM conversation_participants
        WHERE conversation_id = :conversation_id) AS ids,
       EXISTS (SELECT 1 FROM me) AS member, EXISTS (SELECT 1 FROM target) AS found,
       EXISTS (SELECT 1 FROM moved) AS moved,
       coalesce((SELECT last_read_message_id FROM moved), (SELECT position FROM me)) AS position,
       coalesce((SELECT last_read_at FROM moved), (SELECT last_read_at FROM me)) AS read_at
""").bindparams(bindparam("now", type_=DateTime(timezone=True)))


def mark_read(user, conversation_id, message_id, skip_sid=None, vouch=None):
    """Everything up to `message_id` is read by `user`; the others (and the user's other sockets) hear it.

    Returns the receipt: the user's read position, which never moves back. One Redis round trip first
    (where the participants are, and a socket's sign-in), then one statement that commits on its own,
    then the publish when the position moved.
    """
    user_ids = members_cached(conversation_id)
    if user.id not in user_ids:
        raise ApiError(Codes.CONVERSATION_NOT_FOUND)
    with redis.pipeline(transaction=False) as pipe:  # where the participants are, and the sign-in
        presence.ask_sockets(pipe, user_ids)
        sockets = presence.sockets_of(user_ids, _vouched(vouch, pipe))
    params = {"conversation_id": conversation_id, "user_id": user.id, "message_id": message_id, "now": _now()}
    if alone():
        [row] = at_once(_READ, params)
    else:
        row = db.session.execute(_READ, params).one()
        db.session.commit()
    if not row.member:
        raise ApiError(Codes.CONVERSATION_NOT_FOUND)
    if not row.found:
        raise ApiError(Codes.MESSAGE_NOT_FOUND)
    receipt = {"conversation_id": conversation_id, "user_id": user.id, "message_id": row.position,
               "read_at": row.read_at}
    if row.moved:
        def then(pipe, sockets):  # the reader's burst ends with the publish
            pipe.delete(_burst_key(conversation_id, user.id))
        _emit("message:read", receipt, user_ids, skip_sid, sockets=sockets, then=then)
    return receipt


def typing(user, conversation_id, is_typing, vouch=None):
    """Tell the others that `user` is (or stopped) typing; a `true` lapses by itself after `expires_in` seconds.

    No database: the participants come from this process's memory; one Redis round trip counts it,
    finds the others' sockets (and checks a socket's sign-in), one more publishes it (none when the
    others' sockets are all on this process)."""
    user_ids = members_cached(conversation_id)
    others = [member for member in user_ids if member != user.id]
    with redis.pipeline(transaction=False) as pipe:
        throttle.hit_on(pipe, "CHAT_TYPING_LIMIT", "chat-typing", user.id)
        presence.ask_sockets(pipe, others)
        counted, *replies = _vouched(vouch, pipe)
    if user.id not in user_ids:
        raise ApiError(Codes.CONVERSATION_NOT_FOUND)
    if not counted:
        wait = throttle.wait_seconds("CHAT_TYPING_LIMIT", "chat-typing", user.id)
        raise ApiError(Codes.RATE_LIMITED, details={"retry_after": wait}, headers={"Retry-After": str(wait)})
    return announce_typing(user.id, conversation_id, is_typing, user_ids, presence.sockets_of(others, replies))


def announce_typing(user_id, conversation_id, is_typing, participant_ids=None, sockets=None):
    """Tell the others; returns the payload as they get it (a `Wire`, the typist's ack too)."""
    payload = wire("typing", {"conversation_id": conversation_id, "user_id": user_id, "is_typing": is_typing,
                              "expires_in": current_app.config["CHAT_TYPING_SECONDS"] if is_typing else 0})
    others = [member for member in participant_ids or members(conversation_id) if member != user_id]
    _emit("typing", payload, others, sockets=sockets)
    return payload


# The user's conversations and who is in each, newest first (at most MAX_CONTACTS conversations).
_CONVERSATIONS_OF = text("""
SELECT p.conversation_id, array_agg(p.user_id ORDER BY p.user_id) AS ids
FROM conversation_participants p
WHERE p.conversation_id IN (SELECT conversation_id FROM conversation_participants WHERE user_id = :user_id)
GROUP BY p.conversation_id ORDER BY p.conversation_id DESC LIMIT :most
""")


def contacts(user_id, remember=False):
    """Everyone who shares a conversation with the user (the people who see their presence), at most
    MAX_CONTACTS, from their newest MAX_CONTACTS conversations. With `remember` (a socket connecting),
    the participants of the newest MEMBERS_WARM of them are remembered as `members_cached` would, from
    the same statement: the socket's first message or receipt in each then needs no lookup of its own."""
    params = {"user_id": user_id, "most": MAX_CONTACTS}
    rows = at_once(_CONVERSATIONS_OF, params) if alone() else db.session.execute(_CONVERSATIONS_OF, params).all()
    if remember and len(_members_seen) + MEMBERS_WARM <= MEMBERS_CACHED:
        until = time.monotonic() + MEMBERS_TTL
        for row in rows[:MEMBERS_WARM]:
            _members_seen[row.conversation_id] = (until, list(row.ids))
    people = {}
    for row in rows:
        people.update(dict.fromkeys(member for member in row.ids if member != user_id))
    return list(people)[:MAX_CONTACTS]


def announce_presence(user_id, online, people=None, sockets=None):
    """Tell the user's contacts (`people`, when already known, and their `sockets`) that they came online or left."""
    _emit("presence", {"user_id": user_id, "online": online}, contacts(user_id) if people is None else people,
          sockets=sockets)


def reported_message(reporter, message_id):
    """A message's sender, when the reporter is in its conversation (for reports to the safety team)."""
    message = db.session.get(Message, message_id)
    if message is not None and db.session.get(Participant, (message.conversation_id, reporter.id)):
        return message.sender_id
    return None
