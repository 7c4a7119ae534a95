"""Every message the platform sends, in one place: named, versioned, per channel and language.

A template lists its parameters, so a missing or unknown one fails when the notification is
created, not inside a worker. Parameters named in `secret_params` (an OTP) are never stored in
PostgreSQL and never logged: they travel only inside the queued job. A parameter with a fallback
is optional (a person who signed up by phone has no name yet): when it is missing or empty, the
fallback in the message's language takes its place, wherever the parameter is used.
"""
from dataclasses import dataclass, field

LANGUAGES = ("en", "hi")
HELLO = {"en": "Hello", "hi": "नमस्ते"}  # for "{name}, ..." when there is no name
SOMEONE = {"en": "Someone", "hi": "किसी"}  # "{sender} sent you" / "{sender} ने आपको"


class TemplateError(ValueError):
    """A template or its parameters are wrong; the message says which."""


@dataclass(frozen=True)
class Button:
    """A WhatsApp quick-reply button; `payload` is formatted with the parameters."""

    title: dict[str, str]
    payload: str


@dataclass(frozen=True)
class Template:
    name: str
    version: int
    params: tuple[str, ...]
    text: dict[str, str]
    subject: dict[str, str]
    whatsapp_name: str
    whatsapp_body: tuple[str, ...]
    msg91_flow_id: str
    dlt_template_id: dict[str, str]
    secret_params: frozenset[str] = frozenset()
    authentication: bool = False
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    urgent: bool = False
    fallbacks: dict[str, dict[str, str]] = field(default_factory=dict)

    def check(self, params, language):
        """Raise TemplateError unless `params` are exactly this template's and `language` is known."""
        if language not in LANGUAGES:
            raise TemplateError(f"Unknown language {language!r}; use one of {', '.join(LANGUAGES)}.")
        missing = [name for name in self.params if params.get(name) in (None, "") and name not in self.fallbacks]
        unknown = sorted(set(params) - set(self.params))
        if missing or unknown:
            raise TemplateError(f"Template {self.name!r} needs {', '.join(self.params)}"
                                + (f"; missing {', '.join(missing)}" if missing else "")
                                + (f"; unknown {', '.join(unknown)}" if unknown else "") + ".")

    def complete(self, params, language):
        """`params` with each missing or empty optional one replaced by its fallback in `language`."""
        return {**params, **{name: words[language] for name, words in self.fallbacks.items()
                             if params.get(name) in (None, "")}}

    def render(self, params, language):
        return self.text[language].format(**self.complete(params, language))

    def stored_params(self, params):
        """The parameters that may be kept in the database: every one but the secret and the empty ones."""
        return {key: value for key, value in params.items()
                if key not in self.secret_params and value not in (None, "")}


