"""Settings: typed values from the environment; defaults serve local use."""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv

from zalo_admin.lib.env import database_from_url, envbool, envint, envlist, envstr, envurl

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
# `make run` writes .env (DEBUG=1) so that `python manage.py …` in a fresh shell runs in the same
# local mode; variables already in the environment win.
load_dotenv(BASE_DIR / ".env", override=False)

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

# HMAC key of the audit log's chain and checkpoints: whoever holds the database but not this key
# cannot rewrite the log undetected. Checkpoint files go where the database role cannot write.
AUDIT_SIGNING_KEY = envstr("AUDIT_SIGNING_KEY")
if not AUDIT_SIGNING_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY must be set when DEBUG is off (production mode)")
    AUDIT_SIGNING_KEY = "local-development-audit-key-never-in-production"  # noqa: S105
AUDIT_CHECKPOINT_DIR = Path(envstr("AUDIT_CHECKPOINT_DIR") or VAR_DIR / "audit-checkpoints")
# Uploaded contact files (kept: they are the consent evidence of their import).
CONTACT_IMPORT_DIR = Path(envstr("CONTACT_IMPORT_DIR") or VAR_DIR / "imports")
# The largest contact file accepted (a million rows of phone, name and two attributes is ~50 MB).
# Uploads above FILE_UPLOAD_MAX_MEMORY_SIZE (Django's 2.5 MB default) stream to a temporary file.
CONTACT_IMPORT_MAX_BYTES = envint("CONTACT_IMPORT_MAX_MB", 200, minimum=1) * 1024 * 1024
# Hours to answer a data-subject request, per kind (Decree 13/2023: 72 h).
DATA_REQUEST_DEADLINE_HOURS = {
    "export": envint("DATA_REQUEST_EXPORT_HOURS", 72, minimum=1),
    "erasure": envint("DATA_REQUEST_ERASURE_HOURS", 72, minimum=1),
}
# Message-log CSV exports prepared by a job (campaigns.exports), deleted after this many hours.
LOG_EXPORT_DIR = Path(envstr("LOG_EXPORT_DIR") or VAR_DIR / "exports")
LOG_EXPORT_KEEP_HOURS = envint("LOG_EXPORT_KEEP_HOURS", 24, minimum=1)
# Evidence packs (compliance.evidence): ZIP files prepared by a job, downloaded by auditors.
EVIDENCE_PACK_DIR = Path(envstr("EVIDENCE_PACK_DIR") or VAR_DIR / "evidence-packs")
# Retention (compliance.retention, daily job and `manage.py run_retention`); 0 keeps forever.
# Template values of sent messages are cleared after this many days (their SHA-256 stays).
RETENTION_MESSAGE_CONTENT_DAYS = envint("RETENTION_MESSAGE_CONTENT_DAYS", 90, minimum=0)
# Message phones are replaced by a pseudonym after this many months (their keyed digest stays).
RETENTION_MESSAGE_PHONE_MONTHS = envint("RETENTION_MESSAGE_PHONE_MONTHS", 12, minimum=0)
# Processed provider webhook bodies (delivery reports, feedback) shrink to their SHA-256 after N days.
RETENTION_REPORT_PAYLOAD_DAYS = envint("RETENTION_REPORT_PAYLOAD_DAYS", 30, minimum=0)
# Evidence pack files are deleted after N days (the pack's row, hashes and signature stay).
RETENTION_EVIDENCE_PACK_DAYS = envint("RETENTION_EVIDENCE_PACK_DAYS", 30, minimum=0)

