"""Tests run against real PostgreSQL and Redis: DATABASE_URL / REDIS_URL, else the embedded
servers, which the suite starts itself (tests/servers.py)."""

from config.settings.base import *  # noqa: F403

DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks run in process in tests (a test that needs the real worker says so itself).
CELERY_TASK_ALWAYS_EAGER = True
# The webhook tests' receiver listens on 127.0.0.1; the guard's own tests switch this off.
WEBHOOKS_ALLOW_PRIVATE_HOSTS = True
# The push tests' service listens on 127.0.0.1 too; the push guard's own tests switch this off.
PUSH_ALLOW_PRIVATE_HOSTS = True
# Endpoints created by a test must be seen by its next request (a test opts in to the cache).
WEBHOOK_ENDPOINTS_CACHE_SECONDS = 0
