"""Signing up and in: passwords, phone OTP, Google and Facebook, and changes to one's own account."""
import hashlib
import hmac
import secrets

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from casting.kernel import throttle
from casting.audit import record
from casting.auth import sessions
from casting.auth.models import OAuthIdentity
from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import db, redis
from casting.notifications import NotificationFlood, notify, Recipient
from casting.kernel.pii import blind_index
from casting.users.models import Role, User
from casting.users import (check_password, find_by_contact, hash_password, normalise_email, normalise_phone,
                           rehash_if_needed, UserError)


def _signed_in(user, action, client, is_new=None, fresh=True):
    """Open a session, audit `action`, commit, and answer like CONTRACT §2 does."""
    tokens = sessions.start(user, client, fresh=fresh)
    record(action, actor_id=user.id, target_type="user", target_id=user.id, ip=client.ip)
    db.session.commit()
    answer = {"user": user, **tokens}
    if is_new is not None:
        answer["is_new_user"] = is_new
    return answer


def register(data, client):
    """Create an account with a password; its email or phone must be new (409 otherwise). `client`: the
    caller's `casting.kernel.requestid.Client` (address and user agent), here and below."""
    if find_by_contact(data.get("email"), data.get("phone")):
        raise ApiError(Codes.AUTH_ACCOUNT_EXISTS)
    user = User(full_name=data["full_name"], role=Role(data["role"]), email=data.get("email"),
                phone=data.get("phone"), password_hash=hash_password(data["password"]))
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ApiError(Codes.AUTH_ACCOUNT_EXISTS) from None
    return _signed_in(user, "register", client)


def _normalised_identifier(identifier):
    try:
        return normalise_email(identifier) if "@" in identifier else normalise_phone(identifier)
    except UserError:
        return identifier.strip().lower()


def login(identifier, password, client):
    """Password sign-in. Failures are throttled per identifier and per IP, and never say which part was wrong.

    The attempt is counted before the password is checked (atomically, so parallel guesses get no
    more checks than the limit), and handed back when the password was right.
    """
    identifier = _normalised_identifier(identifier)
    limits = (("LOGIN_LIMIT_PER_IDENTIFIER", "login-id", identifier),
              ("LOGIN_LIMIT_PER_IP", "login-ip", client.ip))
    wait = throttle.reserve(*limits)
    if wait:
        raise ApiError(Codes.AUTH_TOO_MANY_ATTEMPTS, headers={"Retry-After": str(wait)})
    user = find_by_contact(email=identifier) if "@" in identifier else find_by_contact(phone=identifier)
    if not check_password(user, password) or not user.is_active:
        record("login_failed", target_type="user", target_id=user.id if user else None, commit=True, ip=client.ip)
        raise ApiError(Codes.AUTH_INVALID_CREDENTIALS)
    throttle.release(*limits)
    rehash_if_needed(user, password)
    return _signed_in(user, "login", client)


def _otp_key(phone):
    return f"casting:otp:{blind_index(phone)}"


