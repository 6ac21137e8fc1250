"""Settings shared by every environment, read through django-environ.

Every variable is listed with a comment in .env.example.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me-in-production-0123456789")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "loyalty",
    "rewards",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost of ours: the request id covers everything below, the timing too.
    "loyalty.observability.RequestObservabilityMiddleware",
    # Session, user and messages: not for the API and the probes (see loyalty.middleware).
    "loyalty.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "loyalty.middleware.AuthenticationMiddleware",
    "loyalty.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Messages stay server-side: the admin shows a new API key once through them.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "loyalty.User"

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

# The embedded default is SQLite, so a newcomer's `make run` needs nothing but Python.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish")), ("ru", _("Russian")), ("tr", _("Turkish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "var" / "static"))
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="loyalty@localhost")
# Seconds an SMTP call may take; without it a hung mail server would hold a worker forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)

# Celery: Redis in production; with no REDIS_URL tasks run in process (embedded default).
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "send-reminders": {
        "task": "notifications.tasks.send_reminders",
        "schedule": crontab(minute=30, hour=9),
    },
    "release-pending": {
        "task": "loyalty.tasks.release_pending",
        "schedule": crontab(minute=50, hour=1),
    },
    "expire-points": {
        "task": "loyalty.tasks.expire_points",
        "schedule": crontab(minute=10, hour=2),
    },
    # After the expiry job, before the reminders: a day's notices go out together.
    "evaluate-tiers": {
        "task": "loyalty.tasks.evaluate_tiers",
        "schedule": crontab(minute=40, hour=3),
    },
    "ledger-check": {"task": "loyalty.tasks.ledger_check", "schedule": crontab(minute=17)},
    "coupons-expire": {"task": "rewards.tasks.coupons_expire", "schedule": crontab(minute=5)},
    # Hourly, so each merchant's day is covered from its own midnight; once a year a member.
    "award-birthdays": {
        "task": "loyalty.tasks.award_birthdays",
        "schedule": crontab(minute=20),
    },
    "idempotency-purge": {
        "task": "loyalty.tasks.idempotency_purge",
        "schedule": crontab(minute=43, hour="*/6"),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["loyalty.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["loyalty.api.auth.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["loyalty.api.parsers.DecimalJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "loyalty.api.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty platform API",
    "DESCRIPTION": (
        "The integrator API, v1. Authenticate with `Authorization: Bearer <key>`. "
        "Every error is `{code, detail, fields?}`; writes accept an `Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our own static files: the docs page works without any CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
}

# The cache holds the coupon-guess counters: Redis when there is one (atomic across
# processes), else this process's memory (the embedded default).
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis outage must not hang requests: fail fast (the guard then lets them by).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Guesses of coupon codes that do not exist, per window, before 429 rate_limited.
COUPON_GUESS_WINDOW_SECONDS = env.int("COUPON_GUESS_WINDOW_SECONDS", default=600)
COUPON_GUESS_LIMIT_PER_KEY = env.int("COUPON_GUESS_LIMIT_PER_KEY", default=1000)
COUPON_GUESS_LIMIT_PER_MEMBER = env.int("COUPON_GUESS_LIMIT_PER_MEMBER", default=10)

# How long Idempotency-Key answers are kept (the contract promises at least 24 h).
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=48)

# Logs carry the request's id; LOG_FORMAT=json writes one JSON object a line (production).
LOG_FORMAT = env("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "loyalty.observability.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "loyalty.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Operations: /metrics may require "Authorization: Bearer <METRICS_TOKEN>" (empty: open).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# The hourly check alerts when outbox rows have been due this long and are still not sent.
OPS_OUTBOX_STALE_MINUTES = env.int("OPS_OUTBOX_STALE_MINUTES", default=15)

# Notifications: the outbox's delivery (notifications/services/outbox.py).
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=6)
# Backoff after the n-th failure: base x 2^(n-1) (1, 2, 4, 8, 16 minutes by default).
NOTIFICATIONS_RETRY_BASE_SECONDS = env.int("NOTIFICATIONS_RETRY_BASE_SECONDS", default=60)
# How long a delivery run holds the rows it claimed before others may take them.
NOTIFICATIONS_CLAIM_SECONDS = env.int("NOTIFICATIONS_CLAIM_SECONDS", default=300)
# A row still "sending" after this long was interrupted: failed, never re-sent by itself.
NOTIFICATIONS_SENDING_TIMEOUT_SECONDS = env.int(
    "NOTIFICATIONS_SENDING_TIMEOUT_SECONDS", default=900
)
# The notification template preview (admin): previews per staff user per window, then 429.
NOTIFICATIONS_PREVIEW_LIMIT = env.int("NOTIFICATIONS_PREVIEW_LIMIT", default=60)
NOTIFICATIONS_PREVIEW_WINDOW_SECONDS = env.int("NOTIFICATIONS_PREVIEW_WINDOW_SECONDS", default=60)
# Web push (notifications/services/push.py): on when both VAPID keys are set; make them
# with `manage.py generate_vapid_keys`. The subject is how push services reach the sender.
VAPID_PUBLIC_KEY = env("VAPID_PUBLIC_KEY", default="")
VAPID_PRIVATE_KEY = env("VAPID_PRIVATE_KEY", default="")
VAPID_SUBJECT = env("VAPID_SUBJECT", default=f"mailto:{DEFAULT_FROM_EMAIL}")
# How long a push service keeps a message for an offline device (seconds).
PUSH_TTL_SECONDS = env.int("PUSH_TTL_SECONDS", default=4 * 24 * 3600)
# Push endpoints are given by browsers, so we only POST to the known push services
# (a host or its subdomains): anything else could point the server at an internal address.
PUSH_ENDPOINT_HOSTS = env.list(
    "PUSH_ENDPOINT_HOSTS",
    default=[
        "fcm.googleapis.com",
        "android.googleapis.com",
        "push.services.mozilla.com",
        "notify.windows.com",
        "push.apple.com",
    ],
)
# Webhooks may reach private, loopback and link-local addresses (local development only:
# in production an endpoint must not make our servers call into our own network).
WEBHOOKS_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOKS_ALLOW_PRIVATE_HOSTS", default=False)
CELERY_BEAT_SCHEDULE["notifications-deliver"] = {
    "task": "notifications.tasks.deliver",
    "schedule": crontab(),  # every minute: pending rows and retries that are due
}
# Each web process reads a merchant's webhook endpoints at most this often (0: every request).
WEBHOOK_ENDPOINTS_CACHE_SECONDS = env.int("WEBHOOK_ENDPOINTS_CACHE_SECONDS", default=10)
CELERY_BEAT_SCHEDULE["webhooks-deliver"] = {
    "task": "notifications.tasks.deliver_webhooks",
    "schedule": crontab(),  # every minute: pending webhook deliveries and retries that are due
}

# The customer profile page (loyalty/profile): passwordless sign-in and its session.
PROFILE_SESSION_HOURS = env.int("PROFILE_SESSION_HOURS", default=12)
PROFILE_EMAIL_LINK_MINUTES = env.int("PROFILE_EMAIL_LINK_MINUTES", default=15)
PROFILE_DEEP_LINK_SECONDS = env.int("PROFILE_DEEP_LINK_SECONDS", default=300)
# Sign-in links asked for, per window, per address and per client IP, before 429.
PROFILE_SIGNIN_WINDOW_SECONDS = env.int("PROFILE_SIGNIN_WINDOW_SECONDS", default=900)
PROFILE_SIGNIN_LIMIT_PER_EMAIL = env.int("PROFILE_SIGNIN_LIMIT_PER_EMAIL", default=5)
PROFILE_SIGNIN_LIMIT_PER_IP = env.int("PROFILE_SIGNIN_LIMIT_PER_IP", default=30)
# The counters' cache keys start with this (tests give each test its own).
PROFILE_SIGNIN_KEY_PREFIX = "profile-signin"
# Behind a reverse proxy: the META header holding the client's address (its last entry is
# used), e.g. HTTP_X_FORWARDED_FOR; empty: REMOTE_ADDR.
PROFILE_CLIENT_IP_HEADER = env("PROFILE_CLIENT_IP_HEADER", default="")
CELERY_BEAT_SCHEDULE["profile-tokens-purge"] = {
    "task": "loyalty.tasks.profile_tokens_purge",
    "schedule": crontab(minute=23, hour=3),
}
