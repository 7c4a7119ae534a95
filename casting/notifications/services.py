"""Notifications: one way to send, with idempotency, a flood guard, retries, fallback and tracking.

`notify()` checks the template's parameters, writes a `notifications` row and enqueues a job; the
job sends through the configured provider and records the outcome. Secret parameters (an OTP) are
never stored in PostgreSQL: they wait in Redis, for a few minutes, until the message is settled.
"""
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from rq import Callback, Retry
from rq.job import JobStatus
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from casting.kernel import throttle
from casting.kernel.extensions import db, redis
from casting.kernel.jobs import enqueue, get_queue
from casting.notifications.models import Channel, Notification, NotificationStatus
from casting.notifications.providers import (OUTBOX_KEY, Message, PermanentDeliveryError,
                                             TransientDeliveryError, provider_for)
from casting.notifications.templates import get_template
from casting.notifications import tasks

log = logging.getLogger(__name__)
FALLBACK = {Channel.WHATSAPP: Channel.SMS}
PENDING_JOB = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
REQUEUE_AFTER = timedelta(minutes=1)  # a job is queued the moment its row commits; a minute on, it never was


class NotificationError(ValueError):
    """The notification was refused before anything was queued; the message says why."""


class NotificationFlood(NotificationError):
    """Too many notifications to one recipient in the configured window."""


@dataclass(frozen=True)
class Recipient:
    user_id: int | None = None
    phone: str | None = None
    email: str | None = None

    @classmethod
    def for_user(cls, user):
        return cls(user.id, user.phone, user.email)

    def address(self, channel):
        return self.email if channel == Channel.EMAIL else self.phone


def _now():
    return datetime.now(timezone.utc)


def _secret_key(notification_id):
    return f"casting:notify:secret:{notification_id}"


def _job_id(notification_id):
    return f"notification-{notification_id}"


def _guard_flood(template, address):
    """Sign-in codes have a budget of their own, so no other message (an invitation) can use it up."""
    setting, name = ("NOTIFY_AUTH_FLOOD_LIMIT", "notify-auth") if template.authentication else (
        "NOTIFY_FLOOD_LIMIT", "notify")
    if not throttle.hit(setting, name, address):
        raise NotificationFlood("Too many messages to this recipient; try again later.")


def notify(template_name, params, recipient, channel=Channel.WHATSAPP, language="en",
           idempotency_key=None, fallback_from=None):
    """Create a notification and queue its delivery; the same idempotency key never sends twice."""
    template = get_template(template_name)
    template.check(params, language)
    channel = Channel(channel)
    address = recipient.address(channel)
    if not address:
        raise NotificationError(f"The recipient has no {'email' if channel == Channel.EMAIL else 'phone'}.")
    key = idempotency_key or uuid.uuid4().hex
    existing = db.session.scalar(select(Notification).where(Notification.idempotency_key == key))
    if existing:
        return existing
    if fallback_from is None:
        _guard_flood(template, address)
    notification = Notification(user_id=recipient.user_id, channel=channel, recipient=address,
                                template=template.name, template_version=template.version,
                                language=language, params=template.stored_params(params),
                                idempotency_key=key, fallback_from_id=fallback_from)
    db.session.add(notification)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return db.session.scalar(select(Notification).where(Notification.idempotency_key == key))
    secrets = {name: params[name] for name in template.secret_params}
    if secrets:
        ttl = current_app.config["NOTIFY_SECRET_TTL"]
        redis.setex(_secret_key(notification.id), ttl, json.dumps(secrets))
    _enqueue_delivery(notification.id, _queue_name(template))
    return notification


def _queue_name(template):
    return "high" if template.urgent else "default"


def preferred_channel(person):
    """The person's chosen channel when they can be reached on it; else WhatsApp with a phone, email without."""
    chosen = person.notify_channel
    if chosen is not None and Recipient.for_user(person).address(chosen):
        return chosen
    return Channel.WHATSAPP if person.phone else Channel.EMAIL


def notify_user(person, template_name, params, key):
    """Tell a user on their preferred channel; never raises, so a job working through a batch goes on.

    A refusal (no address, the flood guard) is logged as such; any other failure for this person is
    rolled back and logged with ids only (no name, address or parameter values), and the next one is told.
    """
    user_id = person.id
    try:
        return notify(template_name, params, Recipient.for_user(person), channel=preferred_channel(person),
                      idempotency_key=key)
    except NotificationError as error:
        log.warning("message not sent", extra={"user_id": user_id, "template": template_name,
                                               "reason": str(error)})
    except Exception as error:
        db.session.rollback()
        log.error("message failed for one recipient", extra={"user_id": user_id, "template": template_name,
                                                             "error": type(error).__name__})
    return None


def _enqueue_delivery(notification_id, queue_name):
    backoff = current_app.config["NOTIFY_BACKOFF_SECONDS"]
    enqueue(queue_name, tasks.deliver_notification, notification_id,
            job_id=_job_id(notification_id), retry=Retry(max=len(backoff), interval=backoff),
            on_failure=Callback(tasks.delivery_failed),
            result_ttl=3600, failure_ttl=7 * 86400)


def _secrets(notification_id):
    stored = redis.get(_secret_key(notification_id))
    return json.loads(stored) if stored else {}


