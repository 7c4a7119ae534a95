"""Configuration from the environment (and an optional `.env`), one class per mode."""
import base64
import binascii
import hashlib
import importlib.util
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv

DEV_SECRET = "dev-secret-key-not-for-production"
DEV_JWT_SECRET = "dev-jwt-secret-key-not-for-production"
BASE_DIR = Path(__file__).resolve().parent
MIN_SECRET_LENGTH = 32
# What production needs from each notification provider besides its name (the console one is refused).
PROVIDER_SETTINGS = {
    "cloud": ("WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"),
    "msg91": ("MSG91_AUTH_KEY", "MSG91_SENDER_ID", "MSG91_WEBHOOK_TOKEN"),
    "twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"),
    "smtp": ("SMTP_HOST",),
}
PROVIDER_CHOICES = {"WHATSAPP_PROVIDER": "cloud", "SMS_PROVIDER": "msg91 or twilio", "EMAIL_PROVIDER": "smtp"}
REDIS_CERT_REQS = ("required", "optional", "none")


def _str(name, default=None):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _int(name, default):
    return int(_str(name, default))


def embedding_dim():
    """EMBEDDING_DIM: read here too by the models, whose vector columns are declared at import."""
    return _int("EMBEDDING_DIM", 384)


def _bool(name, default):
    return str(_str(name, default)).strip().lower() in {"1", "true", "yes", "on"}


def _list(name, default=""):
    return [item.strip() for item in _str(name, default).split(",") if item.strip()]


