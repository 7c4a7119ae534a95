"""Provider webhooks: signature checks, delivery reports, and inbound WhatsApp messages.

Inbound messages (button replies, text) are handed to handlers that other domains register with
`@on_inbound("button")`; they run in a worker, once per WhatsApp message id.
"""
import base64
import hashlib
import hmac
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from redis.exceptions import RedisError

from casting.kernel.extensions import redis
from casting.kernel.jobs import enqueue
from casting.notifications import apply_status
from casting.webhooks import tasks

log = logging.getLogger(__name__)
WHATSAPP_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}
TWILIO_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "undelivered": "failed",
                   "failed": "failed"}
MSG91_STATUSES = {"1": "delivered", "delivered": "delivered", "delivrd": "delivered", "2": "failed",
                  "failed": "failed", "undelivered": "failed", "rejected": "failed", "16": "failed"}
INBOUND_SEEN_TTL = 2 * 86400
INBOUND_CLAIM_TTL = 60
_handlers = defaultdict(list)


@dataclass(frozen=True)
class InboundMessage:
    kind: str
    sender: str
    message_id: str
    payload: str | None
    text: str | None
    received_at: str


def on_inbound(kind, handler=None):
    """Run `handler(message)` for each inbound WhatsApp message of `kind` (`button` or `text`); without
    `handler`, a decorator. A domain registers its handlers in its `init_app`."""
    def register(handler):
        if handler not in _handlers[kind]:
            _handlers[kind].append(handler)
        return handler
    return register if handler is None else register(handler)


def run_inbound_handlers(message):
    for handler in _handlers[message.kind]:
        handler(message)
    return len(_handlers[message.kind])


def valid_meta_signature(raw_body, header, app_secret):
    """`X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw body with the app secret."""
    if not (app_secret and header and header.startswith("sha256=")):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def valid_twilio_signature(url, form, header, auth_token):
    """`X-Twilio-Signature`: base64 HMAC-SHA1 of the URL followed by every sorted key and value."""
    if not (auth_token and header):
        return False
    signed = url + "".join(key + value for key, value in sorted(form))
    expected = base64.b64encode(hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest())
    return hmac.compare_digest(expected.decode(), header)


def valid_token(offered, expected):
    return bool(expected and offered) and hmac.compare_digest(offered.encode(), expected.encode())


def _at(timestamp):
    try:
        return datetime.fromtimestamp(int(timestamp), timezone.utc)
    except (TypeError, ValueError):
        return None


def _inbound(message):
    kind = message.get("type")
    payload = text = None
    if kind == "button":
        payload, text = message.get("button", {}).get("payload"), message.get("button", {}).get("text")
    elif kind == "interactive":
        reply = message.get("interactive", {}).get("button_reply", {})
        kind, payload, text = "button", reply.get("id"), reply.get("title")
    elif kind == "text":
        text = message.get("text", {}).get("body")
    else:
        return None
    received_at = _at(message.get("timestamp")) or datetime.now(timezone.utc)
    return InboundMessage(kind=kind, sender="+" + str(message.get("from", "")).lstrip("+"),
                          message_id=str(message.get("id", "")), payload=payload, text=text,
                          received_at=received_at.isoformat())


def _hand_over(message):
    """Queue the handlers for a message, once per WhatsApp message id (Meta retries webhooks).

    The id is claimed for a minute, the job queued, and only then is the id marked seen for two days: if
    queuing fails the claim is dropped and the error answers the webhook (a 503), so Meta's retry queues it.
    """
    key = f"casting:webhook:inbound:{message.message_id}"
    if not redis.set(key, "queuing", nx=True, ex=INBOUND_CLAIM_TTL):
        return False
    try:
        enqueue("default", tasks.handle_inbound, asdict(message))
    except Exception:
        try:
            redis.delete(key)
        except RedisError:
            pass  # the claim lapses by itself within INBOUND_CLAIM_TTL
        raise
    redis.set(key, "queued", ex=INBOUND_SEEN_TTL)
    return True


def handle_whatsapp(payload):
    """Apply the delivery statuses and hand over the inbound messages of one webhook call."""
    statuses = messages = 0
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            for status in value.get("statuses") or []:
                errors = status.get("errors") or [{}]
                mapped = WHATSAPP_STATUSES.get(status.get("status"))
                if mapped and apply_status(str(status.get("id")), mapped, _at(status.get("timestamp")),
                                           errors[0].get("title")):
                    statuses += 1
            for raw in value.get("messages") or []:
                message = _inbound(raw)
                if message and _hand_over(message):
                    messages += 1
    return {"statuses": statuses, "messages": messages}


def handle_twilio(form):
    status = TWILIO_STATUSES.get(form.get("MessageStatus", "").lower())
    reason = form.get("ErrorCode") and f"Twilio error {form['ErrorCode']}"
    updated = bool(status) and apply_status(form.get("MessageSid", ""), status, reason=reason)
    return {"statuses": int(updated), "messages": 0}


def handle_msg91(reports):
    """MSG91 delivery reports: one object or a list, each with `requestId` and a status."""
    updated = 0
    for report in reports if isinstance(reports, list) else [reports]:
        if not isinstance(report, dict):
            continue
        status = MSG91_STATUSES.get(str(report.get("status", report.get("desc", ""))).lower())
        if status and apply_status(str(report.get("requestId", "")), status,
                                   reason=report.get("desc") and f"MSG91: {report['desc']}"):
            updated += 1
    return {"statuses": updated, "messages": 0}
