"""Settings shared by every environment, read through django-environ.

Every variable is listed with a comment in .env.example.
"""

import ipaddress
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config import embedded

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me-in-production-0123456789")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# A refused form's page in the look of the admin or of the customer's page, saying what to do.
CSRF_FAILURE_VIEW = "loyalty.csrf.csrf_failure"
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    # Django's admin on loyalty's AdminSite: staff sign-in with a second factor (admin_site.py).
    "loyalty.apps.LoyaltyAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Triggers declared on the models (the ledger's and the audit trail's append-only).
    "pgtrigger",
    "loyalty",
    "rewards",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header and the nonce templates give inline code.
    "loyalty.middleware.CSPMiddleware",
    # Outermost of ours: the request id covers everything below, the timing too.
    "loyalty.observability.RequestObservabilityMiddleware",
    # Session, user and messages: not for the API and the probes (see loyalty.middleware).
    "loyalty.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "loyalty.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session gave a second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    "loyalty.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out sign-in into the lockout page (django-axes).
    "axes.middleware.AxesMiddleware",
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
                "csp.context_processors.nonce",
            ],
        },
    },
]

# One engine in every mode: PostgreSQL at DATABASE_URL, else the project's own embedded
# one, which manage.py, pytest and `make run` start (config/embedded.py). Production
# requires DATABASE_URL.
DATABASES = {"default": env.db("DATABASE_URL", default=embedded.postgres_url())}
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

# Redis, Celery's broker and the cache: REDIS_URL, else the embedded one (as DATABASES).
REDIS_URL = env("REDIS_URL", default="") or embedded.redis_url()
CELERY_BROKER_URL = REDIS_URL
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
    # The reference's introduction (auth, scopes, errors, retries), with links to the guides
    # served at /api/docs/<guide>/ (loyalty.api.guides).
    "DESCRIPTION": (BASE_DIR / "docs" / "api" / "index.md").read_text(encoding="utf-8"),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # The webhook payloads' schemas beside the operations' (components, x-webhooks).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "loyalty.api.schema_webhooks.add_webhook_payloads",
    ],
    # Swagger UI from our own static files: the docs page works without any CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would send the schema's address to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "validatorUrl": None},
}

# The cache holds the rate counters (coupon guesses, sign-ins), shared by every process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # A Redis outage must not hang requests: fail fast (the guard then lets them by).
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
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

# Operations: /metrics wants "Authorization: Bearer <METRICS_TOKEN>" when it is set (empty:
# open). Production refuses to start without a token unless METRICS_PUBLIC says it is meant.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=False)
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
# (a host or its subdomains, https on port 443): anything else could point the server at
# an internal address.
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
# Push services may be on this machine or a private network: plain http on 127.0.0.1 or
# localhost, any port, private addresses (local development only; production sends only to
# public addresses of the hosts above, checked at every connection).
PUSH_ALLOW_PRIVATE_HOSTS = env.bool("PUSH_ALLOW_PRIVATE_HOSTS", default=False)
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
# Sign-in links asked for, per window, per address and per client IP (each merchant
# counts its own), before 429.
PROFILE_SIGNIN_WINDOW_SECONDS = env.int("PROFILE_SIGNIN_WINDOW_SECONDS", default=900)
PROFILE_SIGNIN_LIMIT_PER_EMAIL = env.int("PROFILE_SIGNIN_LIMIT_PER_EMAIL", default=5)
PROFILE_SIGNIN_LIMIT_PER_IP = env.int("PROFILE_SIGNIN_LIMIT_PER_IP", default=30)
# The counters' cache keys start with this (tests give each test its own).
PROFILE_SIGNIN_KEY_PREFIX = "profile-signin"
# Transfers tried from the profile page, per window, per member and per client IP (each
# merchant counts its own), before 429: a member number cannot be probed at length.
PROFILE_TRANSFER_WINDOW_SECONDS = env.int("PROFILE_TRANSFER_WINDOW_SECONDS", default=3600)
PROFILE_TRANSFER_LIMIT_PER_MEMBER = env.int("PROFILE_TRANSFER_LIMIT_PER_MEMBER", default=10)
PROFILE_TRANSFER_LIMIT_PER_IP = env.int("PROFILE_TRANSFER_LIMIT_PER_IP", default=50)
PROFILE_TRANSFER_KEY_PREFIX = "profile-transfer"


