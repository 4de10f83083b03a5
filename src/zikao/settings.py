"""Settings for zikao.

Every setting comes from the environment with a default that makes the embedded demo
(SQLite, local-memory cache, Celery eager) work with no configuration. README.md lists them.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("ZIKAO_VAR_DIR", PROJECT_DIR / "var"))

DEBUG = env_bool("DEBUG", True)
# The demo key is only ever accepted with DEBUG on; production must set SECRET_KEY.
_DEMO_SECRET_KEY = "zikao-embedded-demo-only-not-secret"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", _DEMO_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "captcha",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "ninja",  # serves /api/docs from its own static files (no CDN, CSP-compatible)
    "zikao.core",
    "zikao.accounts",
    "zikao.catalog",
    "zikao.candidates",
    "zikao.entries",
    "zikao.scores",
    "zikao.conduct",
    "zikao.credits",
    "zikao.graduation",
    "zikao.portal",
    "zikao.office",
]

MIDDLEWARE = [
    "zikao.core.middleware.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "zikao.urls"
WSGI_APPLICATION = "zikao.wsgi.application"
ASGI_APPLICATION = "zikao.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'zikao.sqlite3'}")
if DATABASE_URL.startswith("sqlite:///") and not DATABASE_URL.startswith("sqlite:///:memory:"):
    Path(DATABASE_URL.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the demo server and a management command share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache and sessions ---------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "zikao",
        }
    }
    # Django's cache store plus a session → candidate pointer: one Redis round trip per page
    # (accounts.session_cache, docs/decisions/0005).
    SESSION_ENGINE = "zikao.accounts.session_cache"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "zikao"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- background work ------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "Asia/Shanghai"

# --- auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "office:login"  # staff only: candidates sign in through the portal
PASSWORD_HASHERS = [
    "zikao.accounts.hashers.OwaspArgon2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "private"  # never served directly: photos and uploads are personal data

# --- security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(30 * 60)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # no script reads the token: forms carry it in a hidden field
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Load balancers whose X-Forwarded-For is believed (IPs or networks, comma-separated); empty:
# REMOTE_ADDR is the client (rate limits and the audit trail key on it). See core.middleware.
ZIKAO_TRUSTED_PROXIES = env_list("ZIKAO_TRUSTED_PROXIES", "")
# Content-Security-Policy (django-csp 4): only our own scripts and styles, no inline code, no
# CDN; data: images for the captcha. Templates must not use inline <script> or style=.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- zikao ----------------------------------------------------------------------------------
# Province this deployment serves: GB/T 2260 code (32 = Jiangsu) and its name.
ZIKAO_PROVINCE_CODE = os.environ.get("ZIKAO_PROVINCE_CODE", "32")
ZIKAO_PROVINCE_NAME = os.environ.get("ZIKAO_PROVINCE_NAME", "江苏省")
# Candidate sign-in (accounts): failures before a lock, lock length, API token lifetime.
ZIKAO_LOGIN_MAX_FAILURES = int(os.environ.get("ZIKAO_LOGIN_MAX_FAILURES", "5"))
ZIKAO_LOGIN_LOCK_MINUTES = int(os.environ.get("ZIKAO_LOGIN_LOCK_MINUTES", "15"))
ZIKAO_API_TOKEN_HOURS = int(os.environ.get("ZIKAO_API_TOKEN_HOURS", "12"))
# SMS gateway for verification codes: dotted path of a class with send(phone, text). The default
# writes the message to the log (phone masked); a province plugs in its gateway here.
ZIKAO_SMS_BACKEND = os.environ.get("ZIKAO_SMS_BACKEND", "zikao.accounts.sms.LogSmsBackend")
ZIKAO_SMS_CODE_MINUTES = int(os.environ.get("ZIKAO_SMS_CODE_MINUTES", "10"))
ZIKAO_SMS_CODE_MAX_ATTEMPTS = int(os.environ.get("ZIKAO_SMS_CODE_MAX_ATTEMPTS", "5"))
# Captcha (django-simple-captcha): 4 characters, 5 minutes. CAPTCHA_TEST_MODE is set only by tests.
CAPTCHA_LENGTH = 4
CAPTCHA_TIMEOUT = 5
# Minutes after `manage.py demo` finishes at which the latest sitting's scores are released.
ZIKAO_DEMO_RELEASE_DELAY_MINUTES = int(os.environ.get("ZIKAO_DEMO_RELEASE_DELAY_MINUTES", "10"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_personal_data": {"()": "zikao.core.masking.PersonalDataLogFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["mask_personal_data"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- scores publication ---------------------------------------------------------------------
# Celery beat (when a broker is configured): record due releases every minute. Bookkeeping
# only: candidates see scores at the release instant whether or not this ever runs.
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "scores-release-due-sittings": {"task": "zikao.scores.tasks.release_due_sittings", "schedule": 60.0},
}

# --- staff auth (office sign-in, second factor, Django admin) ---
# Staff sign-in: failures (wrong password or TOTP code) before a lock, and the lock's length.
ZIKAO_STAFF_LOGIN_MAX_FAILURES = int(os.environ.get("ZIKAO_STAFF_LOGIN_MAX_FAILURES", "5"))
ZIKAO_STAFF_LOCK_MINUTES = int(os.environ.get("ZIKAO_STAFF_LOCK_MINUTES", "30"))
# Name shown in authenticator apps next to the username; the TOTP key is never shown in the admin.
OTP_TOTP_ISSUER = os.environ.get("ZIKAO_TOTP_ISSUER", f"{ZIKAO_PROVINCE_NAME}自考后台")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- score import ---------------------------------------------------------------------------
# How an import run started from the office pages is executed: "celery" (a worker; the default
# when CELERY_BROKER_URL is set), "thread" (in the web process, the default without a broker)
# or "inline" (inside the request: tests only). Largest file accepted, in bytes.
ZIKAO_SCORE_IMPORT_RUNNER = os.environ.get("ZIKAO_SCORE_IMPORT_RUNNER", "")
ZIKAO_SCORE_IMPORT_MAX_BYTES = int(os.environ.get("ZIKAO_SCORE_IMPORT_MAX_BYTES", str(1 << 30)))
# PostgreSQL memory for the import's joins and sorts (SET LOCAL inside the import only).
ZIKAO_SCORE_IMPORT_WORK_MEM = os.environ.get("ZIKAO_SCORE_IMPORT_WORK_MEM", "256MB")
# PostgreSQL: the commit loads the valid rows with COPY in batches of this many rows; pending
# foreign-key checks run after each batch.
ZIKAO_SCORE_IMPORT_BATCH_ROWS = int(os.environ.get("ZIKAO_SCORE_IMPORT_BATCH_ROWS", "500000"))

# --- payments ---
# The payment provider (dotted path to a zikao.entries.providers.PaymentProvider). The default
# is the simulated provider (模拟支付), which only works with ZIKAO_PAYMENT_SIM_ENABLED (default:
# DEBUG), so a production site without a real provider cannot be "paid" for free.
ZIKAO_PAYMENT_PROVIDER = os.environ.get(
    "ZIKAO_PAYMENT_PROVIDER", "zikao.entries.providers.simulated.SimulatedProvider"
)
ZIKAO_PAYMENT_SIM_ENABLED = env_bool("ZIKAO_PAYMENT_SIM_ENABLED", DEBUG)
# HMAC-SHA256 key of the simulated provider's callbacks and cashier links (derived from
# SECRET_KEY unless set).
ZIKAO_PAYMENT_SIM_SECRET = (
    os.environ.get("ZIKAO_PAYMENT_SIM_SECRET", "")
    or __import__("hmac").new(SECRET_KEY.encode(), b"zikao.payments.simulated", "sha256").hexdigest()
)
# How its callbacks travel: "celery" (default with a broker), "thread" (default without one),
# "inline", or "manual" (tests). Seconds before a callback is sent (the "asynchronous" part),
# and how old a signed callback may be before it is refused as a replay.
ZIKAO_PAYMENT_SIM_DELIVERY = os.environ.get("ZIKAO_PAYMENT_SIM_DELIVERY", "")
ZIKAO_PAYMENT_SIM_DELAY_SECONDS = float(os.environ.get("ZIKAO_PAYMENT_SIM_DELAY_SECONDS", "1.5"))
ZIKAO_PAYMENT_SIM_TOLERANCE_SECONDS = int(os.environ.get("ZIKAO_PAYMENT_SIM_TOLERANCE_SECONDS", "300"))
# POST callbacks to this URL (e.g. http://127.0.0.1:8000/pay/notify/sim/) instead of in-process.
ZIKAO_PAYMENT_SIM_NOTIFY_URL = os.environ.get("ZIKAO_PAYMENT_SIM_NOTIFY_URL", "")
# Celery beat: release lapsed payment holds (and expire orders) every minute.
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "entries-expire-holds": {"task": "zikao.entries.tasks.expire_entry_holds", "schedule": 60.0},
}
# --- admission tickets and exam PDFs ---
# A TrueType font to embed in PDFs (else the built-in STSong-Light CID font, shown by every viewer).
ZIKAO_PDF_FONT_PATH = os.environ.get("ZIKAO_PDF_FONT_PATH", "")
# Base URL of the office site printed in ticket QR codes (e.g. https://office.example.cn); empty:
# the address the ticket was downloaded from.
ZIKAO_TICKET_CHECK_BASE_URL = os.environ.get("ZIKAO_TICKET_CHECK_BASE_URL", "")
