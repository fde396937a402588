"""Django settings for popreg.

Configuration comes from the environment (documented in docs/settings.md; a test checks
that every ``POPREG_*`` setting read here is documented there):

- ``DATABASE_URL``: database, e.g. ``postgres://user@127.0.0.1:5432/popreg``.  Default:
  SQLite at ``$POPREG_HOME/popreg.sqlite3``.
- ``POPREG_HOME``: directory for the SQLite file, uploads and exports (default ``./var``).
- ``POPREG_SECRET_KEY``: secret key (a fixed development key is used when unset).
- ``POPREG_BACKUP_KEY``: passphrase that encrypts backups (docs/operations.md).
- ``POPREG_DEBUG``: ``1`` turns on Django debug pages.
- ``POPREG_ALLOWED_HOSTS``: comma-separated host names (default ``127.0.0.1,localhost``).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
POPREG_HOME = Path(os.environ.get("POPREG_HOME", "var")).resolve()

SECRET_KEY = os.environ.get("POPREG_SECRET_KEY", "popreg-development-key-change-me-in-production")
#: Passphrase that encrypts ``popreg backup`` files (unset: backups are not encrypted).
POPREG_BACKUP_KEY = os.environ.get("POPREG_BACKUP_KEY", "")
DEBUG = os.environ.get("POPREG_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("POPREG_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "popreg.web",
    "popreg.registry",
    "popreg.linkage",
    "popreg.campaigns",
    "popreg.stats",
    "popreg.synth",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Chinese unless the user picks English (the browser's Accept-Language is not followed).
    "popreg.web.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = POPREG_HOME / "static"

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
