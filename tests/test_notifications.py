"""The notifications layer: providers' exact requests, retries, fallback, idempotency and guards."""
import base64
import json
import logging
import socket
from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from casting.kernel.extensions import db, redis
from casting.notifications import services
from casting.notifications.models import Notification
from casting.notifications.services import NotificationError, NotificationFlood, Recipient, notify
from casting.notifications.templates import TemplateError
from tests.support import run_jobs

PHONE = "+919876543210"
OTP = {"code": "482913", "minutes": 10}
INVITE = {"talent_name": "Asha", "role": "Lead", "production": "Monsoon Diaries", "date": "2 Dec 2026",
          "venue": "Andheri West, Mumbai", "invitation_id": 41}
WHATSAPP_OK = (200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.OK1"}]})
MSG91_OK = (200, {"type": "success", "message": "msg91-req-1"})


@pytest.fixture
def provider_app(make_app, provider_server):
    url = provider_server.url
    return make_app(
        WHATSAPP_PROVIDER="cloud", WHATSAPP_API_BASE=url, WHATSAPP_PHONE_NUMBER_ID="1098765",
        WHATSAPP_ACCESS_TOKEN="wa-secret-token", SMS_PROVIDER="msg91", MSG91_API_BASE=url,
        MSG91_AUTH_KEY="msg91-key", MSG91_SENDER_ID="CASTNG", MSG91_ENTITY_ID="1101234567890",
        TWILIO_API_BASE=url, TWILIO_ACCOUNT_SID="AC123", TWILIO_AUTH_TOKEN="tw-token",
        TWILIO_FROM="+15005550006", TWILIO_STATUS_CALLBACK_URL="", NOTIFY_BACKOFF_SECONDS=[0, 0])


def _send(app, template, params, channel="whatsapp", **kwargs):
    with app.app_context():
        notification = notify(template, params, Recipient(phone=PHONE, email="asha@example.in"),
                              channel=channel, **kwargs)
        return notification.id


def _get(app, notification_id):
    with app.app_context():
        return db.session.get(Notification, notification_id)


def _all(app):
    with app.app_context():
        return db.session.scalars(select(Notification).order_by(Notification.id)).all()


def test_whatsapp_otp_is_an_authentication_template_with_copy_code(provider_app, provider_server):
    provider_server.answer(WHATSAPP_OK)
    notification_id = _send(provider_app, "otp", OTP, language="hi")
    run_jobs(provider_app)
    [sent] = provider_server.requests
    assert (sent.method, sent.path) == ("POST", "/v21.0/1098765/messages")
    assert sent.headers["Authorization"] == "Bearer wa-secret-token"
    assert sent.json() == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "919876543210",
        "type": "template", "template": {"name": "casting_otp", "language": {"code": "hi"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
            {"type": "button", "sub_type": "url", "index": "0",
             "parameters": [{"type": "text", "text": "482913"}]}]}}
    notification = _get(provider_app, notification_id)
    assert (notification.status.value, notification.provider_message_id, notification.attempts) == (
        "sent", "wamid.OK1", 1)


def test_whatsapp_invite_carries_quick_reply_buttons(provider_app, provider_server):
    provider_server.answer(WHATSAPP_OK)
    _send(provider_app, "audition_invite", INVITE)
    run_jobs(provider_app)
    components = provider_server.requests[0].json()["template"]["components"]
    assert components[0]["parameters"][0] == {"type": "text", "text": "Asha"}
    assert [c["parameters"][0]["payload"] for c in components[1:]] == [
        "rsvp:41:accept", "rsvp:41:decline", "rsvp:41:reschedule"]
    assert {c["sub_type"] for c in components[1:]} == {"quick_reply"}


def test_msg91_sms_carries_the_dlt_fields(provider_app, provider_server):
    provider_server.answer(MSG91_OK)
    notification_id = _send(provider_app, "otp", OTP, channel="sms")
    run_jobs(provider_app)
    [sent] = provider_server.requests
    assert sent.path == "/api/v5/flow"
    assert sent.headers["authkey"] == "msg91-key"
    assert sent.json() == {"template_id": "casting_otp_flow", "sender": "CASTNG", "short_url": "0",
                           "DLT_TE_ID": "1107172000000000101", "PE_ID": "1101234567890",
                           "recipients": [{"mobiles": "919876543210", "code": "482913", "minutes": "10"}]}
    assert _get(provider_app, notification_id).provider_message_id == "msg91-req-1"