TEMPLATES = {template.name: template for template in (
    Template(
        name="otp", version=1, params=("code", "minutes"), secret_params=frozenset({"code"}),
        authentication=True, urgent=True,
        text={"en": "{code} is your Casting verification code. It expires in {minutes} minutes. "
                    "Never share it: Casting staff will never ask for it.",
              "hi": "{code} आपका Casting सत्यापन कोड है। यह {minutes} मिनट में समाप्त होगा। "
                    "इसे किसी से साझा न करें।"},
        subject={"en": "Your Casting verification code", "hi": "आपका Casting सत्यापन कोड"},
        whatsapp_name="casting_otp", whatsapp_body=("code",),
        msg91_flow_id="casting_otp_flow",
        dlt_template_id={"en": "1107172000000000101", "hi": "1107172000000000102"},
    ),
    Template(
        name="audition_invite", version=1,
        params=("talent_name", "role", "production", "date", "venue", "invitation_id"),
        text={"en": "Hi {talent_name}, you are invited to audition for {role} in {production} on "
                    "{date} at {venue}. Reply in the Casting app or here: Accept, Decline or Reschedule.",
              "hi": "नमस्ते {talent_name}, आपको {production} में {role} के ऑडिशन के लिए {date} को "
                    "{venue} पर आमंत्रित किया गया है। Casting ऐप में या यहाँ जवाब दें: स्वीकार, अस्वीकार या "
                    "दूसरा समय।"},
        subject={"en": "Audition invitation: {role} in {production}",
                 "hi": "ऑडिशन आमंत्रण: {production} में {role}"},
        whatsapp_name="casting_audition_invite",
        whatsapp_body=("talent_name", "role", "production", "date", "venue"),
        msg91_flow_id="casting_audition_invite_flow",
        dlt_template_id={"en": "1107172000000000201", "hi": "1107172000000000202"},
        buttons=(Button({"en": "Accept", "hi": "स्वीकार"}, "rsvp:{invitation_id}:accept"),
                 Button({"en": "Decline", "hi": "अस्वीकार"}, "rsvp:{invitation_id}:decline"),
                 Button({"en": "Reschedule", "hi": "दूसरा समय"}, "rsvp:{invitation_id}:reschedule")),
    ),
    Template(
        name="audition_reminder", version=1, params=("talent_name", "production", "time", "venue"),
        text={"en": "Reminder, {talent_name}: your audition for {production} is at {time}, {venue}. "
                    "Can't make it? Reply in the Casting app so someone else can have the slot.",
              "hi": "याद दिलाना, {talent_name}: {production} के लिए आपका ऑडिशन {time} पर, {venue} में है। "
                    "नहीं आ पाएँगे? Casting ऐप में बताएँ ताकि यह समय किसी और को मिल सके।"},
        subject={"en": "Audition reminder: {production} at {time}", "hi": "ऑडिशन की याद: {production}, {time}"},
        whatsapp_name="casting_audition_reminder", whatsapp_body=("talent_name", "production", "time", "venue"),
        msg91_flow_id="casting_audition_reminder_flow",
        dlt_template_id={"en": "1107172000000000301", "hi": "1107172000000000302"},
    ),
    Template(
        name="audition_closed", version=1, params=("talent_name", "production", "role"),
        text={"en": "Thank you, {talent_name}, for your interest in {role} in {production}. The part has been "
                    "cast or the audition has closed, so we won't be taking your audition further this time. "
                    "Your profile stays with casting teams for the next one.",
              "hi": "{talent_name}, {production} में {role} में आपकी रुचि के लिए धन्यवाद। यह भूमिका तय हो चुकी है "
                    "या ऑडिशन बंद हो गया है, इसलिए इस बार आगे नहीं बढ़ पाएँगे। आपकी प्रोफ़ाइल अगली बार के "
                    "लिए कास्टिंग टीमों के पास रहेगी।"},
        subject={"en": "{production}: an update on your audition", "hi": "{production}: आपके ऑडिशन की जानकारी"},
        whatsapp_name="casting_audition_closed", whatsapp_body=("talent_name", "role", "production"),
        msg91_flow_id="casting_audition_closed_flow",
        dlt_template_id={"en": "1107172000000000401", "hi": "1107172000000000402"},
    ),
    Template(
        name="audition_moved", version=1, params=("talent_name", "production"),
        text={"en": "{talent_name}, the audition times for {production} have changed and your old slot is gone. "
                    "You were first in line for a new one: open the Casting app to see your time or pick another.",
              "hi": "{talent_name}, {production} के ऑडिशन का समय बदल गया है और आपका पुराना स्लॉट अब नहीं है। नए "
                    "स्लॉट के लिए आप सबसे आगे थे: अपना समय देखने या दूसरा चुनने के लिए Casting ऐप खोलें।"},
        subject={"en": "{production}: your audition time changed", "hi": "{production}: आपके ऑडिशन का समय बदला"},
        whatsapp_name="casting_audition_moved", whatsapp_body=("talent_name", "production"),
        msg91_flow_id="casting_audition_moved_flow",
        dlt_template_id={"en": "1107172000000000501", "hi": "1107172000000000502"},
    ),
    Template(
        name="reschedule_requested", version=1, params=("name", "talent_name", "audition"),
        text={"en": "{name}, {talent_name} asked for another time for {audition}. Their slot is free again; "
                    "answer them in the Casting app.",
              "hi": "{name}, {talent_name} ने {audition} के लिए दूसरा समय माँगा है। उनका स्लॉट फिर से खाली है; "
                    "Casting ऐप में उन्हें जवाब दें।"},
        subject={"en": "{talent_name} asked to reschedule", "hi": "{talent_name} ने दूसरा समय माँगा"},
        whatsapp_name="casting_reschedule_requested", whatsapp_body=("name", "talent_name", "audition"),
        msg91_flow_id="casting_reschedule_requested_flow",
        dlt_template_id={"en": "1107172000000000601", "hi": "1107172000000000602"},
        fallbacks={"name": HELLO},
    ),
    Template(
        name="chat_unread", version=1, params=("name", "sender"),
        text={"en": "{name}, {sender} sent you a message on Casting. Open the app to read and reply.",
              "hi": "{name}, {sender} ने आपको Casting पर संदेश भेजा है। पढ़ने और जवाब देने के लिए ऐप खोलें।"},
        subject={"en": "New message from {sender}", "hi": "{sender} का नया संदेश"},
        whatsapp_name="casting_chat_unread", whatsapp_body=("name", "sender"),
        msg91_flow_id="casting_chat_unread_flow",
        dlt_template_id={"en": "1107172000000000701", "hi": "1107172000000000702"},
        fallbacks={"name": HELLO, "sender": SOMEONE},
    ),
    Template(
        name="safety_tip", version=1, params=("name",),
        text={"en": "{name}, a message you got on Casting may be a scam. Genuine casting never asks for fees, "
                    "deposits or explicit photos. Don't pay or send photos; report it in the app.",
              "hi": "{name}, Casting पर आपको मिला एक संदेश धोखा हो सकता है। असली कास्टिंग कभी फीस, जमा राशि या "
                    "अश्लील फ़ोटो नहीं माँगती। पैसे या फ़ोटो न भेजें; ऐप में रिपोर्ट करें।"},
        subject={"en": "Stay safe: a message may be a scam", "hi": "सावधान: एक संदेश धोखा हो सकता है"},
        whatsapp_name="casting_safety_tip", whatsapp_body=("name",),
        msg91_flow_id="casting_safety_tip_flow",
        dlt_template_id={"en": "1107172000000000801", "hi": "1107172000000000802"},
        fallbacks={"name": HELLO},
    ),
    Template(
        name="flag_digest", version=1, params=("name", "count", "open"),
        text={"en": "{name}, {count} new safety flags came in; {open} are waiting in the review queue.",
              "hi": "{name}, {count} नए सुरक्षा फ़्लैग आए हैं; {open} समीक्षा की कतार में हैं।"},
        subject={"en": "{count} new safety flags", "hi": "{count} नए सुरक्षा फ़्लैग"},
        whatsapp_name="casting_flag_digest", whatsapp_body=("name", "count", "open"),
        msg91_flow_id="casting_flag_digest_flow",
        dlt_template_id={"en": "1107172000000000901", "hi": "1107172000000000902"},
        fallbacks={"name": HELLO},
    ),
    Template(
        name="call_submission_received", version=1, params=("talent_name", "role", "production", "deadline"),
        text={"en": "{talent_name}, your submission for {role} in {production} reached the casting team. They "
                    "review submissions after {deadline}; you can see its status in the Casting app.",
              "hi": "{talent_name}, {production} में {role} के लिए आपका आवेदन कास्टिंग टीम तक पहुँच गया है। वे "
                    "{deadline} के बाद आवेदन देखेंगे; इसकी स्थिति Casting ऐप में देखें।"},
        subject={"en": "Submitted: {role} in {production}", "hi": "आवेदन भेजा गया: {production} में {role}"},
        whatsapp_name="casting_call_submission_received",
        whatsapp_body=("talent_name", "role", "production", "deadline"),
        msg91_flow_id="casting_call_submission_received_flow",
        dlt_template_id={"en": "1107172000000001001", "hi": "1107172000000001002"},
    ),
    Template(
        name="call_shortlisted", version=1, params=("talent_name", "role", "production"),
        text={"en": "Good news, {talent_name}: the casting team shortlisted you for {role} in {production}. "
                    "Watch the Casting app for an audition invitation.",
              "hi": "खुशखबरी, {talent_name}: कास्टिंग टीम ने आपको {production} में {role} के लिए शॉर्टलिस्ट किया है। "
                    "ऑडिशन के आमंत्रण के लिए Casting ऐप देखते रहें।"},
        subject={"en": "Shortlisted: {role} in {production}", "hi": "शॉर्टलिस्ट: {production} में {role}"},
        whatsapp_name="casting_call_shortlisted", whatsapp_body=("talent_name", "role", "production"),
        msg91_flow_id="casting_call_shortlisted_flow",
        dlt_template_id={"en": "1107172000000001101", "hi": "1107172000000001102"},
    ),
    Template(
        name="call_declined", version=1, params=("talent_name", "role", "production"),
        text={"en": "Thank you, {talent_name}, for submitting for {role} in {production}. The casting team has "
                    "chosen other talent this time. Your profile stays with casting teams for the next one.",
              "hi": "{talent_name}, {production} में {role} के लिए आवेदन करने के लिए धन्यवाद। इस बार कास्टिंग टीम ने "
                    "किसी और को चुना है। आपकी प्रोफ़ाइल अगली बार के लिए कास्टिंग टीमों के पास रहेगी।"},
        subject={"en": "{production}: an update on your submission", "hi": "{production}: आपके आवेदन की जानकारी"},
        whatsapp_name="casting_call_declined", whatsapp_body=("talent_name", "role", "production"),
        msg91_flow_id="casting_call_declined_flow",
        dlt_template_id={"en": "1107172000000001201", "hi": "1107172000000001202"},
    ),
    Template(
        name="call_digest", version=1, params=("name", "count", "roles", "unsubscribe_url"),
        text={"en": "{name}, {count} new roles fit your profile: {roles}. See why in the Casting app under "
                    "Roles for me. Stop these daily messages: {unsubscribe_url}",
              "hi": "{name}, आपकी प्रोफ़ाइल के लिए {count} नई भूमिकाएँ: {roles}। क्यों, यह Casting ऐप में "
                    "'मेरे लिए भूमिकाएँ' में देखें। ये रोज़ के संदेश बंद करें: {unsubscribe_url}"},
        subject={"en": "{count} new roles for you", "hi": "आपके लिए {count} नई भूमिकाएँ"},
        whatsapp_name="casting_call_digest", whatsapp_body=("name", "count", "roles", "unsubscribe_url"),
        msg91_flow_id="casting_call_digest_flow",
        dlt_template_id={"en": "1107172000000001301", "hi": "1107172000000001302"},
        fallbacks={"name": HELLO},
    ),
)}


def get_template(name):
    try:
        return TEMPLATES[name]
    except KeyError:
        raise TemplateError(f"Unknown template {name!r}.") from None
