"""Provider webhooks: verification, signatures, delivery reports, inbound messages and handlers."""
import base64
import hashlib
import hmac
import json

import pytest

from casting.kernel.extensions import db
from casting.notifications.models import Notification
from casting.notifications.services import Recipient, notify
from casting.webhooks import services as webhooks
from tests.support import run_jobs

APP_SECRET = "meta-app-secret"
PHONE = "+919876543210"
INVITE = {"talent_name": "Asha", "role": "Lead", "production": "Monsoon Diaries", "date": "2 Dec 2026",
          "venue": "Andheri West, Mumbai", "invitation_id": 41}
CALLBACK = "https://api.casting.in/api/webhooks/sms/twilio"


@pytest.fixture
def hook_app(make_app, provider_server):
    url = provider_server.url
    return make_app(
        WHATSAPP_PROVIDER="cloud", WHATSAPP_API_BASE=url, WHATSAPP_PHONE_NUMBER_ID="1098765",
        WHATSAPP_ACCESS_TOKEN="t", WHATSAPP_APP_SECRET=APP_SECRET, WHATSAPP_VERIFY_TOKEN="verify-me",
        SMS_PROVIDER="msg91", MSG91_API_BASE=url, MSG91_AUTH_KEY="k", MSG91_SENDER_ID="CASTNG",
        MSG91_ENTITY_ID="1", MSG91_WEBHOOK_TOKEN="m91", TWILIO_AUTH_TOKEN="tw-token",
        TWILIO_STATUS_CALLBACK_URL=CALLBACK, NOTIFY_BACKOFF_SECONDS=[0])


def _sent_invite(app, provider_server, wamid="wamid.A1"):
    provider_server.answer((200, {"messages": [{"id": wamid}]}))
    with app.app_context():
        notification_id = notify("audition_invite", INVITE, Recipient(phone=PHONE)).id
    run_jobs(app)
    return notification_id


def _signed_post(client, payload, secret=APP_SECRET):
    raw = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return client.post("/api/webhooks/whatsapp", data=raw, content_type="application/json",
                       headers={"X-Hub-Signature-256": signature})


def _statuses(*statuses):
    return {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"statuses": [
        {"id": wamid, "status": status, "timestamp": "1795514400", **extra}
        for wamid, status, extra in statuses]}}]}]}


def _status_of(app, notification_id):
    with app.app_context():
        return db.session.get(Notification, notification_id)


def test_verification_echoes_the_challenge_only_for_the_right_token(hook_app):
    client = hook_app.test_client()
    ok = client.get("/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158")
    assert (ok.status_code, ok.get_data(as_text=True), ok.mimetype) == (200, "1158", "text/plain")
    bad = client.get("/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158")
    assert (bad.status_code, bad.json["code"]) == (403, "WEBHOOK_001")
    assert client.get("/api/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1").status_code == 422


def test_signed_statuses_update_the_notification_in_any_order_and_once(hook_app, provider_server):
    notification_id = _sent_invite(hook_app, provider_server)
    client = hook_app.test_client()
    response = _signed_post(client, _statuses(("wamid.A1", "read", {}), ("wamid.A1", "delivered", {})))
    assert response.json == {"statuses": 1, "messages": 0}
    assert _signed_post(client, _statuses(("wamid.A1", "read", {}))).json["statuses"] == 0
    notification = _status_of(hook_app, notification_id)
    assert notification.status.value == "read"
    assert notification.read_at.timestamp() == 1795514400


def test_a_bad_signature_changes_nothing(hook_app, provider_server):
    notification_id = _sent_invite(hook_app, provider_server)
    client = hook_app.test_client()
    for headers in ({}, {"X-Hub-Signature-256": "sha256=" + "0" * 64}, {"X-Hub-Signature-256": "garbage"}):
        response = client.post("/api/webhooks/whatsapp", json=_statuses(("wamid.A1", "delivered", {})),
                               headers=headers)
        assert (response.status_code, response.json["code"]) == (401, "WEBHOOK_002")
    assert _signed_post(client, _statuses(("wamid.A1", "delivered", {})), secret="other").status_code == 401
    assert _status_of(hook_app, notification_id).status.value == "sent"


def test_a_whatsapp_failure_report_falls_back_to_sms(hook_app, provider_server):
    notification_id = _sent_invite(hook_app, provider_server)
    provider_server.answer((200, {"type": "success", "message": "m91-1"}))
    failed = ("wamid.A1", "failed", {"errors": [{"code": 131049, "title": "Not delivered for engagement"}]})
    assert _signed_post(hook_app.test_client(), _statuses(failed)).json["statuses"] == 1
    run_jobs(hook_app)
    whatsapp = _status_of(hook_app, notification_id)
    assert (whatsapp.status.value, whatsapp.failure_reason) == ("failed", "Not delivered for engagement")
    assert provider_server.requests[-1].path == "/api/v5/flow"