def test_twilio_sms_is_form_encoded_with_basic_auth(make_app, provider_server):
    app = make_app(SMS_PROVIDER="twilio", TWILIO_API_BASE=provider_server.url, TWILIO_ACCOUNT_SID="AC123",
                   TWILIO_AUTH_TOKEN="tw-token", TWILIO_FROM="+15005550006",
                   TWILIO_STATUS_CALLBACK_URL="https://api.casting.in/api/webhooks/sms/twilio")
    provider_server.answer((201, {"sid": "SM42", "status": "queued"}))
    notification_id = _send(app, "audition_invite", INVITE, channel="sms")
    run_jobs(app)
    [sent] = provider_server.requests
    assert sent.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"AC123:tw-token").decode()
    form = sent.form()
    assert (form["To"], form["From"]) == (PHONE, "+15005550006")
    assert form["Body"].startswith("Hi Asha, you are invited to audition for Lead in Monsoon Diaries")
    assert form["StatusCallback"] == "https://api.casting.in/api/webhooks/sms/twilio"
    assert _get(app, notification_id).provider_message_id == "SM42"


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def test_email_goes_through_smtp(make_app):
    inbox = _Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app = make_app(EMAIL_PROVIDER="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False,
                       SMTP_FROM="Casting <no-reply@casting.in>")
        notification_id = _send(app, "audition_invite", INVITE, channel="email")
        run_jobs(app)
    finally:
        controller.stop()
    [envelope] = inbox.messages
    assert envelope.rcpt_tos == ["asha@example.in"]
    text = envelope.content.decode()
    assert "Subject: Audition invitation: Lead in Monsoon Diaries" in text
    assert _get(app, notification_id).status.value == "sent"


def test_transient_errors_are_retried_until_sent(provider_app, provider_server):
    provider_server.answer((503, {}), (429, {"error": {"code": 130429}}), WHATSAPP_OK)
    notification_id = _send(provider_app, "audition_invite", INVITE)
    run_jobs(provider_app)
    notification = _get(provider_app, notification_id)
    assert len(provider_server.requests) == 3
    assert (notification.status.value, notification.attempts) == ("sent", 3)
    assert notification.failure_reason is None


def test_a_permanent_error_is_not_retried_and_falls_back_to_sms(provider_app, provider_server):
    provider_server.answer((400, {"error": {"code": 132001, "message": "Template does not exist"}}), MSG91_OK)
    first = _send(provider_app, "otp", OTP)
    run_jobs(provider_app)
    whatsapp, sms = _all(provider_app)
    assert [r.path for r in provider_server.requests] == ["/v21.0/1098765/messages", "/api/v5/flow"]
    assert (whatsapp.id, whatsapp.status.value, whatsapp.attempts) == (first, "failed", 1)
    assert "132001" in whatsapp.failure_reason
    assert (sms.channel.value, sms.status.value, sms.fallback_from_id) == ("sms", "sent", first)
    assert provider_server.requests[1].json()["recipients"][0]["code"] == "482913"


def test_a_number_not_on_whatsapp_falls_back_to_sms(provider_app, provider_server):
    provider_server.answer((400, {"error": {"code": 131026, "message": "Message undeliverable"}}), MSG91_OK)
    _send(provider_app, "audition_invite", INVITE)
    run_jobs(provider_app)
    assert [(n.channel.value, n.status.value) for n in _all(provider_app)] == [
        ("whatsapp", "failed"), ("sms", "sent")]


def test_exhausted_retries_fail_and_fall_back(provider_app, provider_server):
    provider_server.answer((500, {}), (500, {}), (502, {}), MSG91_OK)
    _send(provider_app, "audition_invite", INVITE)
    run_jobs(provider_app)
    whatsapp, sms = _all(provider_app)
    assert (whatsapp.status.value, whatsapp.attempts) == ("failed", 3)
    assert "HTTP 502" in whatsapp.failure_reason
    assert sms.status.value == "sent"