def _proxy_networks(entries: list[str]) -> list[str]:
    """TRUSTED_PROXIES as networks (``none``: no proxy); a typo stops the start, since a
    proxy left out would put all its clients behind one address."""
    entries = [entry.strip() for entry in entries if entry.strip()]
    if [entry.lower() for entry in entries] == ["none"]:
        return []
    networks = []
    for entry in entries:
        try:
            networks.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {entry!r} is not an IP address or network (e.g. "
                "127.0.0.1, 10.0.0.0/8); use 'none' alone when no proxy is in front."
            ) from exc
    return networks


# The client's address, for every per-IP limit (loyalty/clientip.py): REMOTE_ADDR, unless
# the request comes from one of these reverse proxies (addresses or networks); then the
# header CLIENT_IP_HEADER (Django's META name), read from the right past trusted proxies.
# Production will not start without TRUSTED_PROXIES ("none" when clients connect directly).
TRUSTED_PROXIES = _proxy_networks(env.list("TRUSTED_PROXIES", default=[]))
# Either spelling: X-Forwarded-For or HTTP_X_FORWARDED_FOR (a header never found would put
# every client behind the proxy's address again).
CLIENT_IP_HEADER = env("CLIENT_IP_HEADER", default="X-Forwarded-For").upper().replace("-", "_")
if not CLIENT_IP_HEADER.startswith("HTTP_"):
    CLIENT_IP_HEADER = f"HTTP_{CLIENT_IP_HEADER}"
CELERY_BEAT_SCHEDULE["profile-tokens-purge"] = {
    "task": "loyalty.tasks.profile_tokens_purge",
    "schedule": crontab(minute=23, hour=3),
}

# Content-Security-Policy (django-csp), in every environment: a page that breaks it breaks
# in development and in the tests, not first in production. Scripts and styles come from
# our own static files; the few that must stay inline (a merchant's colours) carry the
# response's nonce ({{ CSP_NONCE }}). Nothing is loaded from another host. Browsers report
# what the policy blocked to CSP_REPORT_URI when set (a lowercase name here: django-csp
# takes any CSP_* setting for its old configuration style).
csp_report_uri = env("CSP_REPORT_URI", default="")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        # data: for the icons inside the admin's and Swagger UI's stylesheets.
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF],  # the web-push service worker
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "report-uri": [csp_report_uri] if csp_report_uri else None,
    }
}

# Staff sign-in to the admin (loyalty/admin_site.py). Wrong passwords are counted per
# username and client address together (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT of
# them that pair is refused, even with the right password, until the cool-off has passed
# since its last failure. A wrong second-factor code counts as a wrong password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The client's address as the rest of the project sees it (trusted proxies included).
AXES_CLIENT_IP_CALLABLE = "loyalty.clientip.client_ip"
# The lockout page in the admin's own look.
AXES_LOCKOUT_CALLABLE = "loyalty.admin_site.lockout_response"
# Staff may enrol a TOTP authenticator (Two-factor authentication, in the admin's user
# menu); once enrolled, the admin sign-in asks for its code. True: every staff user must
# enrol before using the admin (production's default, see production.py).
ADMIN_2FA_REQUIRED = env.bool("ADMIN_2FA_REQUIRED", default=False)
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = env("ADMIN_2FA_ISSUER", default="Loyalty backoffice")
# Superusers may remove a staff user's device (who lost it) but never read its secret.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
