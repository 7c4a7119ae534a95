from flask.views import MethodView
from flask_jwt_extended import current_user, decode_token, get_jwt, jwt_required
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_smorest import Blueprint
from jwt.exceptions import PyJWTError

from casting.auth import oauth, services, sessions
from casting.auth.permissions import login_required
from casting.auth.principal import prefetch
from casting.auth.schemas import (SIGNED_IN_EXAMPLE, TOKENS_EXAMPLE, FacebookSignInSchema, GoogleSignInSchema,
                                  LoginSchema, LogoutSchema, MeUpdateSchema, OtpSendSchema, OtpSentSchema,
                                  OtpVerifySchema, RegisterSchema, SessionSchema, SignedInSchema, TokensSchema)
from casting.kernel.jsonprovider import json_response
from casting.kernel.openapi import error_responses
from casting.kernel.pagination import PageArgsSchema, paginated
from casting.kernel.requestid import current_client
from casting.kernel.throttle import rate_limit
from casting.users import cache as user_cache
from casting.users import USER_EXAMPLE, UserSchema

blp = Blueprint("auth", __name__, url_prefix="/api/auth",
                description="Sign-up and sign-in (password, phone OTP, Google, Facebook), tokens and sessions.")
PUBLIC = []
_USER_SCHEMA = UserSchema()
OTP_EXAMPLE = {"channel": "whatsapp", "expires_in": 600, "resend_after": 30}


@blp.route("/register")
class RegisterViews(MethodView):
    @rate_limit("RATELIMIT_SIGN_IN")
    @blp.doc(security=PUBLIC)
    @blp.arguments(RegisterSchema, example={"email": "asha@example.in", "password": "monsoon-kathak-audition",
                                            "full_name": "Asha Rao", "role": "talent"})
    @blp.response(201, SignedInSchema, example=SIGNED_IN_EXAMPLE)
    @error_responses(blp, 409)
    def post(self, data):
        """Create an account (talent, casting director, producer or agent) and sign in."""
        return services.register(data, current_client())


@blp.route("/login")
class LoginViews(MethodView):
    @rate_limit("RATELIMIT_SIGN_IN")
    @blp.doc(security=PUBLIC)
    @blp.arguments(LoginSchema, example={"identifier": "asha@example.in", "password": "monsoon-kathak-audition"})
    @blp.response(200, SignedInSchema, example=SIGNED_IN_EXAMPLE)
    @error_responses(blp, 401, 429)
    def post(self, data):
        """Sign in with email or phone and password (`AUTH_001` whatever was wrong)."""
        return services.login(data["identifier"], data["password"], current_client())


@blp.route("/otp/send")
class OtpSendViews(MethodView):
    @rate_limit("RATELIMIT_SIGN_IN")
    @blp.doc(security=PUBLIC)
    @blp.arguments(OtpSendSchema, example={"phone": "9876543210", "channel": "whatsapp"})
    @blp.response(202, OtpSentSchema, example=OTP_EXAMPLE)
    @error_responses(blp, 429)
    def post(self, data):
        """Send a 6-digit sign-in code by WhatsApp (default) or SMS."""
        return services.send_otp(data["phone"], data["channel"], data["purpose"], current_client())


@blp.route("/otp/verify")
class OtpVerifyViews(MethodView):
    @rate_limit("RATELIMIT_SIGN_IN")
    @blp.doc(security=PUBLIC)
    @blp.arguments(OtpVerifySchema, example={"phone": "9876543210", "code": "482913"})
    @blp.response(200, SignedInSchema, example={**SIGNED_IN_EXAMPLE, "is_new_user": False})
    @error_responses(blp, 401)
    def post(self, data):
        """Check the code: sign in, or create the account (`is_new_user`), and mark the phone verified."""
        return services.verify_otp(data["phone"], data["code"], current_client())


@blp.route("/refresh")
class RefreshViews(MethodView):
    @jwt_required(refresh=True)
    @blp.response(200, TokensSchema, example=TOKENS_EXAMPLE)
    @error_responses(blp, 401)
    def post(self):
        """Swap the refresh token (as Bearer) for new tokens; a spent one ends its session."""
        return sessions.rotate(current_user, get_jwt(), current_client())