def test_a_duplicated_job_never_sends_twice(provider_app, provider_server):
    provider_server.answer(WHATSAPP_OK)
    notification_id = _send(provider_app, "audition_invite", INVITE)
    with provider_app.app_context():
        services._enqueue_delivery(notification_id, "default")
        services._enqueue_delivery(notification_id, "low")
    run_jobs(provider_app)
    run_jobs(provider_app)
    assert len(provider_server.requests) == 1


def test_the_same_idempotency_key_sends_once(provider_app, provider_server):
    provider_server.answer(WHATSAPP_OK)
    first = _send(provider_app, "audition_invite", INVITE, idempotency_key="invite-41")
    second = _send(provider_app, "audition_invite", INVITE, idempotency_key="invite-41")
    run_jobs(provider_app)
    assert first == second and len(_all(provider_app)) == 1 and len(provider_server.requests) == 1


def test_a_missing_parameter_fails_at_enqueue_time(provider_app):
    with pytest.raises(TemplateError, match="missing venue"):
        _send(provider_app, "audition_invite", {k: v for k, v in INVITE.items() if k != "venue"})
    with pytest.raises(TemplateError, match="unknown colour"):
        _send(provider_app, "otp", {**OTP, "colour": "red"})
    with pytest.raises(TemplateError, match="Unknown language"):
        _send(provider_app, "otp", OTP, language="fr")
    assert _all(provider_app) == []


def test_a_recipient_without_an_address_is_refused(provider_app):
    with provider_app.app_context(), pytest.raises(NotificationError, match="no email"):
        notify("otp", OTP, Recipient(phone=PHONE), channel="email")


def test_the_flood_guard_stops_a_burst_to_one_recipient(make_app):
    app = make_app(NOTIFY_AUTH_FLOOD_LIMIT="2/hour")  # sign-in codes: a budget of their own
    _send(app, "otp", OTP)
    _send(app, "otp", OTP)
    with pytest.raises(NotificationFlood):
        _send(app, "otp", OTP)
    with app.app_context():
        notify("otp", OTP, Recipient(phone="+919812345678"))


def test_secrets_are_never_stored_or_logged(provider_app, provider_server, caplog):
    provider_server.answer((400, {"error": {"code": 131026}}), MSG91_OK)
    with caplog.at_level(logging.DEBUG):
        _send(provider_app, "otp", OTP)
        run_jobs(provider_app)
    assert all(n.params == {"minutes": 10} for n in _all(provider_app))
    assert "482913" not in caplog.text
    assert "wa-secret-token" not in caplog.text and "msg91-key" not in caplog.text


def test_an_expired_secret_fails_instead_of_sending_nothing_useful(provider_app, provider_server):
    notification_id = _send(provider_app, "otp", OTP, channel="sms")
    with provider_app.app_context():
        redis.delete(services._secret_key(notification_id))
    run_jobs(provider_app)
    assert provider_server.requests == []
    assert _get(provider_app, notification_id).failure_reason == "the secret expired before it could be sent"


def test_a_notification_whose_job_was_lost_is_settled_not_stuck(provider_app, provider_server):
    provider_server.answer(MSG91_OK)
    notification_id = _send(provider_app, "audition_invite", INVITE, channel="sms")
    with provider_app.app_context():
        services.get_queue().connection.delete(*services.get_queue().connection.keys("rq:*"))
        assert services.reconcile_stale() == {"requeued": 0, "settled": 0}
        db.session.execute(update(Notification).values(
            updated_at=datetime.now(timezone.utc) - timedelta(hours=1)))
        db.session.commit()
        assert services.reconcile_stale() == {"requeued": 0, "settled": 1}
    notification = _get(provider_app, notification_id)
    assert (notification.status.value, notification.failure_reason) == ("failed", "the delivery job was lost")


