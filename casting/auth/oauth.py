"""Google and Facebook identities, verified against the providers (their URLs come from config).

Google ID tokens are checked with joserfc, the JOSE library of the Authlib project (authlib.jose
is deprecated in its favour): RS256 only, Google's published keys, issuer, audience and expiry.
"""
import requests
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from casting.kernel.errors import ApiError, Codes
from casting.kernel.extensions import cache

TIMEOUT = (5, 10)
GOOGLE_ISSUERS = ["https://accounts.google.com", "accounts.google.com"]


def _failed(reason):
    return ApiError(Codes.AUTH_OAUTH_FAILED, details={"reason": reason})


def _call(method, url, **kwargs):
    try:
        response = requests.request(method, url, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as error:
        raise _failed("the provider could not be reached") from error
    if not response.ok:
        raise _failed(f"the provider answered HTTP {response.status_code}")
    return response.json()


def _google_keys():
    """Google's published signing keys, cached for an hour."""
    keys = cache.get("oauth:google:jwks")
    if keys is None:
        keys = _call("GET", current_app.config["GOOGLE_JWKS_URL"])
        cache.set("oauth:google:jwks", keys, timeout=3600)
    return KeySet.import_key_set(keys)


def google_identity(id_token=None, code=None, redirect_uri=None):
    """Verify a Google ID token (signature, issuer, audience, expiry), exchanging a `code` first if given."""
    config = current_app.config
    if not config["GOOGLE_CLIENT_ID"]:
        raise _failed("Google sign-in is not configured")  # before any call to Google
    if code:
        id_token = _call("POST", config["GOOGLE_TOKEN_URL"], data={
            "code": code, "client_id": config["GOOGLE_CLIENT_ID"], "redirect_uri": redirect_uri,
            "client_secret": config["GOOGLE_CLIENT_SECRET"], "grant_type": "authorization_code"}).get("id_token")
    if not id_token:
        raise _failed("no ID token")
    rules = jwt.JWTClaimsRegistry(leeway=30, iss={"essential": True, "values": GOOGLE_ISSUERS},
                                  aud={"essential": True, "value": config["GOOGLE_CLIENT_ID"]},
                                  exp={"essential": True}, sub={"essential": True})
    try:
        claims = jwt.decode(id_token, _google_keys(), algorithms=["RS256"]).claims
        rules.validate(claims)
    except (JoseError, ValueError) as error:
        raise _failed("the ID token is not valid") from error
    return {"subject": claims["sub"], "email": claims.get("email"),
            "email_verified": claims.get("email_verified") is True, "name": claims.get("name")}


def facebook_identity(access_token=None, code=None, redirect_uri=None):
    """Check a Facebook user token with the Graph API (`debug_token`), exchanging a `code` first if given."""
    config = current_app.config
    graph, app_id = config["FACEBOOK_GRAPH_URL"].rstrip("/"), config["FACEBOOK_APP_ID"]
    app_token = f"{app_id}|{config['FACEBOOK_APP_SECRET']}"
    if not app_id:
        raise _failed("Facebook sign-in is not configured")
    if code:
        access_token = _call("GET", f"{graph}/oauth/access_token", params={
            "client_id": app_id, "client_secret": config["FACEBOOK_APP_SECRET"],
            "redirect_uri": redirect_uri, "code": code}).get("access_token")
    if not access_token:
        raise _failed("no access token")
    check = _call("GET", f"{graph}/debug_token", params={"input_token": access_token,
                                                         "access_token": app_token}).get("data", {})
    if not check.get("is_valid") or str(check.get("app_id")) != str(app_id):
        raise _failed("the access token is not valid for this app")
    profile = _call("GET", f"{graph}/me", params={"fields": "id,name,email", "access_token": access_token})
    # The Graph API's `email` carries no verified flag (the user field `verified` that once existed said
    # only that the person was verified somehow, and is gone), so a Facebook email is never proof.
    return {"subject": str(profile["id"]), "email": profile.get("email"),
            "email_verified": False, "name": profile.get("name")}