def pii_key(secret, purpose):
    """A Fernet-shaped key derived from the secret key: the development default for PII keys."""
    digest = hashlib.sha256(f"{purpose}:{secret}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def database_url(url):
    """Map `postgres://` and `postgresql://` URLs to the psycopg 3 driver."""
    if url is None:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Settings shared by every mode; read when the object is made, not at import."""

    APP_ENV = "production"
    DEBUG = False
    TESTING = False
    PROPAGATE_EXCEPTIONS = False  # unhandled errors become the 500 envelope in every mode

    def __init__(self):
        load_dotenv(BASE_DIR / ".env")
        self.SECRET_KEY = _str("SECRET_KEY", DEV_SECRET)
        self.JWT_SECRET_KEY = _str("JWT_SECRET_KEY", DEV_JWT_SECRET)
        self.INSTANCE_PATH = str(Path(_str("INSTANCE_PATH", BASE_DIR / "instance")).resolve())
        self.DATABASE_URL = database_url(_str("DATABASE_URL"))
        self.REDIS_URL = _str("REDIS_URL")
        self.QUEUE_REDIS_URL = _str("QUEUE_REDIS_URL", "")  # RQ: must never evict (default: REDIS_URL)
        self.CACHE_REDIS_URL = _str("CACHE_REDIS_URL", "")  # the cache: may evict (default: REDIS_URL)
        self.REDIS_SSL_CERT_REQS = _str("REDIS_SSL_CERT_REQS", "required").lower()
        self.REDIS_SSL_CA_CERTS = _str("REDIS_SSL_CA_CERTS")
        self.LOG_LEVEL = _str("LOG_LEVEL", "INFO").upper()
        # json: one JSON object a line, for log collectors; text: a readable line, coloured on a terminal
        self.LOG_FORMAT = _str("LOG_FORMAT", "text" if self.APP_ENV == "development" else "json").lower()

        # connections the pool keeps open: as many as ADMISSION_LIMIT lets requests in (10 by default), so
        # a crowd of admitted requests does not open and close overflow connections (a server process each)
        self.DB_POOL_SIZE = _int("DB_POOL_SIZE", 10)
        self.DB_MAX_OVERFLOW = _int("DB_MAX_OVERFLOW", 10)
        self.DB_POOL_TIMEOUT = _int("DB_POOL_TIMEOUT", 10)
        self.DB_POOL_RECYCLE = _int("DB_POOL_RECYCLE", 1800)
        self.DB_POOL_PRE_PING = _bool("DB_POOL_PRE_PING", True)
        # with the pre-ping: a connection back in the pool sooner than this is used without it (0: every time)
        self.DB_POOL_PING_IDLE_MS = _int("DB_POOL_PING_IDLE_MS", 1000)
        self.DB_PGBOUNCER = _bool("DB_PGBOUNCER", False)
        # The longest one statement may run (lock waits included) before PostgreSQL cancels it and the request is
        # answered 503 SERVER_003 with Retry-After (0: no limit). gunicorn.conf.py gives the web processes 1500;
        # the RQ workers and the `flask` commands have none.
        self.DB_STATEMENT_TIMEOUT_MS = _int("DB_STATEMENT_TIMEOUT_MS", 0)
        # Admission control (casting/kernel/admission.py): requests one web process serves at once (0: no limit;
        # keep it within DB_POOL_SIZE + DB_MAX_OVERFLOW), and how long one may wait for a place before it
        # is refused with 503 SERVER_003 and Retry-After.
        self.ADMISSION_LIMIT = _int("ADMISSION_LIMIT", 10)
        self.ADMISSION_WAIT_MS = _int("ADMISSION_WAIT_MS", 500)
        self.SLOW_QUERY_MS = _int("SLOW_QUERY_MS", 100)
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False

        self.PII_KEYS = _list("PII_KEYS") or [pii_key(self.SECRET_KEY, "pii")]
        self.PII_INDEX_KEY = _str("PII_INDEX_KEY", pii_key(self.SECRET_KEY, "pii-index"))

        self.JWT_ALGORITHM = "HS256"
        self.JWT_DECODE_ALGORITHMS = ["HS256"]
        self.JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=_int("JWT_ACCESS_MINUTES", 15))
        self.JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=_int("JWT_REFRESH_DAYS", 30))

        self.LOGIN_LIMIT_PER_IDENTIFIER = _str("LOGIN_LIMIT_PER_IDENTIFIER", "5/15minutes")
        self.LOGIN_LIMIT_PER_IP = _str("LOGIN_LIMIT_PER_IP", "30/15minutes")
        self.OTP_TTL_SECONDS = min(_int("OTP_TTL_SECONDS", 600), 600)
        self.OTP_RESEND_SECONDS = _int("OTP_RESEND_SECONDS", 30)
        self.OTP_MAX_TRIES = 5
        self.OTP_LIMIT_PER_PHONE = _str("OTP_LIMIT_PER_PHONE", "5/hour")
        self.OTP_LIMIT_PER_IP = _str("OTP_LIMIT_PER_IP", "30/hour")
        self.GOOGLE_CLIENT_ID = _str("GOOGLE_CLIENT_ID", "")
        self.GOOGLE_CLIENT_SECRET = _str("GOOGLE_CLIENT_SECRET", "")
        self.GOOGLE_JWKS_URL = _str("GOOGLE_JWKS_URL", "https://www.googleapis.com/oauth2/v3/certs")
        self.GOOGLE_TOKEN_URL = _str("GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token")
        self.FACEBOOK_APP_ID = _str("FACEBOOK_APP_ID", "")
        self.FACEBOOK_APP_SECRET = _str("FACEBOOK_APP_SECRET", "")
        self.FACEBOOK_GRAPH_URL = _str("FACEBOOK_GRAPH_URL", "https://graph.facebook.com/v21.0")

        self.RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_DEFAULT = _str("RATELIMIT_DEFAULT", "100/minute")
        # Routes where the default does not fit have their own budget (`casting.kernel.throttle.rate_limit`):
        self.RATELIMIT_SEARCH = _str("RATELIMIT_SEARCH", "30/minute")  # talent search: the costliest read
        self.RATELIMIT_UPLOAD = _str("RATELIMIT_UPLOAD", "20/minute")  # photos and attachments: images decoded
        self.RATELIMIT_SIGN_IN = _str("RATELIMIT_SIGN_IN", "20/minute")  # register, password, OTP, Google/Facebook
        self.RATELIMIT_STRATEGY = "moving-window"
        self.RATELIMIT_HEADERS_ENABLED = False  # the 429 envelope sets its own Retry-After
        self.RATELIMIT_KEY_PREFIX = "casting:limits"
        self.TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 1)
        self.HSTS_SECONDS = _int("HSTS_SECONDS", 31_536_000)

        self.CACHE_TYPE = "RedisCache"
        self.CACHE_DEFAULT_TIMEOUT = _int("CACHE_DEFAULT_TIMEOUT", 300)
        self.CACHE_KEY_PREFIX = "casting:cache:"

        self.CORS_ORIGINS = _list("CORS_ORIGINS")
        self.PUBLIC_BASE_URL = (_str("PUBLIC_BASE_URL") or self.default_public_base_url()).rstrip("/")
        self.MEDIA_MAX_BYTES = _int("MEDIA_MAX_BYTES", 10 * 1024 * 1024)
        self.MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", self.MEDIA_MAX_BYTES + 2 * 1024 * 1024)
        self.MEDIA_MAX_PIXELS = _int("MEDIA_MAX_PIXELS", 40_000_000)
        self.MEDIA_WORKERS = _int("MEDIA_WORKERS", 2)
        self.MEDIA_PORTFOLIO_MAX = _int("MEDIA_PORTFOLIO_MAX", 30)
        self.MEDIA_URL_TTL = _int("MEDIA_URL_TTL", 3600)
        self.MEDIA_ROOT = str(Path(_str("MEDIA_ROOT", Path(self.INSTANCE_PATH) / "media")).resolve())
        self.S3_BUCKET = _str("S3_BUCKET", "")
        self.S3_REGION = _str("S3_REGION", "ap-south-1")
        self.S3_ENDPOINT_URL = _str("S3_ENDPOINT_URL")
        self.VIDEO_MAX_BYTES = _int("VIDEO_MAX_BYTES", 1024 * 1024 * 1024)
        self.VIDEO_PART_BYTES = _int("VIDEO_PART_BYTES", 8 * 1024 * 1024)
        self.VIDEO_MAX_SECONDS = _int("VIDEO_MAX_SECONDS", 600)
        self.VIDEO_UPLOAD_HOURS = _int("VIDEO_UPLOAD_HOURS", 24)
        self.VIDEO_PRUNE_MINUTES = _int("VIDEO_PRUNE_MINUTES", 60)
        self.FFMPEG_BIN = _str("FFMPEG_BIN", "ffmpeg")
        self.FFPROBE_BIN = _str("FFPROBE_BIN", "ffprobe")
        self.METRICS_TOKEN = _str("METRICS_TOKEN")
        self.RQ_QUEUES = ["high", "default", "low"]

        self.WHATSAPP_PROVIDER = _str("WHATSAPP_PROVIDER", "console")
        self.WHATSAPP_API_BASE = _str("WHATSAPP_API_BASE", "https://graph.facebook.com")
        self.WHATSAPP_API_VERSION = _str("WHATSAPP_API_VERSION", "v21.0")
        self.WHATSAPP_PHONE_NUMBER_ID = _str("WHATSAPP_PHONE_NUMBER_ID", "")
        self.WHATSAPP_ACCESS_TOKEN = _str("WHATSAPP_ACCESS_TOKEN", "")
        self.WHATSAPP_APP_SECRET = _str("WHATSAPP_APP_SECRET", "")
        self.WHATSAPP_VERIFY_TOKEN = _str("WHATSAPP_VERIFY_TOKEN", "")
        self.SMS_PROVIDER = _str("SMS_PROVIDER", "console")
        self.MSG91_API_BASE = _str("MSG91_API_BASE", "https://control.msg91.com")
        self.MSG91_AUTH_KEY = _str("MSG91_AUTH_KEY", "")
        self.MSG91_SENDER_ID = _str("MSG91_SENDER_ID", "")
        self.MSG91_ENTITY_ID = _str("MSG91_ENTITY_ID", "")
        self.MSG91_WEBHOOK_TOKEN = _str("MSG91_WEBHOOK_TOKEN", "")
        self.TWILIO_API_BASE = _str("TWILIO_API_BASE", "https://api.twilio.com")
        self.TWILIO_ACCOUNT_SID = _str("TWILIO_ACCOUNT_SID", "")
        self.TWILIO_AUTH_TOKEN = _str("TWILIO_AUTH_TOKEN", "")
        self.TWILIO_FROM = _str("TWILIO_FROM", "")
        self.TWILIO_STATUS_CALLBACK_URL = _str("TWILIO_STATUS_CALLBACK_URL", "")
        self.EMAIL_PROVIDER = _str("EMAIL_PROVIDER", "console")
        self.SMTP_HOST = _str("SMTP_HOST", "localhost")
        self.SMTP_PORT = _int("SMTP_PORT", 587)
        self.SMTP_USERNAME = _str("SMTP_USERNAME", "")
        self.SMTP_PASSWORD = _str("SMTP_PASSWORD", "")
        self.SMTP_STARTTLS = _bool("SMTP_STARTTLS", True)
        self.SMTP_FROM = _str("SMTP_FROM", "Casting <no-reply@casting.in>")
        self.NOTIFY_BACKOFF_SECONDS = [int(n) for n in _list("NOTIFY_BACKOFF_SECONDS", "10,60,300,900")]
        self.NOTIFY_FLOOD_LIMIT = _str("NOTIFY_FLOOD_LIMIT", "20/hour")
        self.NOTIFY_AUTH_FLOOD_LIMIT = _str("NOTIFY_AUTH_FLOOD_LIMIT", "10/hour")
        self.INVITE_LIMIT_PER_TALENT = _str("INVITE_LIMIT_PER_TALENT", "5/day")
        self.NOTIFY_SECRET_TTL = _int("NOTIFY_SECRET_TTL", 900)
        self.NOTIFY_STALE_MINUTES = _int("NOTIFY_STALE_MINUTES", 30)
        self.NOTIFY_RECONCILE_MINUTES = _int("NOTIFY_RECONCILE_MINUTES", 5)
        self.AUDITION_REMINDER_MINUTES = [int(n) for n in _list("AUDITION_REMINDER_MINUTES", "1440,60")]
        self.REPAIR_MINUTES = _int("REPAIR_MINUTES", 5)
        self.REPAIR_LOOKBACK_HOURS = _int("REPAIR_LOOKBACK_HOURS", 48)
        self.WORKER_MAINTENANCE_SECONDS = _int("WORKER_MAINTENANCE_SECONDS", 10)
        self.SCHEDULER_STALE_SECONDS = _int("SCHEDULER_STALE_SECONDS", 15)
        self.IDEMPOTENCY_HOURS = _int("IDEMPOTENCY_HOURS", 24)
        self.CHAT_SEND_LIMIT = _str("CHAT_SEND_LIMIT", "20/10seconds")
        self.CHAT_TYPING_LIMIT = _str("CHAT_TYPING_LIMIT", "60/minute")
        self.CHAT_CONVERSATION_LIMIT = _str("CHAT_CONVERSATION_LIMIT", "60/hour")
        self.CHAT_MAX_PARTICIPANTS = _int("CHAT_MAX_PARTICIPANTS", 50)
        self.CHAT_UNVERIFIED_MAX_PARTICIPANTS = _int("CHAT_UNVERIFIED_MAX_PARTICIPANTS", 5)
        self.CHAT_UNVERIFIED_START_LIMIT = _str("CHAT_UNVERIFIED_START_LIMIT", "20/day")
        self.CHAT_TYPING_SECONDS = _int("CHAT_TYPING_SECONDS", 6)
        self.CHAT_PRESENCE_SECONDS = _int("CHAT_PRESENCE_SECONDS", 30)
        self.CHAT_NOTIFY_DELAY_SECONDS = _int("CHAT_NOTIFY_DELAY_SECONDS", 60)
        self.CHAT_NOTIFY_BURST_SECONDS = _int("CHAT_NOTIFY_BURST_SECONDS", 1800)
        # no more than the pool keeps open: beyond it, each burst would open and close overflow connections
        self.CHAT_MAX_IN_FLIGHT = _int("CHAT_MAX_IN_FLIGHT", self.DB_POOL_SIZE)
        self.CHAT_BUSY_WAIT_MS = _int("CHAT_BUSY_WAIT_MS", 1000)
        self.ATTACHMENT_UNSENT_HOURS = _int("ATTACHMENT_UNSENT_HOURS", 24)
        self.ATTACHMENT_PRUNE_MINUTES = _int("ATTACHMENT_PRUNE_MINUTES", 60)
        self.SAFETY_SUSPEND_AFTER = _int("SAFETY_SUSPEND_AFTER", 3)
        self.SAFETY_DIGEST_MINUTES = _int("SAFETY_DIGEST_MINUTES", 60)
        self.CALLS_SWEEP_MINUTES = _int("CALLS_SWEEP_MINUTES", 5)
        self.CALLS_DIGEST_MINUTES = _int("CALLS_DIGEST_MINUTES", 60)
        self.EMBEDDING_DIM = embedding_dim()
        self.EMBEDDING_MODEL = _str("EMBEDDING_MODEL", "all-MiniLM-L6-v2")
        self.HNSW_EF_SEARCH = _int("HNSW_EF_SEARCH", 100)
        self.VECTOR_EXACT_MAX = _int("VECTOR_EXACT_MAX", 30000)

        self.API_TITLE = "Casting Platform API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        self.OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"
        # The token survives a reload; every operation has a link (#/tag/operationId); a filter by tag.
        self.OPENAPI_SWAGGER_UI_CONFIG = {"persistAuthorization": True, "deepLinking": True, "filter": True,
                                          "displayOperationId": False, "docExpansion": "list",
                                          "defaultModelsExpandDepth": 0, "tryItOutEnabled": False}
        self.OPENAPI_REDOC_PATH = "redoc"
        self.OPENAPI_REDOC_URL = "/api/docs/assets/redoc.standalone.js"

    def default_public_base_url(self):
        """Where this server answers when PUBLIC_BASE_URL is unset: the local server's own port."""
        return f"http://localhost:{_str('PORT', '5000')}"

    def validate(self):
        """Raise if a setting is missing or out of range; the message names the variable."""
        base = urlsplit(self.PUBLIC_BASE_URL)
        if self.PUBLIC_BASE_URL and (base.scheme not in ("http", "https") or not base.netloc or base.query
                                     or base.fragment):
            raise RuntimeError("PUBLIC_BASE_URL must be the absolute http(s) URL the API is reached at, such as "
                               "https://api.casting.in (the links the API hands out start with it).")
        if not timedelta(minutes=1) <= self.JWT_ACCESS_TOKEN_EXPIRES <= timedelta(minutes=15):
            raise RuntimeError("JWT_ACCESS_MINUTES must be between 1 and 15 (CONTRACT §2).")
        if self.MAX_CONTENT_LENGTH <= self.MEDIA_MAX_BYTES:
            raise RuntimeError("MAX_CONTENT_LENGTH must be above MEDIA_MAX_BYTES, or uploads of the allowed "
                               "size are cut off before they are read.")
        if self.VIDEO_PART_BYTES < 5 * 1024 * 1024 or self.VIDEO_MAX_BYTES > 10_000 * self.VIDEO_PART_BYTES:
            raise RuntimeError("VIDEO_PART_BYTES must be at least 5 MiB (S3's smallest part) and a video of "
                               "VIDEO_MAX_BYTES must fit in 10,000 parts (S3's most).")
        if self.MEDIA_WORKERS < 1:
            raise RuntimeError("MEDIA_WORKERS must be at least 1 (images are worked on by that many threads).")
        if self.MEDIA_URL_TTL < 60:
            raise RuntimeError("MEDIA_URL_TTL must be at least 60 seconds.")
        if self.REDIS_SSL_CERT_REQS not in REDIS_CERT_REQS:
            raise RuntimeError(f"REDIS_SSL_CERT_REQS must be one of {', '.join(REDIS_CERT_REQS)}.")
        if self.S3_BUCKET and importlib.util.find_spec("boto3") is None:
            raise RuntimeError("S3_BUCKET is set but boto3 is not installed: install the `s3` extra "
                               "(pip install -e '.[s3]'); requirements.txt includes it.")
        if not 1 <= self.EMBEDDING_DIM <= 2000:
            raise RuntimeError("EMBEDDING_DIM must be between 1 and 2000 (the most an HNSW index takes).")
        if not 1 <= self.HNSW_EF_SEARCH <= 1000:
            raise RuntimeError("HNSW_EF_SEARCH must be between 1 and 1000.")
        if self.VECTOR_EXACT_MAX < 0:
            raise RuntimeError("VECTOR_EXACT_MAX must be 0 (never rank exactly) or more.")
        if self.LOG_FORMAT not in ("json", "text"):
            raise RuntimeError("LOG_FORMAT must be `json` or `text`.")
        for name in ("RATELIMIT_DEFAULT", "RATELIMIT_SEARCH", "RATELIMIT_UPLOAD", "RATELIMIT_SIGN_IN"):
            if len(_rate_limits(getattr(self, name))) != 1:
                raise RuntimeError(f"{name} must be one limit such as `100/minute` or `20/10seconds`.")


def _rate_limits(text):
    from limits import parse_many

    try:
        return parse_many(text)
    except ValueError:
        return []


class DevelopmentConfig(Config):
    APP_ENV = "development"


class TestConfig(Config):
    APP_ENV = "test"
    TESTING = True

    def default_public_base_url(self):
        return "http://localhost"  # what the test client calls

    def __init__(self):
        super().__init__()
        for name in ("RATELIMIT_DEFAULT", "RATELIMIT_SEARCH", "RATELIMIT_UPLOAD", "RATELIMIT_SIGN_IN"):
            setattr(self, name, "100000/minute")  # tests that need a limit set their own
        for name in ("CHAT_SEND_LIMIT", "CHAT_TYPING_LIMIT", "CHAT_CONVERSATION_LIMIT", "CHAT_UNVERIFIED_START_LIMIT"):
            setattr(self, name, _str(name, "100000/minute"))
        self.ADMISSION_LIMIT = _int("ADMISSION_LIMIT", 0)  # parallel test requests are not a crowd to shed


class ProductionConfig(Config):
    """The default mode: refuses to start on anything a development setup may leave behind."""

    APP_ENV = "production"

    def default_public_base_url(self):
        return ""  # no guess: links made from a request's Host can be poisoned, so validate() asks for it

    def __init__(self):
        super().__init__()
        # No development defaults here: what is not set stays empty, and validate() names it.
        self.SECRET_KEY = _str("SECRET_KEY", "")
        self.JWT_SECRET_KEY = _str("JWT_SECRET_KEY", "")
        self.PII_KEYS = _list("PII_KEYS")
        self.PII_INDEX_KEY = _str("PII_INDEX_KEY", "")

    def validate(self):
        super().validate()
        problems = self.production_problems()
        if problems:
            raise RuntimeError(
                "production mode (APP_ENV is unset or `production`) refuses to start:\n  - "
                + "\n  - ".join(problems)
                + "\nSee the Deploy section of docs/configuration.md. On a laptop, set APP_ENV=development "
                  "(`make run` does).")

    def production_problems(self):
        """Every setting that is missing or unsafe, each naming what to set."""
        problems = [self._secret_problem(name) for name in ("SECRET_KEY", "JWT_SECRET_KEY", "PII_INDEX_KEY",
                                                            "METRICS_TOKEN")]
        if self.SECRET_KEY and self.SECRET_KEY == self.JWT_SECRET_KEY:
            problems.append("JWT_SECRET_KEY must differ from SECRET_KEY.")
        problems.append(self._pii_keys_problem())
        if not self.PUBLIC_BASE_URL:
            problems.append("PUBLIC_BASE_URL is not set: every link the API hands out is built from it (never "
                            "from a request's Host); set it to the API's address, such as https://api.casting.in.")
        for name, what in (("DATABASE_URL", "PostgreSQL"), ("REDIS_URL", "Redis")):
            if not getattr(self, name):
                problems.append(f"{name} is not set: set it to your {what} server's URL (production never "
                                f"starts the embedded development server).")
        for name, choices in PROVIDER_CHOICES.items():
            provider = getattr(self, name)
            if provider == "console":
                problems.append(f"{name} is `console` (the development provider, which keeps messages in "
                                f"clear in Redis): set {name} to {choices} and that provider's settings.")
            for setting in PROVIDER_SETTINGS.get(provider, ()):
                if not getattr(self, setting):
                    problems.append(f"{setting} is not set: {name}={provider} needs it.")
        return [problem for problem in problems if problem]

    def _secret_problem(self, name):
        value = getattr(self, name) or ""
        if not value:
            return f"{name} is not set: set it to a long random value (`openssl rand -hex 32`)."
        if value in (DEV_SECRET, DEV_JWT_SECRET, pii_key(DEV_SECRET, "pii-index")):
            return f"{name} is the repository's development default: set it to your own random value."
        if len(value) < MIN_SECRET_LENGTH:
            return (f"{name} is too short ({len(value)} characters): set it to at least {MIN_SECRET_LENGTH} "
                    f"random characters (`openssl rand -hex 32`).")
        return None

    def _pii_keys_problem(self):
        keys = self.PII_KEYS
        if not keys:
            return "PII_KEYS is not set: set it to a Fernet key (`APP_ENV=development flask keys generate`)."
        for number, key in enumerate(keys, 1):
            try:
                valid = len(base64.urlsafe_b64decode(key.encode())) == 32
            except (binascii.Error, ValueError):
                valid = False
            if not valid:
                return (f"PII_KEYS key {number} is not a Fernet key (32 url-safe base64 bytes): "
                        f"`APP_ENV=development flask keys generate` prints one.")
            if key == pii_key(DEV_SECRET, "pii"):
                return f"PII_KEYS key {number} is the development default: generate your own."
        return None


CONFIGS = {"development": DevelopmentConfig, "test": TestConfig, "production": ProductionConfig}


def load_config(name=None):
    """Build the config object for `name`, or for APP_ENV: production unless development is asked for."""
    load_dotenv(BASE_DIR / ".env")
    name = name or _str("APP_ENV", "production")
    if name not in CONFIGS:
        raise RuntimeError(f"APP_ENV={name!r} is not one of {', '.join(CONFIGS)}.")
    return CONFIGS[name]()