def _own_session_of(refresh_token):
    """The session id of a refresh token of the caller's own, else None (a stranger's is ignored)."""
    try:
        payload = decode_token(refresh_token)
    except (JWTExtendedException, PyJWTError):
        return None
    mine = payload.get("type") == "refresh" and payload.get("sub") == str(current_user.id)
    return payload.get("sid") if mine else None


@blp.route("/logout")
class LogoutViews(MethodView):
    @login_required()
    @blp.arguments(LogoutSchema, example={"refresh_token": TOKENS_EXAMPLE["refresh_token"]})
    @blp.response(204)
    @error_responses(blp, 401)
    def post(self, data):
        """End this session (and the one of `refresh_token`, if it is the caller's)."""
        sessions.end(current_user, get_jwt()["sid"], "logout", current_client())
        other = _own_session_of(data.get("refresh_token", ""))
        if other and other != get_jwt()["sid"]:
            sessions.end(current_user, other, "logout", current_client())


@blp.route("/me")
class MeViews(MethodView):
    @prefetch(user_cache.keys)
    @login_required()
    @blp.response(200, UserSchema, example=USER_EXAMPLE)
    @error_responses(blp, 401)
    def get(self):
        """The signed-in user."""
        body = user_cache.own_profile(current_user.id, lambda: current_user.row, _USER_SCHEMA)
        return json_response(body)

    @login_required()
    @blp.arguments(MeUpdateSchema, example={"full_name": "Asha R. Rao"})
    @blp.response(200, UserSchema, example=USER_EXAMPLE)
    @error_responses(blp, 401, 409)
    def patch(self, changes):
        """Change your name; email, phone or password need a fresh sign-in (`AUTH_006`)."""
        return services.update_me(current_user.row, changes, fresh=get_jwt().get("fresh", False),
                                  client=current_client(), session_id=get_jwt()["sid"])


def _described(items):
    return [sessions.describe(session, get_jwt()["sid"]) for session in items]


@blp.route("/sessions")
class SessionViews(MethodView):
    @login_required()
    @blp.arguments(PageArgsSchema, location="query")
    @paginated(blp, SessionSchema, {
        "id": "5f0c2a9e0d6b4c1f8e3a7b6d5c4e3f21", "device": "CastingApp/2.3 (Android 15)", "ip": "203.0.113.7",
        "created_at": "2026-11-20T09:00:00+00:00", "last_used_at": "2026-11-24T10:00:00+00:00", "current": True},
        present=_described)
    @error_responses(blp, 401)
    def get(self, args):
        """Your signed-in devices, most recently used first."""
        return sessions.active_sessions(current_user)


@blp.route("/sessions/<string:session_id>")
class SessionByIdViews(MethodView):
    @login_required()
    @blp.response(204)
    @error_responses(blp, 401, 404)
    def delete(self, session_id):
        """Sign one of your devices out."""
        sessions.end(current_user, session_id, "session_revoked", current_client())


@blp.route("/oauth/google")
class GoogleViews(MethodView):
    @rate_limit("RATELIMIT_SIGN_IN")
    @blp.doc(security=PUBLIC)
    @blp.arguments(GoogleSignInSchema, example={"id_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.e30.sig"})
    @blp.response(200, SignedInSchema, example={**SIGNED_IN_EXAMPLE, "is_new_user": True})
    @error_responses(blp, 401)
    def post(self, data):
        """Sign in with Google (ID token, or an authorisation code with its redirect URI)."""
        identity = oauth.google_identity(data.get("id_token"), data.get("code"), data.get("redirect_uri"))
        return services.oauth_sign_in("google", identity, current_client())


@blp.route("/oauth/facebook")
class FacebookViews(MethodView):
    @rate_limit("RATELIMIT_SIGN_IN")
    @blp.doc(security=PUBLIC)
    @blp.arguments(FacebookSignInSchema, example={"access_token": "EAAGm0PX4ZCpsBA..."})
    @blp.response(200, SignedInSchema, example={**SIGNED_IN_EXAMPLE, "is_new_user": False})
    @error_responses(blp, 401)
    def post(self, data):
        """Sign in with Facebook (user access token, or an authorisation code with its redirect URI)."""
        identity = oauth.facebook_identity(data.get("access_token"), data.get("code"), data.get("redirect_uri"))
        return services.oauth_sign_in("facebook", identity, current_client())
