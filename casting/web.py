"""Request lifecycle: request ids, the rate limit and principal (one Redis round trip), content-type checks,
security headers and one access log line per request."""
import base64
import hashlib
import logging
import re
import time

from flask import current_app, g, request

from casting.errors import ApiError, Codes
from casting.requestid import request_id

log = logging.getLogger("casting.access")
_BODY_LOCATIONS = {
    "json": ("application/json",),
    "form": ("application/x-www-form-urlencoded", "multipart/form-data"),
    "files": ("multipart/form-data",),
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


def start_timer():
    g.started_at = time.perf_counter()
    request_id()


# An API answer is data, never a page: it may load nothing and be framed by nobody.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# An HTML page (the Swagger UI): its own assets, its inline scripts by hash, calls to this origin only.
HTML_CSP = ("default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
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
    log.info("request", extra={"method": request.method, "path": request.path,
                               "status": response.status_code, "duration_ms": round(elapsed_ms, 1)})
    return response


def register_request_hooks(app):
    from casting.auth.principal import check_request

    app.before_request(start_timer)
    app.before_request(check_request)
    app.before_request(check_content_type)
    app.after_request(security_headers)
    app.after_request(finish)
