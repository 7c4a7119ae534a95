"""Users: normalised contact details, password hashing and creation."""
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select
from zxcvbn import zxcvbn

from casting.errors import ApiError, Codes
from casting.extensions import db
from casting.pii import blind_index
from casting.users.models import Role, User

# OWASP's argon2id profile: 19 MiB of memory, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_TIMING_DECOY = _hasher.hash("a password that no one has")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 72  # zxcvbn judges at most 72 characters (it raises beyond), so none longer is accepted
_INDIAN_MOBILE = re.compile(r"^[6-9]\d{9}$")


class UserError(ValueError):
    """A user could not be created or changed; the message says why."""


def normalise_phone(raw):
    """E.164 for a phone number; a 10-digit Indian number gets +91 (`098765 43210` -> `+919876543210`)."""
    digits = re.sub(r"[\s().-]", "", raw or "")
    if digits.startswith("+"):
        if not re.fullmatch(r"\+[1-9]\d{7,14}", digits):
            raise UserError("Not a valid phone number.")
        return digits
    digits = digits.removeprefix("0")
    if digits.startswith("91") and len(digits) == 12:
        digits = digits[2:]
    if not _INDIAN_MOBILE.match(digits):
        raise UserError("Not a valid phone number.")
    return "+91" + digits


def normalise_email(raw):
    email = (raw or "").strip().lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise UserError("Not a valid email address.")
    return email


def hash_password(password):
    return _hasher.hash(password)


def check_password(user, password):
    """True when `password` is the user's; takes as long for a missing user, so timing tells nothing."""
    stored = user.password_hash if user is not None and user.password_hash else None
    try:
        _hasher.verify(stored or _TIMING_DECOY, password)
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
