"""Settings: typed values from the environment; defaults serve local use."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from zalo_admin.lib.env import database_from_url, envbool, envint, envlist, envstr, envurl

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = envbool("DEBUG", False)
SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (production mode)")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105

# Fernet key(s) for credentials at rest; the first encrypts, all decrypt (rotation).
FIELD_ENCRYPTION_KEYS = envlist("FIELD_ENCRYPTION_KEY", [])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off (production mode)")
    FIELD_ENCRYPTION_KEYS = ["bG9jYWwtZGV2LW9ubHkta2V5LW5ldmVyLWluLXByb2Q="]

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "zalo_admin.apps.ZaloAdminSiteConfig",  # django.contrib.admin with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_rq",
    "zalo_admin",
    "oas",
    "providers",
    "sandbox",
    "audiences",
    "campaigns",
    "quotas",
    "compliance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "zalo_admin.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "zalo_admin.urls"
WSGI_APPLICATION = "zalo_admin.wsgi.application"

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
                "zalo_admin.roles.navigation",
            ],
        },
    },
]

DATABASE_URL = envstr("DATABASE_URL")
if not DATABASE_URL:  # the embedded database of `make run`, in a folder a fresh clone lacks
    VAR_DIR.mkdir(exist_ok=True)
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'zalo_admin.sqlite3'}"
DATABASES = {"default": database_from_url(DATABASE_URL)}
# Parallel test runs on one machine each need their own throwaway database.
DATABASES["default"]["TEST"] = {"NAME": envstr("TEST_DATABASE_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL", "redis://127.0.0.1:6379/0")
# When Redis is unreachable `make run` sets this, and jobs run in-process instead of on RQ workers.
JOBS_IN_PROCESS = envbool("JOBS_IN_PROCESS", False)
RQ_QUEUES = {
    "high": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 1800},
}
RQ_SHOW_ADMIN_LINK = False

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Vietnamese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["zalo_admin.formats"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "zalo_admin.staticfiles.PlotlyFinder",
]
# Production serves hashed, compressed files collected by `collectstatic`; development and tests
# serve straight from the finders.
STATIC_MANIFEST = envbool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = DEBUG

# Provider endpoints: the local sandbox by default, the real services in production.
SANDBOX_PORT = envint("SANDBOX_PORT", 8600, minimum=1)
ZALO_API_BASE = envurl("ZALO_API_BASE", f"http://127.0.0.1:{SANDBOX_PORT}/zalo")
ZALO_OAUTH_BASE = envurl("ZALO_OAUTH_BASE", f"http://127.0.0.1:{SANDBOX_PORT}/oauth")
# The UID channel lives on another Zalo host (https://openapi.zalo.me); empty: the same host as
# the ZNS API in use (the sandbox serves both).
ZALO_OA_API_BASE = envurl("ZALO_OA_API_BASE", "") if envstr("ZALO_OA_API_BASE") else ""
ZALO_TOKEN_REFRESH_MARGIN_SECONDS = envint("ZALO_TOKEN_REFRESH_MARGIN_SECONDS", 5 * 3600, minimum=60)
# Sources disagree on the first term of Zalo's webhook MAC: the app id (default) or the OA id.
ZALO_WEBHOOK_SIGNATURE_FIRST_TERM = envstr("ZALO_WEBHOOK_SIGNATURE_FIRST_TERM", "app_id")
if ZALO_WEBHOOK_SIGNATURE_FIRST_TERM not in {"app_id", "oa_id"}:
    raise ImproperlyConfigured("ZALO_WEBHOOK_SIGNATURE_FIRST_TERM must be app_id or oa_id")
PROVIDER_CONNECT_TIMEOUT = envint("PROVIDER_CONNECT_TIMEOUT_MS", 3050, minimum=100) / 1000
PROVIDER_READ_TIMEOUT = envint("PROVIDER_READ_TIMEOUT_MS", 15000, minimum=100) / 1000
PROVIDER_RETRY = {"attempts": envint("PROVIDER_RETRY_ATTEMPTS", 4, minimum=1)}
# Our public https base URL: Infobip sends then carry our delivery-report URL (else set at Infobip).
PROVIDERS_PUBLIC_BASE_URL = envstr("PROVIDERS_PUBLIC_BASE_URL")
# Zalo signs webhooks with the body's timestamp and retries for up to 1 h: older events are stale.
WEBHOOK_MAX_AGE_SECONDS = envint("WEBHOOK_MAX_AGE_SECONDS", 7200, minimum=60)
INFOBIP_BASE_URL = envurl("INFOBIP_BASE_URL", f"http://127.0.0.1:{SANDBOX_PORT}/infobip")

# Security: secure defaults, HTTPS-only settings on in production mode.
SECURE_HTTPS = envbool("SECURE_HTTPS", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_SSL_REDIRECT = SECURE_HTTPS and envbool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if SECURE_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HTTPS
SECURE_HSTS_PRELOAD = SECURE_HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_PROXY", False) else None
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
