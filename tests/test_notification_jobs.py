"""Jobs cannot crash on ordinary data (issue 14, item 8): a person who signed up by phone has no name,
every template has a fallback for the fields a person may lack, and one bad recipient never stops a batch."""
import json
import logging

import pytest
from sqlalchemy import select, update

from casting.kernel.extensions import db
from casting.notifications.models import Notification, NotificationStatus
from casting.notifications.providers import OUTBOX_KEY, Message, WhatsAppCloud
from casting.notifications.templates import LANGUAGES, TEMPLATES
from casting.safety import tasks as safety_tasks
from casting.talents.models import Talent
from casting.users.models import Role, User
from tests.support import run_jobs
from tests.test_auditions import WINDOW, stage  # noqa: F401 - the fixture
from tests.test_safety import SCAM, chat, say

PERSON_FIELDS = ("name", "sender")  # what a person's (possibly empty) name fills


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES.values(), ids=list(TEMPLATES))
def test_every_template_renders_on_every_channel_with_its_optional_fields_missing(template, language):
    assert {field for field in PERSON_FIELDS if field in template.params} <= set(template.fallbacks)
    required = {name: f"[{name}]" for name in template.params if name not in template.fallbacks}
    for missing in (None, ""):
        params = {**required, **{name: missing for name in template.fallbacks}}
        template.check(params, language)  # no TemplateError: these fields are optional
        full = template.complete(params, language)
        message = Message(1, "whatsapp", "+919800000001", template, language, full)
        texts = [message.text, template.subject[language].format(**full),
                 json.dumps(WhatsAppCloud.payload(message), ensure_ascii=False)]
        for text in texts:
            assert "None" not in text and "{" not in text.replace('{"', "").replace("{'", ""), text
        for name, words in template.fallbacks.items():
            assert words[language] in message.text


def otp_sign_up(app, client, phone):
    """A person signs up with a phone code, as the app does: they have no name yet."""
    assert client.post("/api/auth/otp/send", json={"phone": phone}).status_code == 202
    run_jobs(app)
    code = json.loads(app.extensions["redis"].lindex(OUTBOX_KEY, 0))["body"][:6]
    signed = client.post("/api/auth/otp/verify", json={"phone": phone, "code": code}).json
    assert signed["user"]["full_name"] == ""
    return {"Authorization": f"Bearer {signed['access_token']}"}, signed["user"]["id"]


def sent(app, template):
    """(user id, text delivered) of every `template` message, after the delivery jobs ran."""
    run_jobs(app)
    with app.app_context():
        rows = db.session.scalars(select(Notification).where(Notification.template == template)
                                  .order_by(Notification.user_id)).all()
        assert all(row.status == NotificationStatus.SENT for row in rows)
        outbox = app.extensions["redis"].lrange(OUTBOX_KEY, 0, -1)
        texts = {entry["id"]: entry["body"] for entry in map(json.loads, outbox)}
        return [(row.user_id, texts[row.id]) for row in rows]


def test_safety_tips_reach_a_nameless_talent_and_everyone_after_them(app, client, signed_in):
    nameless = otp_sign_up(app, client, "9811100001")  # first in the batch
    asha = signed_in("talent", "asha@example.in")
    cd = signed_in("casting_director", "cd@example.in")
    conversation = chat(client, cd, nameless, asha).json["id"]
    assert say(client, cd, conversation, SCAM).json["safety"]["flagged"]
    tips = sent(app, "safety_tip")
    assert [user_id for user_id, _ in tips] == sorted([nameless[1], asha[1]])
    assert dict(tips)[nameless[1]].startswith("Hello, a message you got on Casting may be a scam.")


def test_an_unread_message_notice_names_nobody_when_nobody_has_a_name(app, client):
    first = otp_sign_up(app, client, "9811100002")
    second = otp_sign_up(app, client, "9811100003")
    conversation = chat(client, first, second).json["id"]
    app.config["CHAT_NOTIFY_DELAY_SECONDS"] = 0
    say(client, first, conversation, "Are you free for a look test on Friday?")
    notices = sent(app, "chat_unread")
    assert notices == [(second[1], "Hello, Someone sent you a message on Casting. Open the app to read and reply.")]


def test_the_flag_digest_reaches_every_admin_even_a_nameless_one(app, client, signed_in):
    with app.app_context():  # first in the batch
        db.session.add(User(full_name="", role=Role.ADMIN, email="night-shift@example.in"))
        db.session.commit()
    signed_in("admin", "admin@example.in")
    cd = signed_in("casting_director", "cd@example.in")
    say(client, cd, chat(client, cd, signed_in("talent", "asha@example.in")).json["id"], SCAM)
    with app.app_context():
        assert safety_tasks.flag_digest() == 1
    digests = sent(app, "flag_digest")
    assert len(digests) == 2 and digests[0][1].startswith("Hello, 1 new safety flags came in")


def test_one_bad_recipient_does_not_stop_a_batch_of_invitations(app, client, stage, caplog):  # noqa: F811
    asha, _ = stage["talent"]("Asha")
    broken, _ = stage["talent"]("Broken")
    bina, _ = stage["talent"]("Bina")
    with app.app_context():  # a profile left without a stage name (written before names were required)
        db.session.execute(update(Talent).where(Talent.id == broken).values(stage_name=""))
        db.session.commit()
    path = f"/api/auditions/{stage['audition']}/invite"
    assert client.post(path, json={"talent_ids": [asha, broken, bina]}, headers=stage["owner"]).status_code == 202
    with caplog.at_level(logging.ERROR):
        invites = sent(app, "audition_invite")
    assert [text[:20] for _, text in invites] == ["Hi Asha, you are inv", "Hi Bina, you are inv"]
    failed = [record for record in caplog.records if record.getMessage() == "message failed for one recipient"]
    assert [(record.template, record.error) for record in failed] == [("audition_invite", "TemplateError")]
    assert "Broken" not in caplog.text and "broken@example.in" not in caplog.text


def test_a_reschedule_request_reaches_a_nameless_owner(app, client, stage):  # noqa: F811
    audition = stage["audition"]
    with app.app_context():
        db.session.execute(update(User).where(User.email_index.is_not(None), User.role == Role.CASTING_DIRECTOR)
                           .values(full_name=""))
        db.session.commit()
    client.post(f"/api/auditions/{audition}/schedule", json=WINDOW, headers=stage["owner"])
    talent_id, me = stage["talent"]("Asha")
    client.post(f"/api/auditions/{audition}/invite", json={"talent_ids": [talent_id]}, headers=stage["owner"])
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "accept"}, headers=me)
    client.post(f"/api/auditions/{audition}/rsvp", json={"response": "reschedule"}, headers=me)
    told = sent(app, "reschedule_requested")
    assert len(told) == 1 and told[0][1].startswith("Hello, Asha asked for another time for First round.")
