"""Production: PostgreSQL, Redis, gunicorn; every secret comes from the environment."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = False
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # type: ignore[index]  # noqa: F405
SECRET_KEY = env("SECRET_KEY")
DATABASES = {"default": env.db("DATABASE_URL")}
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
