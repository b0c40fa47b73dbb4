"""Settings for the privacy site.

Everything that can change comes from environment variables, read here and only here (see
README "Configuration"). The defaults need nothing installed: SQLite, a filesystem Celery
broker and emails written to ``var/outbox``. ``DJANGO_ENV=production`` turns on the deployment
settings and makes the secrets mandatory. What no variable changes is in ``privacy_site/conf/``,
one module per topic, imported below.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from .conf.api import *  # noqa: F403  SPECTACULAR_SETTINGS
from .conf.apps import *  # noqa: F403  INSTALLED_APPS, MIDDLEWARE, TEMPLATES, URLs
from .conf.auth import *  # noqa: F403  the user model, allauth, axes
from .conf.security import *  # noqa: F403  security headers, Content-Security-Policy

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

# Local state of the embedded defaults: SQLite file, broker queue, outbox, task results.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"DJANGO_ENV must be development, production or test, not {DJANGO_ENV!r}."
    )
PRODUCTION = DJANGO_ENV == "production"

# --- Core --------------------------------------------------------------------------------------

if PRODUCTION:
    # No default: a production process without a secret must not start.
    SECRET_KEY = env.str("SECRET_KEY")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    DEBUG = env.bool("DEBUG", default=False)
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production.")
else:
    SECRET_KEY = env.str(
        "SECRET_KEY", default="insecure-development-key-do-not-use-in-production-0123456789"
    )
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
    DEBUG = env.bool("DEBUG", default=DJANGO_ENV == "development")

SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env.str("SITE_NAME", default="Jessops")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Database ----------------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share the file: wait for locks instead of failing, and take the
    # write lock at BEGIN so concurrent writers queue rather than deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A database that doesn't answer fails the request in seconds (a 503) instead of holding
    # a worker: the time allowed to open a connection.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache -------------------------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # The cache holds only what can be lost (rate-limit counters, throttles): with Redis down,
    # each cache call gives up within REDIS_CACHE_TIMEOUT seconds and acts as a miss, logged by
    # "django_redis.cache", so sign-up and login go on working (rate limits fail open: see
    # privacy_site/cache.py).
    REDIS_CACHE_TIMEOUT = env.float("REDIS_CACHE_TIMEOUT", default=0.5)
    CACHES = {
        "default": {
            "BACKEND": "privacy_site.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": REDIS_CACHE_TIMEOUT,
                "SOCKET_TIMEOUT": REDIS_CACHE_TIMEOUT,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    # Sessions read from Redis, kept in the database (privacy_site/sessions.py); with Redis
    # down they are read from the database.
    SESSION_ENGINE = "privacy_site.sessions"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Every page shows the site notices (a policy change, a business transition), which change
# only when staff publish one: each process reads them at most this often (seconds), and at
# once after it saves one itself.
SITE_NOTICES_TTL = env.float("SITE_NOTICES_TTL", default=10.0)
# Longest a session's copy stays in the cache (seconds); the database keeps the session.
SESSION_CACHE_TIMEOUT = env.int("SESSION_CACHE_TIMEOUT", default=300)

# --- Users and authentication (the rest: privacy_site/conf/auth.py) ----------------------------

# Erasure sends its confirmation email first; if the provider is down it waits for it, but
# never longer than this (seconds) before erasing anyway.
ACCOUNT_ERASURE_CONFIRMATION_WAIT = env.int("ACCOUNT_ERASURE_CONFIRMATION_WAIT", default=3600)
# Wrong passwords allowed on the delete page per account, per 15 minutes.
ACCOUNT_DELETE_ATTEMPTS = env.int("ACCOUNT_DELETE_ATTEMPTS", default=5)

# Staff sessions end after this many seconds without a request (customers' last
# SESSION_COOKIE_AGE, two weeks).
STAFF_SESSION_IDLE_TIMEOUT = env.int("STAFF_SESSION_IDLE_MINUTES", default=30) * 60

# --- Lockout (django-axes; the rest: privacy_site/conf/auth.py) --------------------------------

# Failed logins allowed per account (the address typed, known or not) and, separately, per
# client address (IPv6 by /64), before logging in is paused for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Proxies in front of the site, trusted in X-Forwarded-For to find the client's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Internationalisation ----------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Email -------------------------------------------------------------------------------------

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "outbox"))
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Jessops <no-reply@jessops.example>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# Provider settings for django-anymail, as JSON, e.g. {"POSTMARK_SERVER_TOKEN": "..."}.
ANYMAIL = env.json("ANYMAIL", default={})

# --- Sending email (communications app) --------------------------------------------------------

# Rows handed to the backend per batch task (and per provider call when batch sending).
EMAIL_BATCH_SIZE = env.int("EMAIL_BATCH_SIZE", default=500)
# Audience rows written per transaction when a campaign starts.
EMAIL_AUDIENCE_CHUNK = env.int("EMAIL_AUDIENCE_CHUNK", default=2000)
# One provider call per batch with per-recipient merge data (anymail); default: on for
# anymail backends, off (one MIME message per recipient, one connection) otherwise.
EMAIL_BATCH_SEND = env.bool("EMAIL_BATCH_SEND", default=None)
# How merge fields are written for the provider; FIELD stands for the field's name.
EMAIL_MERGE_FIELD_FORMAT = env.str("EMAIL_MERGE_FIELD_FORMAT", default="{{FIELD}}")
# Messages per second per provider, shared by all workers, e.g. {"smtp": 50, "default": 100}.
EMAIL_RATE_LIMITS = env.json("EMAIL_RATE_LIMITS", default={})
# Where mail clients send mailto unsubscribes (default unsubscribe@ the From domain).
EMAIL_UNSUBSCRIBE_MAILTO = env.str("EMAIL_UNSUBSCRIBE_MAILTO", default="")
# Domain of the Message-ID header (default: the From domain).
EMAIL_MESSAGE_ID_DOMAIN = env.str("EMAIL_MESSAGE_ID_DOMAIN", default="")
# A transactional row still queued after this many seconds is relayed again by the sweep.
EMAIL_OUTBOX_RETRY_AFTER = env.int("EMAIL_OUTBOX_RETRY_AFTER", default=120)
# Tries before a row that keeps failing for now (SMTP 4xx, connection refused, HTTP 429/5xx)
# is marked failed; campaign and transactional rows alike.
EMAIL_MAX_ATTEMPTS = env.int("EMAIL_MAX_ATTEMPTS", default=8)
# Backoff before such a row is tried again: this many seconds after the first try, doubling
# after each, at most EMAIL_RETRY_BACKOFF_MAX; each wait is 50-100% of that (jitter).
EMAIL_RETRY_BACKOFF = env.float("EMAIL_RETRY_BACKOFF", default=30.0)
EMAIL_RETRY_BACKOFF_MAX = env.float("EMAIL_RETRY_BACKOFF_MAX", default=1800.0)
# A claim older than this is resolved even if its worker's database session still seems
# open (a host gone without closing it): the row being handed over is uncertain.
EMAIL_SENDING_TIMEOUT = env.int("EMAIL_SENDING_TIMEOUT", default=900)
# A sending campaign with no batch claimed for this long is restarted by the sweep.
EMAIL_CAMPAIGN_STALL_AFTER = env.int("EMAIL_CAMPAIGN_STALL_AFTER", default=120)
# Chained batch tasks the sweep starts for a stalled campaign (or resuming starts).
EMAIL_RESTART_TASKS = env.int("EMAIL_RESTART_TASKS", default=4)
# Most transactional rows the sweep relays per run.
EMAIL_SWEEP_LIMIT = env.int("EMAIL_SWEEP_LIMIT", default=1000)
# Soft bounces (since the last delivery) that suppress an address.
EMAIL_SOFT_BOUNCE_LIMIT = env.int("EMAIL_SOFT_BOUNCE_LIMIT", default=3)
# Provider events a worker claims and processes per transaction.
EMAIL_WEBHOOK_BATCH_SIZE = env.int("EMAIL_WEBHOOK_BATCH_SIZE", default=500)
# Seconds a web process trusts that a processing run is queued before asking the cache again
# (a busy webhook then costs no cache call per request); each run that processed something
# queues one more this long after it ends. 0: ask on every request, no follow-up.
EMAIL_WEBHOOK_RUN_WINDOW = env.float("EMAIL_WEBHOOK_RUN_WINDOW", default=0.5)
# Provider webhooks served under /anymail/<provider>/, besides the provider of an anymail
# EMAIL_BACKEND (e.g. "mailgun" for inbound mail through a second provider). Any other
# provider's URL answers 404; each needs ANYMAIL["WEBHOOK_SECRET"] or its signing key.
EMAIL_WEBHOOK_PROVIDERS = env.list("EMAIL_WEBHOOK_PROVIDERS", default=[])

# --- Send a wishlist to a friend (communications/referrals/) -----------------------------------

# Wishlists one customer may send in any 24 hours.
REFERRAL_DAILY_LIMIT = env.int("REFERRAL_DAILY_LIMIT", default=10)
# The longest personal message, in characters (plain text, no links).
REFERRAL_MESSAGE_MAX_LENGTH = env.int("REFERRAL_MESSAGE_MAX_LENGTH", default=500)
# Hosts product links may point at, besides SITE_URL's own.
REFERRAL_LINK_HOSTS = env.list("REFERRAL_LINK_HOSTS", default=["www.jessops.com", "jessops.com"])
# The friend's name and address travel to the worker sealed (Fernet) with this key, which the
# broker never sees: a Fernet key (`python -c "from cryptography.fernet import Fernet;
# print(Fernet.generate_key().decode())"`). Empty: derived from SECRET_KEY (and
# SECRET_KEY_FALLBACKS, to open what an earlier key sealed).
REFERRAL_SEALING_KEY = env.str("REFERRAL_SEALING_KEY", default="")
# Seconds a sealed send stays usable; a send not made by then is given up (expired), never
# made later. Must outlast the retries (EMAIL_RETRY_BACKOFF...) and the broker's
# visibility timeout, which redelivers the task of a worker that died.
REFERRAL_SEND_WINDOW = env.int("REFERRAL_SEND_WINDOW", default=6 * 3600)

# --- Celery ------------------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # With acks_late a task whose worker died is delivered again once the visibility timeout
    # passes. It must outlast the longest task and any countdown/ETA, or a task still running
    # would be handed to a second worker; one hour leaves a wide margin over our batch tasks,
    # which are sized to finish in seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    }
    if CELERY_BROKER_URL.startswith("redis://"):
        # kombu's Redis transport, minus a crash of the worker when the broker goes away
        # (privacy_site/broker.py).
        CELERY_BROKER_TRANSPORT = "privacy_site.broker:Transport"
# A process serving web requests never waits on the broker: a publish gives up after
# CELERY_PUBLISH_TIMEOUT seconds (connect or reply), once, and the outbox row waits for the
# sweep. Workers and beat keep retrying (privacy_site/celery.py sets both).
CELERY_PUBLISH_TIMEOUT = env.float("CELERY_PUBLISH_TIMEOUT", default=0.25)
CELERY_TASK_PUBLISH_RETRY = False
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND", default=f"file://{VAR_DIR / 'celery-results'}"
)
if CELERY_RESULT_BACKEND.startswith("file://"):
    Path(CELERY_RESULT_BACKEND.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# How long /healthz waits for the broker before calling it down.
HEALTHZ_BROKER_TIMEOUT = env.float("HEALTHZ_BROKER_TIMEOUT", default=2.0)

# --- Consent ------------------------------------------------------------------------------------

# Lifetime of signed preference-centre and unsubscribe links (seconds; at least 30 days).
CONSENT_TOKEN_MAX_AGE = env.int("CONSENT_TOKEN_MAX_AGE", default=60 * 24 * 3600)
# Lifetime of the newsletter double opt-in confirmation link (seconds).
NEWSLETTER_CONFIRMATION_MAX_AGE = env.int("NEWSLETTER_CONFIRMATION_MAX_AGE", default=7 * 24 * 3600)
# Newsletter sign-up limits (kept in the database, so they hold without Redis): at most one
# confirmation email per address per interval (seconds; none to an address already
# subscribed), and at most this many sign-up requests per client IP address per window.
NEWSLETTER_REQUEST_INTERVAL = env.int("NEWSLETTER_REQUEST_INTERVAL", default=24 * 3600)
NEWSLETTER_REQUESTS_PER_CLIENT = env.int("NEWSLETTER_REQUESTS_PER_CLIENT", default=10)
NEWSLETTER_CLIENT_WINDOW = env.int("NEWSLETTER_CLIENT_WINDOW", default=3600)

# --- Accounts -----------------------------------------------------------------------------------

# The class that verifies a customer's postal address (see accounts/address.py): the built-in
# UK postcode format check, or accounts.address.AFDVerifier for AFD's lookup service.
ADDRESS_VERIFIER = env.str("ADDRESS_VERIFIER", default="accounts.address.PostcodeFormatVerifier")
# AFD address lookup (only read by AFDVerifier): HTTPS endpoint, key, and how long to wait
# before falling back to the format check.
AFD_API_URL = env.str("AFD_API_URL", default="")
AFD_API_KEY = env.str("AFD_API_KEY", default="")
AFD_TIMEOUT = env.float("AFD_TIMEOUT", default=3.0)

# --- Sharing ------------------------------------------------------------------------------------

# Notices to third parties of a correction or erasure (sharing/services/notifications/).
# The key each party's signing key is derived from (HMAC-SHA256 of the party's id under this
# key; `manage.py notification_signing_key "<party>"` prints it). No default in production:
# without it nothing is posted to an endpoint, and `check --deploy` warns (sharing.W001).
SHARING_NOTIFICATION_SIGNING_KEY = env.str(
    "SHARING_NOTIFICATION_SIGNING_KEY",
    default="" if PRODUCTION else "insecure-development-notification-key",
)
# Seconds to wait for a party's endpoint (to connect, then to answer).
SHARING_NOTIFICATION_TIMEOUT = env.float("SHARING_NOTIFICATION_TIMEOUT", default=10.0)
# Tries before a notice that keeps failing for now (timeout, 408, 429, 5xx) is marked failed.
SHARING_NOTIFICATION_MAX_ATTEMPTS = env.int("SHARING_NOTIFICATION_MAX_ATTEMPTS", default=8)
# Backoff: this many seconds after the first try, doubling after each, at most the maximum;
# each wait is 50-100% of that.
SHARING_NOTIFICATION_RETRY_BACKOFF = env.float("SHARING_NOTIFICATION_RETRY_BACKOFF", default=60.0)
SHARING_NOTIFICATION_RETRY_BACKOFF_MAX = env.float(
    "SHARING_NOTIFICATION_RETRY_BACKOFF_MAX", default=6 * 3600.0
)
# A notice claimed by a worker for longer than this is taken back by the sweep (worker gone).
SHARING_NOTIFICATION_SENDING_TIMEOUT = env.int("SHARING_NOTIFICATION_SENDING_TIMEOUT", default=300)
# Certificate authorities trusted for parties' endpoints (a PEM file); empty: the system's.
SHARING_NOTIFICATION_CA_BUNDLE = env.str("SHARING_NOTIFICATION_CA_BUNDLE", default="")

# Court orders and other legal requests, and what was disclosed for them: stored here, never
# under MEDIA_ROOT or the static files, and served only to Privacy Officers (docs/OPERATIONS.md).
PRIVATE_STORAGE_ROOT = Path(env.str("PRIVATE_STORAGE_ROOT", default=str(VAR_DIR / "private")))
# The largest order document accepted (bytes); PDF only.
LEGAL_REQUEST_DOCUMENT_MAX_BYTES = env.int(
    "LEGAL_REQUEST_DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024
)

# --- REST API (the schema: privacy_site/conf/api.py) -------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Customers and staff: their session. The shop's systems: per-system keys (api_keys app).
    # No HTTP Basic: no passwords over the API.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "api_keys.authentication.APIKeyAuthentication",
    ],
    # Failed API-key attempts allowed per client address (N/s, N/m, N/h or N/d), then 429.
    "DEFAULT_THROTTLE_RATES": {
        "api_key_failures": env.str("API_KEY_FAILURE_RATE", default="10/h"),
    },
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "privacy_site.pagination.CheckedCursorPagination",
    "PAGE_SIZE": 100,
}

# --- Sharing: orders, Jessops Photo, business transfers ---------------------------------------

# The register's names of the bank that authorises card payments and of the carrier an order
# goes with when the checkout names none (POST /api/v1/orders/; docs/SHARING.md "Orders").
ORDERS_BANK = env.str("ORDERS_BANK", default="Our bank (card authorisation)")
ORDERS_DEFAULT_CARRIER = env.str("ORDERS_DEFAULT_CARRIER", default="Parcelforce")
# The Jessops Photo website (CEWE), where members manage CEWE's own emails and marketing; the
# Jessops Photo page and the preference centre link to it.
JESSOPS_PHOTO_URL = env.str("JESSOPS_PHOTO_URL", default="https://photo.jessops.example/")
# Business transfers: accounts disclosed per transaction, and how long one task run goes on
# before it queues the next (seconds).
SHARING_TRANSFER_BATCH_SIZE = env.int("SHARING_TRANSFER_BATCH_SIZE", default=1000)
SHARING_TRANSFER_RUN_SECONDS = env.int("SHARING_TRANSFER_RUN_SECONDS", default=240)
# Aggregate reports for suppliers: the register's aggregate-only party they are given to, and
# the longest period one report may cover (days).
SHARING_AGGREGATE_PARTY = env.str("SHARING_AGGREGATE_PARTY", default="Suppliers and advertisers")
SHARING_REPORT_MAX_DAYS = env.int("SHARING_REPORT_MAX_DAYS", default=366)

# --- Retention (retention/schedule.py; docs/RETENTION.md) --------------------------------------

# How many days each kind of data is kept before the nightly jobs forget it, counted as the
# schedule says (from sign-up, the send, the decision...). One setting per rule.
RETENTION_UNVERIFIED_ACCOUNTS_DAYS = env.int("RETENTION_UNVERIFIED_ACCOUNTS_DAYS", default=30)
RETENTION_NEWSLETTER_REQUESTS_DAYS = env.int("RETENTION_NEWSLETTER_REQUESTS_DAYS", default=0)
RETENTION_DELIVERY_CONTENT_DAYS = env.int("RETENTION_DELIVERY_CONTENT_DAYS", default=30)
RETENTION_PROVIDER_EVENTS_DAYS = env.int("RETENTION_PROVIDER_EVENTS_DAYS", default=90)
RETENTION_COOKIE_CHOICES_DAYS = env.int("RETENTION_COOKIE_CHOICES_DAYS", default=365)
RETENTION_LEDGER_NETWORK_DETAILS_DAYS = env.int(
    "RETENTION_LEDGER_NETWORK_DETAILS_DAYS", default=730
)
RETENTION_REFERRAL_TOKENS_DAYS = env.int("RETENTION_REFERRAL_TOKENS_DAYS", default=90)
RETENTION_SIGN_IN_LOG_DAYS = env.int("RETENTION_SIGN_IN_LOG_DAYS", default=90)
RETENTION_SIGN_IN_FAILURES_DAYS = env.int("RETENTION_SIGN_IN_FAILURES_DAYS", default=90)
RETENTION_SIGN_IN_LOCKOUTS_DAYS = env.int("RETENTION_SIGN_IN_LOCKOUTS_DAYS", default=90)
RETENTION_EXPIRED_SESSIONS_DAYS = env.int("RETENTION_EXPIRED_SESSIONS_DAYS", default=0)
# What a new survey states it keeps answers for after it closes (each survey may say less
# or more); the survey_answers rule follows each survey's own figure.
SURVEY_ANSWERS_KEPT_DAYS = env.int("SURVEY_ANSWERS_KEPT_DAYS", default=365)
# Rows per batch: each batch is one short transaction (its locks last only that long).
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=1000)

# --- Logging -----------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Security (every environment's headers: privacy_site/conf/security.py) ---------------------

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    # /healthz is probed over plain HTTP by load balancers inside the private network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
