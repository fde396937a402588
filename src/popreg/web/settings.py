"""Django settings for popreg.

Configuration comes from the environment (documented in docs/settings.md; a test checks
that every ``POPREG_*`` setting read here is documented there):

- ``DATABASE_URL``: database, e.g. ``postgres://user@127.0.0.1:5432/popreg``.  Default:
  SQLite at ``$POPREG_HOME/popreg.sqlite3``.
- ``POPREG_HOME``: directory for the SQLite file, uploads and exports (default ``./var``).
- ``POPREG_DEPLOYMENT``: ``development`` (default) or ``production``, the profile of the
  security settings below (docs/operations.md#deployment).
- ``POPREG_SECRET_KEY``: secret key (a fixed development key is used when unset; production
  refuses to start without one of its own).
- ``POPREG_BACKUP_KEY``: passphrase that encrypts backups (docs/operations.md).
- ``POPREG_DEBUG``: ``1`` turns on Django debug pages.
- ``POPREG_TIME_ZONE``: the county's time zone, for every date and time shown and printed
  (default ``Asia/Shanghai``).
- ``POPREG_ALLOWED_HOSTS``: comma-separated host names (default ``127.0.0.1,localhost``;
  production has no default).
- ``POPREG_SSL_REDIRECT``, ``POPREG_HSTS_*``, ``POPREG_SECURE_COOKIES``,
  ``POPREG_PROXY_SSL_HEADER``, ``POPREG_CSRF_TRUSTED_ORIGINS``: HTTPS (defaults follow the
  profile).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from popreg.spark import SparkConfig

BASE_DIR = Path(__file__).resolve().parent
POPREG_HOME = Path(os.environ.get("POPREG_HOME", "var")).resolve()

#: ``development`` (the default: ``make demo``, tests, plain HTTP on this machine) or
#: ``production`` (a server others reach: its own secret key and host names, HTTPS only).
POPREG_DEPLOYMENT = os.environ.get("POPREG_DEPLOYMENT", "development").strip().lower()
# ``demo`` is read as ``development`` (popreg.registry.login_security asks only "production?").
if POPREG_DEPLOYMENT not in ("development", "demo", "production"):
    raise ImproperlyConfigured(
        f"POPREG_DEPLOYMENT 只能是 development 或 production，而不是 {POPREG_DEPLOYMENT!r}。 / "
        f"POPREG_DEPLOYMENT must be development or production, not {POPREG_DEPLOYMENT!r}."
    )
PRODUCTION = POPREG_DEPLOYMENT == "production"


def _flag(name: str, default: bool) -> bool:
    """A yes/no setting: ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(
        f"{name} 应为 1 或 0，而不是 {raw!r}。 / {name} must be 1 or 0, not {raw!r}."
    )


#: Public (it is in the source): accepted in development only.
DEVELOPMENT_SECRET_KEY = "popreg-development-key-change-me-in-production"
SECRET_KEY = os.environ.get("POPREG_SECRET_KEY", "").strip() or DEVELOPMENT_SECRET_KEY
if PRODUCTION and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "生产部署（POPREG_DEPLOYMENT=production）需要自己的密钥：请把 POPREG_SECRET_KEY 设为一个"
        "至少 50 个字符的随机字符串（例如 python -c \"import secrets; print(secrets.token_urlsafe(64))\""
        " 的输出），不能使用公开的开发密钥。 / "
        "The production profile (POPREG_DEPLOYMENT=production) needs a secret key of its own: set "
        "POPREG_SECRET_KEY to a random string of at least 50 characters (for instance the output of "
        "python -c \"import secrets; print(secrets.token_urlsafe(64))\"); the public development key "
        "is refused."
    )
#: Passphrase that encrypts ``popreg backup`` files (unset: backups are not encrypted).
POPREG_BACKUP_KEY = os.environ.get("POPREG_BACKUP_KEY", "")
DEBUG = os.environ.get("POPREG_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get(
        "POPREG_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver"
    ).split(",")
    if h.strip()
]
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "生产部署需要 POPREG_ALLOWED_HOSTS：用逗号分隔的、用户访问本系统的主机名"
        "（例如 popreg.example.gov.cn）。 / "
        "The production profile needs POPREG_ALLOWED_HOSTS: the comma-separated host names users "
        "reach popreg by (for instance popreg.example.gov.cn)."
    )

