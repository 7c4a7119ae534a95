"""Delivery providers: real HTTP and SMTP clients whose base URLs and credentials come from config.

Each `send(message)` returns the provider's message id, or raises TransientDeliveryError (worth a
retry: timeouts, 5xx, 429) or PermanentDeliveryError (the request itself is wrong). Credentials are
never logged, and neither are message bodies: an OTP lives in the body.
"""
import json
import logging
import smtplib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import make_msgid

import requests

from casting.kernel.extensions import redis
from casting.notifications.templates import Template

log = logging.getLogger(__name__)
TIMEOUT = (5, 15)
OUTBOX_KEY = "casting:dev:outbox"
OUTBOX_SIZE = 500


class DeliveryError(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason[:255]


class TransientDeliveryError(DeliveryError):
    """Worth retrying later: the provider timed out, was down or throttled us."""


class PermanentDeliveryError(DeliveryError):
    """Not worth retrying: the provider refused this message."""


class NotOnWhatsApp(PermanentDeliveryError):
    """The number has no WhatsApp account; SMS will do."""


@dataclass(frozen=True)
class Message:
    notification_id: int
    channel: str
    to: str
    template: Template
    language: str
    params: dict

    @property
    def text(self):
        return self.template.render(self.params, self.language)


def _post(url, **kwargs):
    """POST with a timeout; network trouble, 429 and 5xx become TransientDeliveryError."""
    try:
        response = requests.post(url, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as error:
        raise TransientDeliveryError(f"{type(error).__name__} reaching the provider") from error
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientDeliveryError(f"provider answered HTTP {response.status_code}")
    return response


def _json(response):
    try:
        return response.json()
    except ValueError:
        return {}


class WhatsAppCloud:
    """WhatsApp Business Cloud API: template messages, OTP copy-code and quick-reply buttons."""

    name = "whatsapp_cloud"
    NOT_ON_WHATSAPP = {131026}
    THROTTLED = {4, 80007, 130429, 131048, 131056}

    def __init__(self, config):
        self.url = (f"{config['WHATSAPP_API_BASE'].rstrip('/')}/{config['WHATSAPP_API_VERSION']}/"
                    f"{config['WHATSAPP_PHONE_NUMBER_ID']}/messages")
        self.token = config["WHATSAPP_ACCESS_TOKEN"]

    @staticmethod
    def payload(message):
        template, params, language = message.template, message.params, message.language
        body = [{"type": "text", "text": str(params[name])} for name in template.whatsapp_body]
        components = [{"type": "body", "parameters": body}]
        if template.authentication:
            components.append({"type": "button", "sub_type": "url", "index": "0",
                               "parameters": [{"type": "text", "text": str(params["code"])}]})
        for index, button in enumerate(template.buttons):
            components.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                               "parameters": [{"type": "payload",
                                               "payload": button.payload.format(**params)}]})
        return {"messaging_product": "whatsapp", "recipient_type": "individual",
                "to": message.to.lstrip("+"), "type": "template",
                "template": {"name": template.whatsapp_name, "language": {"code": language},
                             "components": components}}

    def send(self, message):
        response = _post(self.url, json=self.payload(message),
                         headers={"Authorization": f"Bearer {self.token}"})
        body = _json(response)
        if response.ok:
            return body["messages"][0]["id"]
        error = body.get("error", {})
        code = error.get("code")
        reason = f"WhatsApp error {code}: {error.get('message', response.reason)}"
        if code in self.NOT_ON_WHATSAPP:
            raise NotOnWhatsApp(reason)
        if code in self.THROTTLED:
            raise TransientDeliveryError(reason)
        raise PermanentDeliveryError(reason)


class Msg91:
    """MSG91's Flow API, with the Indian DLT fields (template id, sender id, entity id)."""

    name = "msg91"

    def __init__(self, config):
        self.url = f"{config['MSG91_API_BASE'].rstrip('/')}/api/v5/flow"
        self.auth_key = config["MSG91_AUTH_KEY"]
        self.sender = config["MSG91_SENDER_ID"]
        self.entity_id = config["MSG91_ENTITY_ID"]

    def payload(self, message):
        template = message.template
        recipient = {"mobiles": message.to.lstrip("+"),
                     **{name: str(value) for name, value in message.params.items()}}
        return {"template_id": template.msg91_flow_id, "sender": self.sender, "short_url": "0",
                "DLT_TE_ID": template.dlt_template_id[message.language], "PE_ID": self.entity_id,
                "recipients": [recipient]}

    def send(self, message):
        response = _post(self.url, json=self.payload(message),
                         headers={"authkey": self.auth_key, "accept": "application/json"})
        body = _json(response)
        if response.ok and body.get("type") == "success":
            return body["message"]
        raise PermanentDeliveryError(f"MSG91 refused the message: {body.get('message', response.reason)}")