# The workspace's Vietnamese marketing rules (Decree 91/2020/ND-CP), applied by the campaign
# pre-flight to marketing (tag 3): each preset is on by default and can be turned off (=0).
MARKETING_RULES = {
    "delivery_hours": envbool("MARKETING_RULE_DELIVERY_HOURS", True),  # 07:00-22:00 Vietnam time
    "from_hour": envint("MARKETING_DELIVERY_FROM_HOUR", 7, minimum=0),
    "to_hour": envint("MARKETING_DELIVERY_TO_HOUR", 22, minimum=1),
    "daily_cap": envbool("MARKETING_RULE_DAILY_CAP", True),  # per phone in 24 hours, all OAs
    "max_per_24h": envint("MARKETING_MAX_PER_24H", 3, minimum=1),
    "ad_label": envbool("MARKETING_RULE_AD_LABEL", True),  # [QC] in the template text
    "opt_out": envbool("MARKETING_RULE_OPT_OUT", True),  # how to refuse, in the template text
}
# Pre-flight estimates: the price of a template message when the template has none (VND), of one
# failover SMS (VND), and the dispatch rate assumed when a campaign sets no speed limit.
CAMPAIGN_TEMPLATE_PRICE_VND = envint("CAMPAIGN_TEMPLATE_PRICE_VND", 300, minimum=0)
SMS_FAILOVER_PRICE_VND = envint("SMS_FAILOVER_PRICE_VND", 800, minimum=0)
CAMPAIGN_DISPATCH_RATE_PER_MINUTE = envint("CAMPAIGN_DISPATCH_RATE_PER_MINUTE", 1000, minimum=1)

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
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "zalo_admin",
    "oas",
    "providers",
    "sandbox",
    "audiences",
    "campaigns",
    "quotas",
    "compliance",
    "alerts",
    "twofactor",
    "teams",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "zalo_admin.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "zalo_admin.request_guard.RejectNulCharactersMiddleware",  # %00 in a parameter: 400, not a 500
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): signed in with a second factor
    "django.contrib.messages.middleware.MessageMiddleware",
    "zalo_admin.middleware.SessionIdleTimeoutMiddleware",
    "twofactor.middleware.TwoFactorGateMiddleware",  # unverified sessions reach only the second step
    "zalo_admin.middleware.NoStoreForAuthenticatedMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into our lockout page
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
# In that mode, with Redis unreachable, the dispatcher's rate limits live in this file (campaigns.ratelimit).
LOCAL_RATELIMIT_FILE = Path(envstr("LOCAL_RATELIMIT_FILE") or VAR_DIR / "ratelimit-local.json")
RQ_QUEUES = {
    "high": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 1800},
}
RQ_SHOW_ADMIN_LINK = False
# Dispatcher (campaigns.dispatch): rows claimed per batch, Infobip messages per request, Zalo
# requests in flight per worker, the lease after which a claimed row returns to the queue (a sending
# one becomes unconfirmed), attempts of a transient failure, the consecutive provider errors that
# pause a campaign, and the provider's own request rate (sends/s) per Zalo app and Infobip account
# (overrides per app id / API key hash: DISPATCH_PROVIDER_RATES="zalo:APP=50,infobip:HASH=500").
DISPATCH_BATCH_SIZE = envint("DISPATCH_BATCH_SIZE", 200, minimum=1)
DISPATCH_INFOBIP_BATCH_SIZE = envint("DISPATCH_INFOBIP_BATCH_SIZE", 100, minimum=1)
DISPATCH_ZALO_CONCURRENCY = envint("DISPATCH_ZALO_CONCURRENCY", 8, minimum=1)
DISPATCH_LEASE_SECONDS = envint("DISPATCH_LEASE_SECONDS", 300, minimum=1)
DISPATCH_MAX_ATTEMPTS = envint("DISPATCH_MAX_ATTEMPTS", 5, minimum=1)
DISPATCH_PAUSE_AFTER_ERRORS = envint("DISPATCH_PAUSE_AFTER_ERRORS", 50, minimum=1)
DISPATCH_JOB_SECONDS = envint("DISPATCH_JOB_SECONDS", 30, minimum=1)
DISPATCH_PARALLEL_JOBS = envint("DISPATCH_PARALLEL_JOBS", 2, minimum=1)
# Batches each dispatch job works on at once (threads): while one batch's requests are in flight
# the next is claimed and the last recorded; a job never has more than one batch in flight.
DISPATCH_JOB_LANES = envint("DISPATCH_JOB_LANES", 2, minimum=1)
DISPATCH_ZALO_APP_RATE = envint("DISPATCH_ZALO_APP_RATE", 500, minimum=1)
DISPATCH_INFOBIP_ACCOUNT_RATE = envint("DISPATCH_INFOBIP_ACCOUNT_RATE", 5000, minimum=1)
DISPATCH_PROVIDER_RATES = {
    key.strip(): int(value)
    for key, _sep, value in (item.partition("=") for item in envlist("DISPATCH_PROVIDER_RATES", []))
    if key.strip() and value.strip().isdigit()
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username + address
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes, site and admin login alike): after LOGIN_FAILURE_LIMIT failed
# logins of one username from one address, that pair is locked for LOGIN_LOCKOUT_MINUTES after
# its latest failure (an attempt while locked, even with the right password, restarts the clock).
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "zalo_admin.login_security.lockout_response"
AXES_VERBOSE = False  # no start-up banner on every manage.py command
# A signed-in session idle for longer than this is logged out.
SESSION_IDLE_TIMEOUT_SECONDS = envint("SESSION_IDLE_TIMEOUT_SECONDS", 1800, minimum=60)
# Two-factor sign-in (twofactor/, django-otp): optional for everyone; with TWO_FACTOR_REQUIRED on,
# quality admins, compliance auditors and superusers must enrol an authenticator app (TOTP) before
# they reach anything else. Wrong codes count as failed logins for the throttle above.
TWO_FACTOR_REQUIRED = envbool("TWO_FACTOR_REQUIRED", False)
TWO_FACTOR_RECOVERY_CODES = envint("TWO_FACTOR_RECOVERY_CODES", 10, minimum=1)
# How long a correct password waits for its second factor before the login starts over.
TWO_FACTOR_PENDING_SECONDS = envint("TWO_FACTOR_PENDING_SECONDS", 300, minimum=30)
OTP_TOTP_ISSUER = envstr("TWO_FACTOR_ISSUER", "Zalo OA admin")
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

