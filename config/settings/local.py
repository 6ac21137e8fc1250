"""Local development (`make run`, manage.py): DEBUG on; the differences from production are
listed in README ("Local and production")."""

from config.settings.base import *  # noqa: F403
from config.settings.base import BASE_DIR, MIDDLEWARE, env

DEBUG = env.bool("DEBUG", default=True)
# A webhook receiver on this machine is how one tries webhooks locally.
WEBHOOKS_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOKS_ALLOW_PRIVATE_HOSTS", default=True)
# The same for a push service on this machine (bench.push runs one).
PUSH_ALLOW_PRIVATE_HOSTS = env.bool("PUSH_ALLOW_PRIVATE_HOSTS", default=True)
# There is no mail server locally: emails (sign-in links, the demo's notifications) are
# written to files in var/mail/ instead (EMAIL_URL still wins).
if not env("EMAIL_URL", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = BASE_DIR / "var" / "mail"
# Static files from gunicorn as in production, but found in the apps' folders as they are
# and re-read when they change (whitenoise's defaults with DEBUG on): no collectstatic.
MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