class Twilio:
    """Twilio's Messages API (form-encoded, HTTP basic auth), with a status callback."""

    name = "twilio"

    def __init__(self, config):
        self.account_sid = config["TWILIO_ACCOUNT_SID"]
        self.auth_token = config["TWILIO_AUTH_TOKEN"]
        self.sender = config["TWILIO_FROM"]
        self.callback = config["TWILIO_STATUS_CALLBACK_URL"]
        self.url = (f"{config['TWILIO_API_BASE'].rstrip('/')}/2010-04-01/Accounts/"
                    f"{self.account_sid}/Messages.json")

    def send(self, message):
        form = {"To": message.to, "From": self.sender, "Body": message.text}
        if self.callback:
            form["StatusCallback"] = self.callback
        response = _post(self.url, data=form, auth=(self.account_sid, self.auth_token))
        body = _json(response)
        if response.ok:
            return body["sid"]
        reason = body.get("message", response.reason)
        raise PermanentDeliveryError(f"Twilio error {body.get('code')}: {reason}")


class Smtp:
    """Plain SMTP, with STARTTLS and login when configured."""

    name = "smtp"

    def __init__(self, config):
        self.host, self.port = config["SMTP_HOST"], config["SMTP_PORT"]
        self.username, self.password = config["SMTP_USERNAME"], config["SMTP_PASSWORD"]
        self.starttls = config["SMTP_STARTTLS"]
        self.sender = config["SMTP_FROM"]

    def send(self, message):
        email = EmailMessage()
        email["From"], email["To"] = self.sender, message.to
        email["Subject"] = message.template.subject[message.language].format(**message.params)
        email["Message-ID"] = message_id = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        email.set_content(message.text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT[1]) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentDeliveryError("the mail server refused the recipient") from error
        except smtplib.SMTPResponseException as error:
            kind = PermanentDeliveryError if error.smtp_code >= 500 else TransientDeliveryError
            raise kind(f"SMTP {error.smtp_code}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise TransientDeliveryError(f"{type(error).__name__} reaching the mail server") from error
        return message_id.strip("<>")


class Console:
    """The development provider: logs that a message went out and keeps it in the dev outbox."""

    name = "console"

    def __init__(self, config):
        self.config = config

    def send(self, message):
        if self.config["APP_ENV"] == "production":  # validate() refuses it at start; this is the backstop
            raise PermanentDeliveryError("the console provider is for development only")
        provider_id = f"console-{uuid.uuid4().hex}"
        entry = {"id": message.notification_id, "channel": message.channel, "to": message.to,
                 "template": message.template.name, "body": message.text,
                 "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with redis.pipeline() as pipe:
            pipe.lpush(OUTBOX_KEY, json.dumps(entry, ensure_ascii=False))
            pipe.ltrim(OUTBOX_KEY, 0, OUTBOX_SIZE - 1)
            pipe.execute()
        log.info("console message", extra={
            "notification_id": message.notification_id, "channel": message.channel,
            "template": message.template.name})
        return provider_id


PROVIDERS = {
    "whatsapp": {"cloud": WhatsAppCloud, "console": Console},
    "sms": {"msg91": Msg91, "twilio": Twilio, "console": Console},
    "email": {"smtp": Smtp, "console": Console},
}


class Counted:
    """A provider whose every send is counted by outcome (`notification_deliveries_total`, for the
    provider-failing alert): `sent`, `transient_error` (timeouts, 5xx, 429) or `permanent_error`."""

    def __init__(self, provider):
        self.provider = provider
        self.name = provider.name

    def send(self, message):
        from casting.kernel.observability import count_delivery

        try:
            provider_id = self.provider.send(message)
        except TransientDeliveryError:
            count_delivery(self.name, "transient_error")
            raise
        except PermanentDeliveryError:
            count_delivery(self.name, "permanent_error")
            raise
        count_delivery(self.name, "sent")
        return provider_id


def provider_for(channel, config):
    """The provider configured for `channel` (WHATSAPP_PROVIDER, SMS_PROVIDER, EMAIL_PROVIDER), counted."""
    return Counted(PROVIDERS[channel][config[f"{channel.upper()}_PROVIDER"]](config))