# Provider endpoints: the local sandbox in local mode (DEBUG), the real services in production.
# Production accepts only https; plain http only to a loopback host (the sandbox) when DEBUG is on.
SANDBOX_PORT = envint("SANDBOX_PORT", 8600, minimum=1)
_SANDBOX = f"http://127.0.0.1:{SANDBOX_PORT}"
ZALO_API_BASE = envurl(
    "ZALO_API_BASE", f"{_SANDBOX}/zalo" if DEBUG else "https://business.openapi.zalo.me", local_mode=DEBUG
)
ZALO_OAUTH_BASE = envurl(
    "ZALO_OAUTH_BASE", f"{_SANDBOX}/oauth" if DEBUG else "https://oauth.zaloapp.com", local_mode=DEBUG
)
# The UID channel lives on another Zalo host (https://openapi.zalo.me); empty: the same host as
# the ZNS API in use (the sandbox serves both).
ZALO_OA_API_BASE = envurl("ZALO_OA_API_BASE", "", local_mode=DEBUG) if envstr("ZALO_OA_API_BASE") else ""
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
# Only for an Infobip OA without its own base URL (the OA form requires one).
INFOBIP_BASE_URL = envurl(
    "INFOBIP_BASE_URL", f"{_SANDBOX}/infobip" if DEBUG else "https://api.infobip.com", local_mode=DEBUG
)
# SMS failover for Zalo-direct OAs (campaigns.failover): an Infobip SMS account (SMS API v3). Locally
# the sandbox's demo account; empty API key or sender: no failover SMS is sent (the row says why).
SMS_FAILOVER_BASE_URL = envurl(
    "SMS_FAILOVER_BASE_URL", f"{_SANDBOX}/infobip" if DEBUG else "https://api.infobip.com", local_mode=DEBUG
)
SMS_FAILOVER_API_KEY = envstr("SMS_FAILOVER_API_KEY", "demo-infobip-api-key" if DEBUG else "")
SMS_FAILOVER_SENDER = envstr("SMS_FAILOVER_SENDER", "ZaloAdmin" if DEBUG else "")
# Reports (campaigns.jobs.poll_missing_reports): ask the provider about an accepted message without a
# report this long after it was accepted; fail over this long after its validity without a report.
REPORT_POLL_AFTER_SECONDS = envint("REPORT_POLL_AFTER_SECONDS", 600, minimum=1)
REPORT_POLL_BATCH = envint("REPORT_POLL_BATCH", 200, minimum=1)
INFOBIP_LOGS_PER_MINUTE = envint("INFOBIP_LOGS_PER_MINUTE", 10, minimum=1)
SMS_FAILOVER_GRACE_SECONDS = envint("SMS_FAILOVER_GRACE_SECONDS", 60, minimum=0)

# Alerts (alerts/): e-mail through Django's mail backends (the console in local mode, SMTP otherwise)
# and signed webhooks (X-Signature: t=<unix>,v1=<HMAC-SHA256 of "t.body">), retried with backoff and
# jitter. Webhooks never go to private, loopback or link-local addresses unless allowed (local mode).
EMAIL_BACKEND = envstr(
    "EMAIL_BACKEND", f"django.core.mail.backends.{'console' if DEBUG else 'smtp'}.EmailBackend"
)
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT_SECONDS", 10, minimum=1)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "zalo-admin@localhost")
# Links in e-mails and webhook bodies (e.g. https://zalo.example.com); empty: paths only.
ALERTS_PUBLIC_BASE_URL = envstr("ALERTS_PUBLIC_BASE_URL").rstrip("/")
ALERTS_WEBHOOK_ALLOW_PRIVATE = envbool("ALERTS_WEBHOOK_ALLOW_PRIVATE", DEBUG)
ALERTS_WEBHOOK_CONNECT_TIMEOUT_MS = envint("ALERTS_WEBHOOK_CONNECT_TIMEOUT_MS", 3050, minimum=1)
ALERTS_WEBHOOK_READ_TIMEOUT_MS = envint("ALERTS_WEBHOOK_READ_TIMEOUT_MS", 10000, minimum=1)
ALERTS_DELIVERY_ATTEMPTS = envint("ALERTS_DELIVERY_ATTEMPTS", 6, minimum=1)
ALERTS_RETRY_BASE_SECONDS = envint("ALERTS_RETRY_BASE_SECONDS", 30, minimum=1)
ALERTS_RETRY_MAX_SECONDS = envint("ALERTS_RETRY_MAX_SECONDS", 3600, minimum=1)
ALERTS_RELAY_BATCH = envint("ALERTS_RELAY_BATCH", 100, minimum=1)

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
    # The Infobip webhook URL is a secret: its token never reaches a log (providers/log_filters.py).
    "filters": {"redact_infobip_token": {"()": "providers.log_filters.RedactInfobipWebhookToken"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_infobip_token"],
        }
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["redact_infobip_token"]},
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact_infobip_token"],
        },
    },
}