def _otp_mac(phone, code):
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def send_otp(phone, channel, purpose, client):
    """Send a 6-digit code (WhatsApp by default, SMS on request or as fallback); only its HMAC is kept."""
    config = current_app.config
    resend_key = f"casting:otp:resend:{blind_index(phone)}"
    resend = config["OTP_RESEND_SECONDS"]
    if resend > 0 and not redis.set(resend_key, 1, ex=resend, nx=True):
        raise ApiError(Codes.AUTH_CODE_THROTTLED, headers={"Retry-After": str(max(redis.ttl(resend_key), 1))})
    wait = throttle.reserve(("OTP_LIMIT_PER_PHONE", "otp-phone", phone),
                            ("OTP_LIMIT_PER_IP", "otp-ip", client.ip))
    if wait:
        raise ApiError(Codes.AUTH_CODE_THROTTLED, headers={"Retry-After": str(wait)})
    code = f"{secrets.randbelow(10 ** 6):06d}"
    ttl = config["OTP_TTL_SECONDS"]
    with redis.pipeline() as pipe:
        pipe.delete(_otp_key(phone))
        pipe.hset(_otp_key(phone), mapping={"mac": _otp_mac(phone, code), "tries": 0, "purpose": purpose})
        pipe.expire(_otp_key(phone), ttl)
        pipe.execute()
    user = find_by_contact(phone=phone)
    try:
        notify("otp", {"code": code, "minutes": ttl // 60}, Recipient(user.id if user else None, phone=phone),
               channel=channel)
    except NotificationFlood:
        raise ApiError(Codes.AUTH_CODE_THROTTLED, headers={"Retry-After": "3600"}) from None
    return {"channel": channel, "expires_in": ttl, "resend_after": config["OTP_RESEND_SECONDS"]}


# Count the try first, then hand back the stored HMAC: parallel guesses get at most OTP_MAX_TRIES checks.
_OTP_TRY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if redis.call('HINCRBY', KEYS[1], 'tries', 1) > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return false
end
return {redis.call('HGET', KEYS[1], 'mac'), redis.call('HGET', KEYS[1], 'tries')}
"""


def verify_otp(phone, code, client):
    """Check a code (constant time, 5 tries counted before checking, single use); sign the phone's owner in.

    The code proves the phone: an account that claimed this phone without proving it is claimed
    (see `_account_for_proven`), and a new account is made when nobody has the phone.
    """
    key, most = _otp_key(phone), current_app.config["OTP_MAX_TRIES"]
    stored = redis.eval(_OTP_TRY, 1, key, most)
    if stored is None or not hmac.compare_digest(stored[0].decode(), _otp_mac(phone, code)):
        if stored is not None and int(stored[1]) >= most:
            redis.delete(key)
        record("otp_failed", details={"reason": "expired" if stored is None else "mismatch"}, commit=True,
               ip=client.ip)
        raise ApiError(Codes.AUTH_BAD_CODE)
    if not redis.delete(key):
        raise ApiError(Codes.AUTH_BAD_CODE)
    user = _account_for_proven("phone", phone, client)
    is_new = user is None
    if is_new:
        user = User(full_name="", role=Role.TALENT, phone=phone)
        db.session.add(user)
    user.phone_verified = True
    db.session.flush()
    return _signed_in(user, "otp_verified", client, is_new=is_new)


def _account_for_proven(kind, value, client):
    """The account that a just-proven email or phone (`kind`) signs in to, or None for a new one.

    Only an account that proved this contact is entered as it is. An account holding it unproven is
    either a verified account's unproven claim (the claim is dropped: proof wins) or an account that
    proved nothing, such as one pre-registered with someone else's contact: the prover claims it.
    """
    user = find_by_contact(**{kind: value})
    if user is None or getattr(user, f"{kind}_verified"):
        return user
    other = "phone" if kind == "email" else "email"
    if getattr(user, f"{other}_verified"):
        setattr(user, kind, None)
        record("contact_released", target_type="user", target_id=user.id, details={"contact": kind}, ip=client.ip)
        db.session.flush()
        return None
    _claim(user, kind, client)
    return user


def _claim(user, kind, client):
    """Hand an account that proved nothing to whoever just proved its `kind` of contact.

    Whatever the account had that nobody proved goes: its password, its other contact and the
    channel chosen for it, its linked sign-ins, and every session open on it.
    """
    other = "phone" if kind == "email" else "email"
    user.password_hash, user.notify_channel = None, None
    setattr(user, other, None)
    db.session.execute(delete(OAuthIdentity).where(OAuthIdentity.user_id == user.id))
    for session in db.session.scalars(sessions.active_sessions(user)):
        sessions.revoke(session, "account_claimed")
    record("account_claimed", target_type="user", target_id=user.id, details={"proven": kind}, ip=client.ip)


def oauth_sign_in(provider, identity, client):
    """Sign in with a Google/Facebook identity: linked account, account of the same proven email, or new.

    Only a provider-verified email (Google's `email_verified`) links or claims an account by email; an
    unverified one (Facebook never says its email is verified) may only start a new account.
    """
    link = db.session.scalar(select(OAuthIdentity).where(OAuthIdentity.provider == provider,
                                                         OAuthIdentity.subject == identity["subject"]))
    user = db.session.get(User, link.user_id) if link else None
    is_new = False
    if user is None:
        email = _provider_email(identity)
        proven = identity.get("email_verified") is True
        user = _account_for_proven("email", email, client) if proven else None
        if user is None:
            if not proven and find_by_contact(email=email):
                raise ApiError(Codes.AUTH_OAUTH_FAILED, "An account with this email exists: sign in with your "
                               "password, phone or Google.", details={"reason": "email_not_verified"})
            is_new = True
            user = User(full_name=(identity.get("name") or "")[:120], role=Role.TALENT, email=email)
            db.session.add(user)
        user.email_verified = user.email_verified or proven
        db.session.flush()
        db.session.add(OAuthIdentity(user_id=user.id, provider=provider, subject=identity["subject"]))
    if not user.is_active:
        raise ApiError(Codes.AUTH_OAUTH_FAILED)
    return _signed_in(user, f"oauth_{provider}", client, is_new=is_new)


def _provider_email(identity):
    try:
        return normalise_email(identity.get("email"))
    except UserError:
        raise ApiError(Codes.AUTH_OAUTH_FAILED, "This account has no email: sign in with your phone.",
                       details={"reason": "no_email"}) from None


CREDENTIALS = ("email", "phone", "password")


def update_me(user, changes, fresh, client, session_id=None):
    """Change one's own name, or (with a fresh sign-in) email, phone or password.

    A new password ends every other session of the account (the one making the change goes on).
    """
    credentials = [name for name in CREDENTIALS if name in changes]
    if credentials and not fresh:
        raise ApiError(Codes.AUTH_NOT_FRESH)
    for name in ("email", "phone"):
        if name in changes and changes[name] != getattr(user, name):
            if changes[name] and find_by_contact(**{name: changes[name]}):
                raise ApiError(Codes.AUTH_ACCOUNT_EXISTS)
            setattr(user, name, changes[name])
            setattr(user, f"{name}_verified", False)
    if "password" in changes:
        user.password_hash = hash_password(changes["password"])
        for session in db.session.scalars(sessions.active_sessions(user)):
            if session.id != session_id:
                sessions.revoke(session, "password_changed")
    for name in ("full_name", "notify_channel", "only_verified_contacts"):
        if name in changes:
            setattr(user, name, changes[name])
    if credentials:
        record("credential_change", actor_id=user.id, target_type="user", target_id=user.id,
               details={"changed": credentials}, ip=client.ip)
    db.session.commit()
    return user
