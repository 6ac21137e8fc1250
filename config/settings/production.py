"""Production: PostgreSQL, Redis, gunicorn; every secret comes from the environment."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = False
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # type: ignore[index]  # noqa: F405
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("Set the SECRET_KEY environment variable (it is empty).")
# Never the embedded servers of local runs (config/embedded.py): both URLs are required, and
# base's broker and cache settings were read from the same REDIS_URL.
DATABASES = {"default": env.db("DATABASE_URL")}
REDIS_URL = env("REDIS_URL")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Static files straight from gunicorn, compressed and cached forever (no CDN needed).
MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")  # noqa: F405

# --- Client addresses and /metrics (security review, items 8 and 13) ------------------
# Behind the TLS proxy every request comes from the proxy: without TRUSTED_PROXIES every
# customer would share its address and one busy shop would lock out all the others'. And
# /metrics tells the world about the business unless it wants a token. So production says
# both, or does not start. (TRUSTED_PROXIES is read again: base.py's value is [] alike for
# "none" and for unset.)
if not any(entry.strip() for entry in env.list("TRUSTED_PROXIES", default=[])):
    raise ImproperlyConfigured(
        "Set TRUSTED_PROXIES to the addresses or networks of the reverse proxies in front "
        "of the app (e.g. 127.0.0.1 or 10.0.0.0/8), or to 'none' when clients connect "
        "directly; see CLIENT_IP_HEADER for the header they set."
    )
if not METRICS_TOKEN and not METRICS_PUBLIC:  # noqa: F405
    raise ImproperlyConfigured(
        "Set METRICS_TOKEN (Prometheus then sends 'Authorization: Bearer <token>'), or "
        "METRICS_PUBLIC=true to serve /metrics to anyone on purpose."
    )
# --- end of the client addresses and /metrics block ---------------------------------
# --- HTTPS only (security issue, item 9) ---
# Plain HTTP is redirected to HTTPS (behind a proxy: SECURE_PROXY_SSL_HEADER above says
# which requests came in over HTTPS), except the probes: load balancers and orchestrators
# call /healthz and /readyz over plain HTTP from inside the network.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Browsers that saw the site over HTTPS never use plain HTTP for it again (a year), nor for
# its subdomains. Preload: consent to be put in browsers' built-in HTTPS list (a listing
# is asked for separately, at hstspreload.org, and is slow to undo).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
# Every staff user signs in to the admin with a second factor (base.py, ADMIN_2FA_REQUIRED).
ADMIN_2FA_REQUIRED = env.bool("ADMIN_2FA_REQUIRED", default=True)
