"""The error envelope (CONTRACT §1) and the one catalogue of error codes."""
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import jsonify
from flask_limiter.errors import RateLimitExceeded
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, IntegrityError, TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from casting.kernel.requestid import request_id

log = logging.getLogger("casting.errors")  # the name it logged under before the kernel folder


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    message: str


class Codes:
    """Every code the API returns. A code never changes meaning once released."""

    AUTH_INVALID_CREDENTIALS = ErrorCode("AUTH_001", 401, "Invalid email/phone or password.")
    AUTH_MISSING = ErrorCode("AUTH_002", 401,
                             "Sign-in required: send an access token as `Authorization: Bearer`.")
    AUTH_INVALID_TOKEN = ErrorCode("AUTH_003", 401, "The token is invalid.")
    AUTH_EXPIRED = ErrorCode("AUTH_004", 401, "The token has expired.")
    AUTH_REVOKED = ErrorCode("AUTH_005", 401, "The token has been revoked.")
    AUTH_NOT_FRESH = ErrorCode("AUTH_006", 401, "This action needs a fresh sign-in.")
    AUTH_FORBIDDEN = ErrorCode("AUTH_007", 403, "You do not have permission for this action.")
    AUTH_TOO_MANY_ATTEMPTS = ErrorCode("AUTH_008", 429, "Too many sign-in attempts; try again later.")
    AUTH_BAD_CODE = ErrorCode("AUTH_009", 401, "The code is wrong or has expired.")
    AUTH_ACCOUNT_EXISTS = ErrorCode("AUTH_010", 409, "An account with this email or phone already exists.")
    AUTH_CODE_THROTTLED = ErrorCode("AUTH_011", 429, "Please wait before asking for another code.")
    AUTH_OAUTH_FAILED = ErrorCode("AUTH_012", 401, "The Google or Facebook sign-in could not be verified.")
    AUTH_BAD_API_KEY = ErrorCode("AUTH_013", 401, "The API key is missing, unknown or revoked.")
    AUTH_NOT_FOUND = ErrorCode("AUTH_014", 404, "No such session, user or key.")
    TALENT_EXISTS = ErrorCode("TALENT_001", 409, "This user already has a talent profile.")
    TALENT_NOT_FOUND = ErrorCode("TALENT_002", 404, "No such talent.")
    AUDITION_NOT_FOUND = ErrorCode("AUDITION_001", 404, "No such audition.")
    AUDITION_BAD_MOVE = ErrorCode("AUDITION_002", 409, "This invitation cannot make that move.")
    INVITATION_NOT_FOUND = ErrorCode("AUDITION_003", 404, "No invitation for this talent in this audition.")
    SLOT_FULL = ErrorCode("AUDITION_004", 409, "That slot is full: you keep the one you have.")
    MEDIA_UNSUPPORTED = ErrorCode("MEDIA_001", 415,
                                  "Only JPEG, PNG or WebP images are accepted (judged by content).")
    MEDIA_TOO_LARGE = ErrorCode("MEDIA_002", 413, "The file is larger than the upload limit.")
    MEDIA_NOT_FOUND = ErrorCode("MEDIA_003", 404, "No such media for this talent.")
    MEDIA_LIMIT = ErrorCode("MEDIA_004", 409, "The portfolio is full: delete an image before adding another.")
    MEDIA_LINK_INVALID = ErrorCode("MEDIA_005", 403, "The media link is invalid or has expired.")
    PRODUCTION_NOT_FOUND = ErrorCode("PRODUCTION_001", 404, "No such production.")
    PRODUCTION_BAD_MOVE = ErrorCode("PRODUCTION_002", 409, "This status change is not allowed.")
    PRODUCTION_IN_USE = ErrorCode("PRODUCTION_003", 409,
                                  "The production has auditions: close it instead of deleting it.")
    ROLE_NOT_FOUND = ErrorCode("PRODUCTION_004", 404, "No such role in this production.")
    CONVERSATION_NOT_FOUND = ErrorCode("MESSAGE_001", 404, "No such conversation.")
    MESSAGE_NOT_FOUND = ErrorCode("MESSAGE_002", 404, "No such message in this conversation.")
    ATTACHMENT_NOT_FOUND = ErrorCode("MESSAGE_003", 404, "No such attachment.")
    ATTACHMENT_IN_USE = ErrorCode("MESSAGE_004", 409, "That attachment is already part of a message.")
    MESSAGE_FLOOD = ErrorCode("MESSAGE_005", 429, "Too many messages in this conversation: slow down.")
    VERIFIED_ONLY = ErrorCode("MESSAGE_006", 403,
                              "Someone here accepts new conversations only from verified casting accounts.")
    PRODUCTION_HELD = ErrorCode("PRODUCTION_005", 409, "This is held for review by our safety team.")
    ACCOUNT_SUSPENDED = ErrorCode("SAFETY_001", 403, "This account is suspended: it cannot message or publish.")
    FLAG_NOT_FOUND = ErrorCode("SAFETY_002", 404, "No such flag.")
    FLAG_RESOLVED = ErrorCode("SAFETY_003", 409, "This flag is already resolved.")
    REPORT_TARGET_NOT_FOUND = ErrorCode("SAFETY_004", 404, "Nothing to report there.")
    NOT_VERIFIABLE = ErrorCode("SAFETY_005", 409, "Only casting directors, producers and agents are verified.")
    VALIDATION = ErrorCode("VALIDATION_001", 422, "Some fields are not valid.")
    BAD_REQUEST = ErrorCode("REQUEST_001", 400, "The request could not be read.")
    NOT_FOUND = ErrorCode("REQUEST_002", 404, "Nothing was found at this address.")
    METHOD_NOT_ALLOWED = ErrorCode("REQUEST_003", 405, "This method is not allowed here.")
    TOO_LARGE = ErrorCode("REQUEST_004", 413, "The request body is too large.")
    UNSUPPORTED_MEDIA_TYPE = ErrorCode("REQUEST_005", 415, "This content type is not accepted here.")
    REQUEST_REFUSED = ErrorCode("REQUEST_099", 400, "The request was refused; the HTTP status says why.")
    RATE_LIMITED = ErrorCode("RATE_001", 429, "Too many requests: slow down and retry later.")
    WEBHOOK_VERIFY_FAILED = ErrorCode("WEBHOOK_001", 403, "The verification token does not match.")
    WEBHOOK_BAD_SIGNATURE = ErrorCode("WEBHOOK_002", 401, "The webhook signature is missing or wrong.")
    SERVER_ERROR = ErrorCode("SERVER_001", 500, "Something went wrong on our side.")
    UNAVAILABLE = ErrorCode("SERVER_002", 503, "The service is not ready: a dependency is unreachable.")
    BUSY = ErrorCode("SERVER_003", 503, "The service is busy: retry in a moment.")
    UNVERIFIED_GROUP_LIMIT = ErrorCode("MESSAGE_007", 403,
                                       "Until your account is verified, a conversation has at most a few people.")
    UNVERIFIED_START_LIMIT = ErrorCode("MESSAGE_008", 429,
                                       "Until your account is verified, you can start only a few new conversations "
                                       "a day.")
    CALL_NOT_FOUND = ErrorCode("CALL_001", 404, "No such casting call.")
    CALL_EXISTS = ErrorCode("CALL_002", 409, "This role already has a casting call: edit that one.")
    CALL_CLOSED = ErrorCode("CALL_003", 409, "This casting call is closed: its deadline passed or it was closed.")
    CALL_FULL = ErrorCode("CALL_004", 409, "This casting call has all the submissions it takes.")
    CALL_INCOMPLETE = ErrorCode("CALL_005", 422, "The submission lacks something the casting call asks for.")
    CALL_NOT_ELIGIBLE = ErrorCode("CALL_006", 403, "This casting call does not take submissions from you.")
    SUBMISSION_NOT_FOUND = ErrorCode("CALL_007", 404, "No such submission.")
    SUBMISSION_EXISTS = ErrorCode("CALL_008", 409, "This talent has already submitted to this casting call.")
    SUBMISSION_BAD_MOVE = ErrorCode("CALL_009", 409, "This submission cannot make that move.")
    DIGEST_LINK_INVALID = ErrorCode("CALL_010", 404, "This unsubscribe link is not valid.")
    TAPE_NOT_FOUND = ErrorCode("TAPE_001", 404, "No such self-tape.")
    TAPE_TOO_LARGE = ErrorCode("TAPE_002", 413, "The video is larger than the upload limit.")
    TAPE_UPLOAD_INCOMPLETE = ErrorCode("TAPE_003", 409,
                                       "The upload is not complete: some parts are missing or the wrong size.")
    TAPE_BAD_STATE = ErrorCode("TAPE_004", 409, "The self-tape cannot do that in its present state.")
    TAPE_LATE = ErrorCode("TAPE_005", 409, "The deadline for this self-tape has passed.")
    TAPE_NOT_TAKEN = ErrorCode("TAPE_006", 409, "This audition or submission does not take a self-tape.")
    TAPE_LINK_INVALID = ErrorCode("TAPE_007", 403, "The upload link is invalid or has expired.")
    IDEMPOTENCY_KEY_REUSED = ErrorCode("REQUEST_006", 422,
                                       "This Idempotency-Key was already used for a different request.")
    IDEMPOTENCY_IN_FLIGHT = ErrorCode("REQUEST_007", 409,
                                      "The request with this Idempotency-Key was applied, but its answer is not "
                                      "recorded (yet): it is not applied again.")
    CHAT_BUSY = ErrorCode("MESSAGE_009", 503, "The chat server is busy: send again after `retry_after` seconds, "
                                              "with the same client_id.")
    CHAT_TRANSPORT = ErrorCode("MESSAGE_010", 400, "This Socket.IO transport is not served: connect with the "
                                                   "WebSocket transport only.")