def test_a_notification_whose_job_never_reached_the_queue_is_queued_again_and_sent(provider_app, provider_server):
    """A process killed between committing a notification and queueing its job leaves a row with no job record:
    the reconcile job queues it again (a minute on), and it is sent once."""
    provider_server.answer(MSG91_OK)
    notification_id = _send(provider_app, "audition_invite", INVITE, channel="sms")
    with provider_app.app_context():
        connection = services.get_queue().connection
        connection.delete(*connection.keys("rq:*"))  # as if its job had never been queued
        db.session.execute(update(Notification).values(
            updated_at=datetime.now(timezone.utc) - timedelta(minutes=2)))
        db.session.commit()
        assert services.reconcile_stale() == {"requeued": 1, "settled": 0}
        assert services.reconcile_stale() == {"requeued": 0, "settled": 0}  # its job is pending now
    run_jobs(provider_app)
    assert _get(provider_app, notification_id).status.value == "sent"
    assert len(provider_server.requests) == 1


def test_the_reconcile_job_runs_when_due_and_once_per_interval(provider_app):
    """The schedule is a number in Redis, not a job record RQ can expire: once a run is due it is enqueued,
    and the next one is due NOTIFY_RECONCILE_MINUTES later, whatever happened to the job in between."""
    import time

    from rq.registry import ScheduledJobRegistry

    from casting.kernel.jobs import enqueue_due_periodic_jobs, periodic_intervals

    path = "casting.notifications.tasks.reconcile_notifications"
    with provider_app.app_context():
        connection = provider_app.extensions["redis"]
        intervals = {path: periodic_intervals(provider_app)[path]}
        now = time.time()
        assert enqueue_due_periodic_jobs(connection, intervals, now) == [path]
        assert enqueue_due_periodic_jobs(connection, intervals, now + 60) == []
        [job] = services.get_queue("low").get_jobs()
        job.delete()  # the run's record is gone (expired, failed, lost with a worker): the schedule is not
        assert enqueue_due_periodic_jobs(connection, intervals, now + 5 * 60) == [path]
        assert ScheduledJobRegistry(queue=services.get_queue("low")).get_job_ids() == []


def test_console_keeps_a_dev_outbox_shown_only_in_development(make_app):
    dev = make_app(APP_ENV="development")
    notification_id = _send(dev, "otp", OTP)
    run_jobs(dev)
    page = dev.test_client().get("/api/dev/outbox?per_page=5").json
    assert page["meta"] == {"page": 1, "per_page": 5, "total": 1, "total_pages": 1}
    [entry] = page["items"]
    assert (entry["id"], entry["channel"], entry["to"], entry["template"]) == (
        notification_id, "whatsapp", PHONE, "otp")
    assert entry["body"].startswith("482913 is your Casting verification code")
    assert make_app(APP_ENV="test").test_client().get("/api/dev/outbox").status_code == 404
    assert dev.test_client().get("/api/dev/outbox?per_page=101").json["code"] == "VALIDATION_001"


def test_templates_list_every_language_for_every_channel():
    from casting.notifications.templates import LANGUAGES, TEMPLATES

    for template in TEMPLATES.values():
        params = {name: "x" for name in template.params}
        for language in LANGUAGES:
            assert template.render(params, language)
            assert template.subject[language].format(**params)
            assert template.dlt_template_id[language]
        assert set(template.whatsapp_body) <= set(template.params)


def test_status_moves_only_forward(provider_app, provider_server):
    provider_server.answer(WHATSAPP_OK)
    notification_id = _send(provider_app, "audition_invite", INVITE)
    run_jobs(provider_app)
    with provider_app.app_context():
        assert services.apply_status("wamid.OK1", "read")
        assert not services.apply_status("wamid.OK1", "delivered")
        assert not services.apply_status("wamid.OK1", "sent")
        assert not services.apply_status("wamid.unknown", "delivered")
    notification = _get(provider_app, notification_id)
    assert notification.status.value == "read"
    assert notification.delivered_at == notification.read_at


def test_delivery_job_payload_holds_no_secret(provider_app):
    notification_id = _send(provider_app, "otp", OTP)
    with provider_app.app_context():
        job = services.get_queue("high").fetch_job(services._job_id(notification_id))
        assert job.args == (notification_id,)
        assert "482913" not in json.dumps(job.to_dict(), default=str)