def test_inbound_button_replies_reach_registered_handlers_once(hook_app):
    received = []
    webhooks.on_inbound("button")(received.append)
    try:
        message = {"from": "919876543210", "id": "wamid.IN1", "timestamp": "1795514400", "type": "button",
                   "button": {"payload": "rsvp:41:accept", "text": "Accept"}}
        interactive = {"from": "919876543210", "id": "wamid.IN2", "type": "interactive", "interactive": {
            "type": "button_reply", "button_reply": {"id": "rsvp:41:decline", "title": "Decline"}}}
        payload = {"entry": [{"changes": [{"value": {"messages": [message, interactive]}}]}]}
        client = hook_app.test_client()
        assert _signed_post(client, payload).json == {"statuses": 0, "messages": 2}
        assert _signed_post(client, payload).json == {"statuses": 0, "messages": 0}
        run_jobs(hook_app)
    finally:
        webhooks._handlers["button"].remove(received.append)
    assert [(m.sender, m.payload, m.text) for m in received] == [
        (PHONE, "rsvp:41:accept", "Accept"), (PHONE, "rsvp:41:decline", "Decline")]


def test_an_inbound_message_is_marked_seen_only_once_its_job_is_queued(hook_app, redis_client):
    """Queuing fails (the queue's key is unusable): the webhook fails, Meta retries, and the retry queues it."""
    received = []
    webhooks.on_inbound("button")(received.append)
    try:
        message = {"from": "919876543210", "id": "wamid.LOST1", "timestamp": "1795514400", "type": "button",
                   "button": {"payload": "rsvp:41:accept", "text": "Accept"}}
        payload = {"entry": [{"changes": [{"value": {"messages": [message]}}]}]}
        client = hook_app.test_client()
        redis_client.set("rq:queue:default", "not a list")  # RQ's RPUSH onto it fails
        assert _signed_post(client, payload).status_code == 500
        redis_client.delete("rq:queue:default")
        assert _signed_post(client, payload).json == {"statuses": 0, "messages": 1}
        assert _signed_post(client, payload).json == {"statuses": 0, "messages": 0}  # and once only
        run_jobs(hook_app)
    finally:
        webhooks._handlers["button"].remove(received.append)
    assert [m.payload for m in received] == ["rsvp:41:accept"]


def test_inbound_text_and_unknown_types(hook_app):
    texts = []
    webhooks.on_inbound("text")(texts.append)
    try:
        payload = {"entry": [{"changes": [{"value": {"messages": [
            {"from": "919876543210", "id": "wamid.T1", "type": "text",
             "text": {"body": "Is the shoot paid?"}},
            {"from": "919876543210", "id": "wamid.S1", "type": "sticker", "sticker": {}}]}}]}]}
        assert _signed_post(hook_app.test_client(), payload).json["messages"] == 1
        run_jobs(hook_app)
    finally:
        webhooks._handlers["text"].remove(texts.append)
    assert [m.text for m in texts] == ["Is the shoot paid?"]


def test_a_signed_body_that_is_not_an_object_is_400(hook_app):
    response = _signed_post(hook_app.test_client(), ["not", "an", "object"])
    assert (response.status_code, response.json["code"]) == (400, "REQUEST_001")


def _twilio_signature(form, token="tw-token", url=CALLBACK):
    signed = url + "".join(key + value for key, value in sorted(form.items()))
    return base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def test_twilio_reports_are_checked_and_applied(make_app, provider_server):
    app = make_app(SMS_PROVIDER="twilio", TWILIO_API_BASE=provider_server.url, TWILIO_ACCOUNT_SID="AC1",
                   TWILIO_AUTH_TOKEN="tw-token", TWILIO_FROM="+15005550006",
                   TWILIO_STATUS_CALLBACK_URL=CALLBACK)
    provider_server.answer((201, {"sid": "SM9"}))
    with app.app_context():
        notification_id = notify("audition_invite", INVITE, Recipient(phone=PHONE), channel="sms").id
    run_jobs(app)
    client = app.test_client()
    form = {"MessageSid": "SM9", "MessageStatus": "delivered", "AccountSid": "AC1"}
    forged = client.post("/api/webhooks/sms/twilio", data=form,
                         headers={"X-Twilio-Signature": _twilio_signature(form, token="wrong")})
    assert (forged.status_code, forged.json["code"]) == (401, "WEBHOOK_002")
    good = client.post("/api/webhooks/sms/twilio", data=form,
                       headers={"X-Twilio-Signature": _twilio_signature(form)})
    assert good.json == {"statuses": 1, "messages": 0}
    assert _status_of(app, notification_id).status.value == "delivered"


def test_msg91_reports_need_the_shared_token(hook_app, provider_server):
    provider_server.answer((200, {"type": "success", "message": "m91-req"}))
    with hook_app.app_context():
        notification_id = notify("audition_invite", INVITE, Recipient(phone=PHONE), channel="sms").id
    run_jobs(hook_app)
    client = hook_app.test_client()
    report = [{"requestId": "m91-req", "status": "2", "desc": "Rejected by operator"}]
    assert client.post("/api/webhooks/sms/msg91", json=report).status_code == 401
    assert client.post("/api/webhooks/sms/msg91?token=nope", json=report).status_code == 401
    response = client.post("/api/webhooks/sms/msg91", json=report, headers={"X-Webhook-Token": "m91"})
    assert response.json == {"statuses": 1, "messages": 0}
    notification = _status_of(hook_app, notification_id)
    assert notification.status.value == "failed"
    assert notification.failure_reason == "MSG91: Rejected by operator"


def test_unknown_sms_provider_is_404(hook_app):
    assert hook_app.test_client().post("/api/webhooks/sms/textlocal", json={}).status_code == 404