CATALOGUE = sorted((value for value in vars(Codes).values() if isinstance(value, ErrorCode)),
                   key=lambda error: error.code)
CATALOGUE_BEGIN = "<!-- generated from casting/kernel/errors.py by `flask docs errors`: do not edit by hand -->"
CATALOGUE_END = "<!-- end of the generated catalogue -->"


def catalogue_markdown():
    """The catalogue as a Markdown table: the OpenAPI document's `errors` section and docs/errors.md."""
    rows = "\n".join(f"| `{e.code}` | {e.status} | {e.message} |" for e in CATALOGUE)
    return "| code | status | meaning |\n|---|---|---|\n" + rows


def with_catalogue(document):
    """`document` (docs/errors.md) with the table between its markers written from the catalogue."""
    head, found, rest = document.partition(CATALOGUE_BEGIN)
    _, ended, tail = rest.partition(CATALOGUE_END)
    if not (found and ended):
        raise ValueError("the errors document lacks the generated catalogue's markers")
    return f"{head}{CATALOGUE_BEGIN}\n{catalogue_markdown()}\n{CATALOGUE_END}{tail}"


_BY_STATUS = {400: Codes.BAD_REQUEST, 401: Codes.AUTH_MISSING, 403: Codes.AUTH_FORBIDDEN,
              404: Codes.NOT_FOUND, 405: Codes.METHOD_NOT_ALLOWED, 413: Codes.TOO_LARGE,
              415: Codes.UNSUPPORTED_MEDIA_TYPE, 422: Codes.VALIDATION, 429: Codes.RATE_LIMITED,
              500: Codes.SERVER_ERROR, 503: Codes.UNAVAILABLE}