def deliver(notification_id):
    """Send one queued notification (the row stays locked while the provider is called).

    Returns what happened. A notification that is no longer queued is skipped, so a re-enqueued or
    duplicated job never sends twice. A transient error is re-raised for RQ to retry with backoff.
    """
    notification = db.session.scalar(select(Notification).where(Notification.id == notification_id)
                                     .with_for_update())
    if notification is None or notification.status != NotificationStatus.QUEUED:
        db.session.rollback()
        return "skipped"
    template = get_template(notification.template)
    secrets = _secrets(notification_id)
    if set(template.secret_params) - set(secrets):
        _fail(notification, "the secret expired before it could be sent")
        return "failed"
    notification.attempts += 1
    provider = provider_for(notification.channel.value, current_app.config)
    params = template.complete({**notification.params, **secrets}, notification.language)
    message = Message(notification.id, notification.channel.value, notification.recipient, template,
                      notification.language, params)
    try:
        provider_id = provider.send(message)
    except TransientDeliveryError as error:
        notification.failure_reason = error.reason
        db.session.commit()
        raise
    except PermanentDeliveryError as error:
        _fail(notification, error.reason)
        return "failed"
    notification.provider, notification.provider_message_id = provider.name, provider_id
    notification.status, notification.sent_at = NotificationStatus.SENT, _now()
    notification.failure_reason = None
    db.session.commit()
    return "sent"


def give_up(notification_id, reason):
    """The last retry failed: mark the notification failed (and fall back) if it is still queued."""
    notification = db.session.scalar(select(Notification).where(Notification.id == notification_id)
                                     .with_for_update())
    if notification is not None and notification.status == NotificationStatus.QUEUED:
        _fail(notification, notification.failure_reason or reason)
    else:
        db.session.rollback()


def _fail(notification, reason, at=None):
    """Mark failed and commit; WhatsApp falls back to SMS with the same content."""
    notification.status, notification.failed_at = NotificationStatus.FAILED, at or _now()
    notification.failure_reason = reason[:255]
    db.session.commit()
    log.info("notification failed", extra={"notification_id": notification.id, "reason": reason})
    fallback = FALLBACK.get(notification.channel)
    if fallback is None:
        redis.delete(_secret_key(notification.id))
        return
    params = {**notification.params, **_secrets(notification.id)}
    try:
        notify(notification.template, params, Recipient(notification.user_id, phone=notification.recipient),
               channel=fallback, language=notification.language,
               idempotency_key=f"{notification.idempotency_key}:{fallback.value}",
               fallback_from=notification.id)
    except NotificationError as error:
        log.warning("no fallback for notification", extra={"notification_id": notification.id,
                                                           "reason": str(error)})


_TIMESTAMP = {NotificationStatus.SENT: "sent_at", NotificationStatus.DELIVERED: "delivered_at",
              NotificationStatus.READ: "read_at"}


def apply_status(provider_message_id, status, at=None, reason=None):
    """Record a provider's delivery report; idempotent, and a late or repeated report changes nothing."""
    notification = db.session.scalar(select(Notification).where(
        Notification.provider_message_id == provider_message_id).with_for_update())
    status = NotificationStatus(status)
    if notification is None or status.rank <= notification.status.rank:
        db.session.rollback()
        return False
    if status == NotificationStatus.FAILED:
        _fail(notification, reason or "the provider reported a failure", at)
        return True
    notification.status = status
    setattr(notification, _TIMESTAMP[status], at or _now())
    if status == NotificationStatus.READ and notification.delivered_at is None:
        notification.delivered_at = notification.read_at
    db.session.commit()
    if status in (NotificationStatus.DELIVERED, NotificationStatus.READ):
        redis.delete(_secret_key(notification.id))
    return True


def reconcile_stale():
    """Notifications stuck in `queued` with no job left to send them; returns {"requeued": n, "settled": n}.

    One with no job record at all, `REQUEUE_AFTER` after its last change, never reached the queue (the process
    died between committing it and queueing its job, or Redis lost the queue): nothing tried to send it, so it
    is queued again. One still queued `NOTIFY_STALE_MINUTES` after its last change with no job pending is
    settled as failed (then its fallback): a job that died half-way cannot be told from one that never ran.
    """
    now = _now()
    cutoff = now - timedelta(minutes=current_app.config["NOTIFY_STALE_MINUTES"])
    stuck = db.session.execute(select(Notification.id, Notification.template, Notification.updated_at).where(
        Notification.status == NotificationStatus.QUEUED, Notification.updated_at < now - REQUEUE_AFTER)).all()
    db.session.rollback()
    done = {"requeued": 0, "settled": 0}
    statuses = _job_statuses([notification_id for notification_id, _, _ in stuck])
    for (notification_id, template, updated_at), status in zip(stuck, statuses):
        if status is None and updated_at >= cutoff:
            _enqueue_delivery(notification_id, _queue_name(get_template(template)))
            done["requeued"] += 1
        elif updated_at < cutoff and status not in PENDING_JOB:
            give_up(notification_id, "the delivery job was lost")
            done["settled"] += 1
    if done["requeued"]:
        log.warning("notifications queued again: their jobs never reached the queue", extra=done)
    return done


def _job_statuses(notification_ids):
    """The status of each notification's delivery job (None: no job record), all in one round trip."""
    queue = get_queue()
    jobs = queue.job_class.fetch_many([_job_id(notification_id) for notification_id in notification_ids],
                                      connection=queue.connection)
    return [None if job is None else job.get_status(refresh=False) for job in jobs]


def dev_outbox(page, per_page):
    """The console provider's messages, newest first, as (items, total)."""
    start = (page - 1) * per_page
    with redis.pipeline() as pipe:
        pipe.lrange(OUTBOX_KEY, start, start + per_page - 1)
        pipe.llen(OUTBOX_KEY)
        items, total = pipe.execute()
    return [json.loads(item) for item in items], total