# HTTPS (docs/operations.md#deployment).  Production defaults to all of it; behind a reverse
# proxy that terminates TLS, POPREG_PROXY_SSL_HEADER=1 makes Django trust its
# X-Forwarded-Proto header (only safe when the proxy sets or strips that header).
SECURE_SSL_REDIRECT = _flag("POPREG_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = int(os.environ.get("POPREG_HSTS_SECONDS", "31536000" if PRODUCTION else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("POPREG_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = _flag("POPREG_HSTS_PRELOAD", PRODUCTION)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _flag("POPREG_SECURE_COOKIES", PRODUCTION)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if _flag("POPREG_PROXY_SSL_HEADER", False) else None
)
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("POPREG_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content Security Policy (django-csp) in every profile: scripts and styles only from our
# own static files (no inline script or style, no event-handler or style attributes;
# tests/web/test_security_headers.py scans the templates).  The print templates (PDF through
# WeasyPrint) keep their <style>: they never reach a browser.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

INSTALLED_APPS = [
    # Before django.contrib.auth: its createsuperuser/changepassword replace Django's (audited).
    "popreg.authcli",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    # The API docs then use the vendored Swagger UI instead of a CDN.
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "popreg.web",
    "popreg.registry",
    "popreg.linkage",
    "popreg.campaigns",
    "popreg.stats",
    "popreg.synth",
    "popreg.migrants",
    "popreg.exchange",
    "popreg.benefits",
    "popreg.planning",
    "popreg.sources",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files are answered here, before sessions and users (docs/operations.md).
    "popreg.web.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Chinese unless the user picks English (the browser's Accept-Language is not followed).
    "popreg.web.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Idle sessions end; county administrators and auditors verify a second factor in
    # production (popreg.registry.login_security).
    "popreg.registry.login_security.IdleSessionMiddleware",
    "popreg.registry.login_security.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out login into the lockout page (HTTP 429).
    "axes.middleware.AxesMiddleware",
    "csp.middleware.CSPMiddleware",
    # Cache-Control: no-store on every page and download (they carry personal data).
    "popreg.web.middleware.NoStoreMiddleware",
]

ROOT_URLCONF = "popreg.web.urls"

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

WSGI_APPLICATION = "popreg.web.wsgi.application"

_default_db = f"sqlite:///{POPREG_HOME / 'popreg.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_db))}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web app read while a long import writes; a generous timeout rides out
    # the writer lock instead of failing a clerk's form.  Transactions start as BEGIN
    # IMMEDIATE: a deferred one that reads first and then writes cannot upgrade its read lock
    # while another writer holds the database, and SQLite fails it at once ("database is
    # locked") instead of waiting out the timeout.  Taking the write lock up front makes
    # writers queue behind each other (docs/decisions/0003-integrity.md).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": int(os.environ.get("POPREG_SQLITE_TIMEOUT", "30")),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

#: ID numbers one user below county level may check against the registry per hour in bulk
#: (the import's check; popreg.registry.id_checks); 0 = no limit.
POPREG_ID_CHECKS_PER_HOUR = int(os.environ.get("POPREG_ID_CHECKS_PER_HOUR", "2000"))

#: What one import file may hold (popreg.registry._import_format.ImportLimits, docs/import.md).
POPREG_IMPORT_MAX_ROWS = int(os.environ.get("POPREG_IMPORT_MAX_ROWS", "200000"))
POPREG_IMPORT_MAX_CELL_CHARS = int(os.environ.get("POPREG_IMPORT_MAX_CELL_CHARS", "1000"))
POPREG_IMPORT_MAX_COLUMNS = int(os.environ.get("POPREG_IMPORT_MAX_COLUMNS", "100"))
POPREG_IMPORT_MAX_UNPACKED_MB = int(os.environ.get("POPREG_IMPORT_MAX_UNPACKED_MB", "300"))

#: Retention (``popreg prune``, docs/cli.md): statistics snapshots kept, and days that
#: uploads and job result files under POPREG_HOME are kept.
POPREG_KEEP_SNAPSHOTS = int(os.environ.get("POPREG_KEEP_SNAPSHOTS", "12"))
POPREG_KEEP_UPLOAD_DAYS = int(os.environ.get("POPREG_KEEP_UPLOAD_DAYS", "30"))

# Long work runs as jobs (popreg.registry.jobs) on django-tasks.  The database backend keeps
# the queue in the registry database; ``popreg worker`` runs it (docs/jobs.md).
# ``POPREG_TASKS_BACKEND=immediate`` runs each job inside the call that starts it.
TASKS = {
    "default": {
        "BACKEND": {
            "database": "django_tasks_db.DatabaseBackend",
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
        }[os.environ.get("POPREG_TASKS_BACKEND", "database")],
    }
}
#: Extra modules that register job kinds (imported when the registry app is ready).
POPREG_JOB_MODULES = [
    m.strip() for m in os.environ.get("POPREG_JOB_MODULES", "").split(",") if m.strip()
]

# Exchange between deployments (popreg.exchange, docs/exchange.md): the directory of this
# deployment's Ed25519 private key (outside the database; readable by the service only),
# and the delivery retries (exponential back-off from BACKOFF_S up to BACKOFF_MAX_S).
POPREG_EXCHANGE_KEY_DIR = Path(
    os.environ.get("POPREG_EXCHANGE_KEY_DIR", "") or POPREG_HOME / "exchange-keys"
).resolve()
POPREG_EXCHANGE_MAX_ATTEMPTS = int(os.environ.get("POPREG_EXCHANGE_MAX_ATTEMPTS", "30"))
POPREG_EXCHANGE_BACKOFF_S = float(os.environ.get("POPREG_EXCHANGE_BACKOFF_S", "10"))
POPREG_EXCHANGE_BACKOFF_MAX_S = float(os.environ.get("POPREG_EXCHANGE_BACKOFF_MAX_S", "3600"))
POPREG_EXCHANGE_HTTP_TIMEOUT_S = float(os.environ.get("POPREG_EXCHANGE_HTTP_TIMEOUT_S", "10"))

# Migrants (popreg.migrants): days a landlord or employer has to report a new tenant or
# worker; later, an unreported one becomes the campaign anomaly unreported_migrant.
POPREG_MIGRANT_REPORT_DAYS = int(os.environ.get("POPREG_MIGRANT_REPORT_DAYS", "3"))

# Outside sources (popreg.sources, docs/sources.md): a link of an arriving hospital birth,
# death notice or marriage registration whose model probability reaches this is accepted
# without review; the others wait in the review queue.
POPREG_SOURCES_AUTO_ACCEPT = float(os.environ.get("POPREG_SOURCES_AUTO_ACCEPT", "0.99"))

# Login and sessions (docs/security.md).  Passwords: at least 12 characters, not a common
# password (Django's list) and not one on the local list shipped with popreg (the county's
# names, common pinyin passwords); hashed with Argon2.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "popreg.registry.login_security.LocalPasswordListValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",  # reads hashes made before Argon2
]
# The lockout backend comes first: it refuses a locked-out user or address before the
# password is checked (django-axes).  Web form and API token failures count alike.
AUTHENTICATION_BACKENDS = [
    "popreg.registry.login_security.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
#: Failed logins after which a user name, and separately a client address, is locked out.
AXES_FAILURE_LIMIT = int(os.environ.get("POPREG_LOGIN_FAILURE_LIMIT", "10"))
#: Minutes a lockout lasts (then the right password works again).
POPREG_LOGIN_COOLOFF_MINUTES = int(os.environ.get("POPREG_LOGIN_COOLOFF_MINUTES", "15"))
AXES_COOLOFF_TIME = timedelta(minutes=POPREG_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
#: Reverse proxies in front of popreg that append to X-Forwarded-For (0: the client is the
#: peer address REMOTE_ADDR; 1: one proxy, e.g. nginx, the client is the last address it added).
POPREG_TRUSTED_PROXY_COUNT = int(os.environ.get("POPREG_TRUSTED_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "popreg.registry.login_security.client_ip"
#: Minutes without a request after which a session ends (the user logs in again).
POPREG_SESSION_IDLE_MINUTES = int(os.environ.get("POPREG_SESSION_IDLE_MINUTES", "30"))
SESSION_COOKIE_AGE = POPREG_SESSION_IDLE_MINUTES * 60
# A request pushes the idle deadline forward (at most once a minute: IdleSessionMiddleware).
# The production profile (POPREG_DEPLOYMENT above) requires a second factor (TOTP) of county
# administrators and auditors (popreg.registry.login_security.SecondFactorMiddleware).
#: Days an API token lives unless its owner picks fewer.
POPREG_API_TOKEN_MAX_DAYS = int(os.environ.get("POPREG_API_TOKEN_MAX_DAYS", "90"))
# households and certificates (registry): the letterhead of printed certificates.
POPREG_OFFICE_NAME = os.environ.get("POPREG_OFFICE_NAME", "").strip()
OTP_TOTP_ISSUER = "popreg"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One time zone, the county's, for every date and time shown and printed (pages, PDFs,
# workbooks, messages: popreg.registry.localtime); the database keeps UTC.
TIME_ZONE = os.environ.get("POPREG_TIME_ZONE", "").strip() or "Asia/Shanghai"
import zoneinfo  # noqa: E402  (beside the one setting that needs it)

try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (ValueError, zoneinfo.ZoneInfoNotFoundError):
    raise ImproperlyConfigured(
        f"POPREG_TIME_ZONE={TIME_ZONE!r} 不是时区名称，请写成 IANA 名称，例如 Asia/Shanghai、"
        f"Asia/Urumqi。 / POPREG_TIME_ZONE={TIME_ZONE!r} is not a time zone: give an IANA name "
        "such as Asia/Shanghai or Asia/Urumqi."
    ) from None
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# popreg.web is an app: its static/ folder is found by the app finder (listing it in
# STATICFILES_DIRS too made collectstatic find every file twice).
STATIC_ROOT = POPREG_HOME / "static"
# WhiteNoise serves the static files in every profile.  Production serves what
# ``popreg collectstatic`` wrote to STATIC_ROOT, compressed and with hashed names (cached
# for a year); development and the tests read the source folders directly, no collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "popreg.web.storage.StaticStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG and not PRODUCTION

# Spark, for ``--engine spark`` (linkage and indicators): where it runs and with how much.
# popreg.spark reads the same variables (it imports no Django); reading them here too makes
# a bad value stop the server and every command at start-up, not halfway through a job.
POPREG_SPARK = SparkConfig.from_environ({
    name: os.environ.get(name, "")
    for name in ("POPREG_SPARK_MASTER", "POPREG_SPARK_DRIVER_MEMORY",
                 "POPREG_SPARK_EXECUTOR_MEMORY", "POPREG_SPARK_SHUFFLE_PARTITIONS",
                 "POPREG_SPARK_CHECKPOINT_DIR")
})

MEDIA_ROOT = POPREG_HOME / "media"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