class ApiError(Exception):
    """Raise from anywhere in a request to answer with the envelope for `error`."""

    def __init__(self, error, message=None, details=None, status=None, headers=None):
        super().__init__(message or error.message)
        self.error = error
        self.message = message or error.message
        self.details = details
        self.status = status or error.status
        self.headers = headers or {}


def envelope(error, message=None, details=None):
    """The envelope's body for `error` (also what a Socket.IO event acks when it fails)."""
    body = {"code": error.code, "message": message or error.message,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "requestId": request_id()}
    if details:
        body["details"] = details
    return body


def error_response(error, message=None, details=None, status=None, headers=None):
    """Build the envelope response; the request id also goes out as `X-Request-ID`."""
    status = status or error.status
    response = jsonify(envelope(error, message, details))
    response.status_code = status
    response.headers.update(headers or {})
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def handle_api_error(exc):
    return error_response(exc.error, exc.message, exc.details, exc.status, exc.headers)


def flatten_messages(messages, prefix=""):
    """Turn webargs' nested `{location: {field: {sub: [..]}}}` into `{"field.sub": [..]}`."""
    flat = {}
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten_messages(value, name))
        else:
            flat[name] = value if isinstance(value, list) else [value]
    return flat


def handle_http_exception(exc: HTTPException):
    """Render any werkzeug/webargs/limiter HTTP error as the envelope."""
    status = exc.code or 500
    error = _BY_STATUS.get(status) or (Codes.SERVER_ERROR if status >= 500 else Codes.REQUEST_REFUSED)
    data = getattr(exc, "data", None) or {}
    headers = dict(exc.get_headers())
    headers.pop("Content-Type", None)
    headers.update(data.get("headers") or {})
    details = None
    messages = data.get("messages")
    if status == 422 and messages:
        details = {"fields": flatten_messages({k: v for loc in messages.values() for k, v in loc.items()})}
    elif status == 400 and messages:
        details = {"reason": flatten_messages(messages)}
    message = data.get("message") or (error.message if status in _BY_STATUS else exc.description)
    return error_response(error, message, details, status, headers)


