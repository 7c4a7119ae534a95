"""Request lifecycle: request ids, the rate limit and principal (one Redis round trip), content-type checks,
security headers, one access log line per request, and the links the API hands out.

Secret path parts (a calendar feed's token) are declared in the route as `<secret:name>`; they reach
the view as usual but never a log line or a trace: `loggable_path()` and `redact()` put `[secret]` in
their place. Links are built from PUBLIC_BASE_URL, never from the request's `Host`.
"""
import base64
import hashlib
import logging
import re
import time
from functools import partial
from urllib.parse import quote, urlsplit

from flask import Flask, current_app, g, request
from werkzeug.routing import Rule, UnicodeConverter

from casting.kernel.errors import ApiError, Codes
from casting.kernel.requestid import request_id

log = logging.getLogger("casting.access")
error_log = logging.getLogger("casting.errors")
REDACTED = "[secret]"
_BODY_LOCATIONS = {
    "json": ("application/json",),
    "form": ("application/x-www-form-urlencoded", "multipart/form-data"),
    "files": ("multipart/form-data",),
    "multipart": ("multipart/form-data",),
}


def _accepted_content_types():
    """The content types the matched view's documented arguments accept, or None if it takes no body."""
    view = current_app.view_functions.get(request.endpoint)
    handler = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    arguments = getattr(handler, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    accepted = [ctype for arg in arguments for ctype in _BODY_LOCATIONS.get(arg.get("in"), ())]
    return accepted or None


def check_content_type():
    """Refuse a body whose content type the route does not take (415), before anything reads it."""
    has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get("Transfer-Encoding", "")
    if request.method not in ("POST", "PUT", "PATCH") or not has_body:
        return
    accepted = _accepted_content_types()
    if accepted and request.mimetype not in accepted:
        raise ApiError(Codes.UNSUPPORTED_MEDIA_TYPE, details={"accepted": accepted})


class Secret(str):
    """A path part that is a credential: the view gets it as a plain string, the logs never see it."""


class SecretConverter(UnicodeConverter):
    """`<secret:token>`: a string path part that is kept out of logs and traces."""

    def to_python(self, value):
        return Secret(value)


def redact(text):
    """`text` with the current request's secret path parts replaced by `[secret]`."""
    for value in (request.view_args or {}).values():
        if isinstance(value, Secret) and value:
            text = text.replace(value, REDACTED).replace(quote(value), REDACTED)  # as sent, and as decoded
    return text


def loggable_path():
    return redact(request.path)


class ContractRule(Rule):
    """A route is the contract's path, without a trailing slash (a blueprint's collection route `/` under
    `/api/talents` gives `/api/talents`, not `/api/talents/`), and answers both with and without one,
    directly (`strict_slashes=False`): never a redirect, which a browser's CORS preflight does not follow."""

    def __init__(self, string, *args, **kwargs):
        kwargs["strict_slashes"] = False
        super().__init__(string.rstrip("/") or "/", *args, **kwargs)


class CastingFlask(Flask):
    """Flask, logging an unhandled error without secret path parts (and, see `casting.kernel.logs`, without a
    database error's message); its routes are `ContractRule`s."""

    url_rule_class = ContractRule

    def log_exception(self, exc_info):
        error_log.error(f"unhandled error on {request.method} {loggable_path()}", exc_info=exc_info)


def public_url(endpoint, **values):
    """An absolute link to `endpoint` under PUBLIC_BASE_URL (the request's Host plays no part)."""
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def start_timer():
    g.started_at = time.perf_counter()
    request_id()


# An API answer is data, never a page: it may load nothing and be framed by nobody.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# An HTML page (Swagger UI, ReDoc): its own assets, its inline scripts by hash, calls to this origin only;
# ReDoc's search runs in a worker its own bundle starts from a blob.
HTML_CSP = ("default-src 'none'; script-src {scripts}; worker-src blob:; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _html_csp(response):
    """The page's CSP, allowing exactly the inline scripts it carries (by their SHA-256)."""
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
              for script in _INLINE_SCRIPT.findall(response.get_data(as_text=True))]
    return HTML_CSP.format(scripts=" ".join(["'self'", *hashes]))


def security_headers(response):
    """On every answer: no MIME sniffing, no referrer, a CSP; HSTS when the request came over HTTPS.

    Whether it did honours TRUSTED_PROXIES: behind a trusted proxy, its X-Forwarded-Proto decides.
    """
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    html = response.mimetype == "text/html" and not response.is_streamed
    headers.setdefault("Content-Security-Policy", _html_csp(response) if html else API_CSP)
    if request.is_secure and current_app.config["HSTS_SECONDS"] > 0:
        headers.setdefault("Strict-Transport-Security",
                           f"max-age={current_app.config['HSTS_SECONDS']}; includeSubDomains")
    return response


def finish(response):
    response.headers["X-Request-ID"] = request_id()
    elapsed_ms = (time.perf_counter() - g.get("started_at", time.perf_counter())) * 1000
    log.info("request", extra={"method": request.method, "path": loggable_path(),
                               "status": response.status_code, "duration_ms": round(elapsed_ms, 1)})
    return response


def register_request_hooks(app, check_request, rate_limit_headers, signed_in_principal):
    """The hooks every request passes; `check_request` (the caller's principal and rate limit, before the
    view), `rate_limit_headers` (after it) and `signed_in_principal` (whose Idempotency-Key it is) come from
    the auth domain. Idempotency keys are checked once the principal is known, their answers recorded last."""
    from casting.kernel import idempotency

    app.url_map.converters["secret"] = SecretConverter
    app.before_request(start_timer)
    app.before_request(check_request)
    app.before_request(check_content_type)
    # after the principal is known and the body's type accepted
    app.before_request(partial(idempotency.check, signed_in_principal))
    app.after_request(rate_limit_headers)
    app.after_request(security_headers)
    app.after_request(finish)
    app.after_request(idempotency.remember)
