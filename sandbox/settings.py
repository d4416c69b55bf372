"""Settings of the sandbox process: only the sandbox app, its own database, only sandbox URLs.

SANDBOX_DATABASE_URL selects the database (default: SQLite under var/sandbox.sqlite3).
"""

from pathlib import Path

from zalo_admin.lib.env import database_from_url, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
DEBUG = False
SECRET_KEY = envstr("SANDBOX_SECRET_KEY", "sandbox-only-key-it-guards-nothing")  # noqa: S105
ALLOWED_HOSTS = ["*"]  # a local stand-in for public APIs, reached by whatever host name the tests use
INSTALLED_APPS = ["sandbox"]
MIDDLEWARE = [
    "zalo_admin.middleware.ContentSecurityPolicyMiddleware",
    "sandbox.middleware.FaultInjectionMiddleware",
]
ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = "sandbox.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]
SANDBOX_DATABASE_URL = envstr("SANDBOX_DATABASE_URL") or f"sqlite:///{BASE_DIR / 'var' / 'sandbox.sqlite3'}"
DATABASES = {"default": database_from_url(SANDBOX_DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = None  # one connection per gunicorn thread, kept open
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # One writer at a time: take the write lock at BEGIN, never upgrade a read lock (no deadlock errors).
    DATABASES["default"]["OPTIONS"].update(
        {
            "transaction_mode": "IMMEDIATE",
            # Several processes read the same file: map it (the OS page cache is shared) rather than
            # copy pages into each connection's cache. Writers queue on runtime.WRITE_LOCK first.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA mmap_size=2147483648;"
                " PRAGMA cache_size=-16000; PRAGMA temp_store=MEMORY;"
            ),
            "timeout": 30,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
APPEND_SLASH = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("SANDBOX_LOG_LEVEL", "WARNING")},
}