def register_error_handlers(app, limiter):
    """ApiError and the rate limiter's 429 here; other HTTPExceptions through `CastingApi`."""
    app.register_error_handler(ApiError, handle_api_error)

    def rate_limited(exc):
        limit = limiter.current_limit
        wait = max(1, math.ceil(limit.reset_at - time.time())) if limit else 60
        return error_response(Codes.RATE_LIMITED, headers={"Retry-After": str(wait)})

    app.register_error_handler(RateLimitExceeded, rate_limited)

    def busy(exc):
        return _busy("database pool exhausted: answering 503")

    app.register_error_handler(PoolTimeout, busy)

    def unavailable(exc):
        """PostgreSQL or Redis unreachable: a 503 the client may retry, never a 500 (the pools reconnect by
        themselves when it returns: pre-ping for PostgreSQL, a new connection per failure for Redis). A
        statement cancelled past DB_STATEMENT_TIMEOUT_MS: the busy 503, as admission control refuses."""
        if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == STATEMENT_TIMED_OUT:
            _forget_transaction()
            return _busy("statement timed out (DB_STATEMENT_TIMEOUT_MS): answering 503")
        if isinstance(exc, DBAPIError) and not unreachable_database(exc):
            raise exc  # a bad query or a conflict: the usual 500, logged with its trace
        log.warning("dependency unreachable: answering 503", extra={"error": type(exc).__name__})
        _forget_transaction()
        return error_response(Codes.UNAVAILABLE, headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)})

    for error in (RedisConnectionError, RedisTimeoutError, DBAPIError):
        app.register_error_handler(error, unavailable)

    def conflict(exc):
        """A second request with the same Idempotency-Key committed after the first: its work is rolled back."""
        from casting.kernel.idempotency import in_flight_conflict

        if not in_flight_conflict(exc):
            raise exc
        _forget_transaction()
        return error_response(Codes.IDEMPOTENCY_IN_FLIGHT, headers={"Retry-After": "1"})

    app.register_error_handler(IntegrityError, conflict)


UNAVAILABLE_RETRY_AFTER = 5
STATEMENT_TIMED_OUT = "57014"  # query_canceled: statement_timeout, or an operator's pg_cancel_backend
# SQLSTATE classes of a database that is gone or going: connection exceptions, and an operator or a crash
# shutting the server down ("cannot connect now" while it starts).
_UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def unreachable_database(exc):
    """True when a database error means the server cannot be reached (not a bad query, not a conflict)."""
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is None:  # raised by the driver while connecting, before the server said anything
        return type(exc.orig).__name__ in ("OperationalError", "InterfaceError")
    return sqlstate.startswith(_UNREACHABLE_SQLSTATES)


def _busy(reason):
    """The busy 503 a client retries after a second (`reason` goes to the log)."""
    log.warning(reason)
    return error_response(Codes.BUSY, headers={"Retry-After": "1"})


def _forget_transaction():
    from casting.kernel.extensions import db

    try:
        db.session.rollback()
    except Exception:  # nosec B110
        # the connection is gone: the session starts afresh on the next request
        pass


def register_jwt_errors(jwt):
    """Every flask-jwt-extended failure answers with the envelope and its own AUTH code."""
    jwt.unauthorized_loader(lambda reason: error_response(Codes.AUTH_MISSING))
    jwt.invalid_token_loader(lambda reason: error_response(Codes.AUTH_INVALID_TOKEN))
    jwt.expired_token_loader(lambda header, payload: error_response(Codes.AUTH_EXPIRED))
    jwt.revoked_token_loader(lambda header, payload: error_response(Codes.AUTH_REVOKED))
    jwt.needs_fresh_token_loader(lambda header, payload: error_response(Codes.AUTH_NOT_FRESH))
    jwt.user_lookup_error_loader(lambda header, payload: error_response(Codes.AUTH_INVALID_TOKEN))
    jwt.token_verification_failed_loader(
        lambda header, payload: error_response(Codes.AUTH_INVALID_TOKEN))
