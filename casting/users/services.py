"""Users: normalised contact details, password hashing and creation."""
import re

import phonenumbers
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from sqlalchemy import or_, select
from zxcvbn import zxcvbn

from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db
from casting.kernel.pii import blind_index
from casting.users.models import Role, User

# OWASP's argon2id profile: 19 MiB of memory, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_TIMING_DECOY = _hasher.hash("a password that no one has")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 72  # zxcvbn judges at most 72 characters (it raises beyond), so none longer is accepted
DEFAULT_PHONE_REGION = "IN"  # a number written without a country code is Indian
_PHONE_CHARACTERS = re.compile(r"\+?[\d\s().\-/]+")  # digits and the usual separators: no letters, no extensions
# Where codes and WhatsApp messages can go (some plans, the US's among them, do not tell mobiles apart).
_MESSAGING_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


class UserError(ValueError):
    """A user could not be created or changed; the message says why."""


def normalise_phone(raw, mobile=True):
    """E.164 for a phone number however it is usually written, India being the default region.

    `9876543210`, `098765 43210`, `0091 98765 43210`, `+91 98765-43210` all give `+919876543210`;
    a foreign number needs its country code (`+44 20 7946 0958`). The number must be a real one by
    Google's numbering plans (`phonenumbers`), and with `mobile` (every phone an account gives: codes
    and WhatsApp messages go to it) a mobile number, not a landline. `UserError` says what is wrong.
    """
    text = (raw or "").strip()
    if not text or not _PHONE_CHARACTERS.fullmatch(text) or len(text) > 32:
        raise UserError("Not a phone number: use digits, with the country code for a number outside India "
                        "(+91 98765 43210, 098765 43210 or +44 7911 123456).")
    try:
        number = phonenumbers.parse(text.replace("/", " "), DEFAULT_PHONE_REGION)
    except NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise UserError("Not a valid phone number: an Indian mobile number has 10 digits and starts with 6, 7, 8 "
                        "or 9 (98765 43210); a number outside India needs its country code (+44 7911 123456).")
    if mobile and phonenumbers.number_type(number) not in _MESSAGING_TYPES:
        raise UserError("Not a mobile number: sign-in codes and WhatsApp messages go to a mobile number, not a "
                        "landline or a service number.")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def normalise_email(raw):
    email = (raw or "").strip().lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise UserError("Not a valid email address.")
    return email


def _off_the_loop(function, *args):
    """Run argon2id (tens of milliseconds of CPU, in C that lets go of the GIL) on the process's worker
    threads (the media domain's pool), so a sign-in does not stop every other request of a gevent worker."""
    from flask import current_app, has_app_context

    from casting.media import offload

    if not has_app_context():
        return function(*args)
    return offload(current_app.config["MEDIA_WORKERS"], function, *args)


def hash_password(password):
    return _off_the_loop(_hasher.hash, password)


def check_password(user, password):
    """True when `password` is the user's; takes as long for a missing user, so timing tells nothing."""
    stored = user.password_hash if user is not None and user.password_hash else None
    try:
        _off_the_loop(_hasher.verify, stored or _TIMING_DECOY, password)
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def rehash_if_needed(user, password):
    """Re-hash a just-verified password when the hashing parameters have changed."""
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)


def password_problems(password, *personal):
    """Why `password` is too weak (empty when it is fine): length, and zxcvbn's guessability score."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [f"Use at least {MIN_PASSWORD_LENGTH} characters."]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [f"Use at most {MAX_PASSWORD_LENGTH} characters."]
    values = [value.lower() for value in personal if value]
    words = values + [word for value in values for word in re.split(r"[^\w]+", value) if word]
    verdict = zxcvbn(password, user_inputs=words)
    if verdict["score"] < 3:
        warning = verdict["feedback"]["warning"] or "This password is too easy to guess."
        return [f"{warning} Add more words or mix in unusual ones."]
    return []


def get_user(user_id):
    """The user with this id; 404 (`AUTH_NOT_FOUND`) when there is none."""
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(Codes.AUTH_NOT_FOUND)
    return user


def find_by_contact(email=None, phone=None):
    """The user with this normalised email or phone, found through the blind indexes."""
    clauses = [User.email_index == blind_index(email)] if email else []
    clauses += [User.phone_index == blind_index(phone)] if phone else []
    return db.session.scalar(select(User).where(or_(*clauses))) if clauses else None


def create_user(full_name, role, password=None, email=None, phone=None, contacts_verified=False):
    """Create and commit a user; contact details are normalised and must be unused.

    `contacts_verified` is for an operator who vouches for the contacts (the admin CLI): a later
    sign-in that proves them then enters this account instead of claiming it as a squatter's."""
    email = normalise_email(email) if email else None
    phone = normalise_phone(phone) if phone else None
    if not (email or phone):
        raise UserError("An email or a phone number is required.")
    if find_by_contact(email, phone):
        raise UserError("A user with this email or phone already exists.")
    user = User(full_name=full_name.strip(), role=Role(role), email=email, phone=phone,
                password_hash=hash_password(password) if password else None,
                email_verified=bool(email and contacts_verified), phone_verified=bool(phone and contacts_verified))
    db.session.add(user)
    db.session.commit()
    return user
