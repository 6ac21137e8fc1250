"""The production settings as production loads them: in a separate process, with the
environment production must provide (config/settings/production.py mutates lists it shares
with the base settings, so it is never imported into the test process itself)."""

import json
import os
import secrets
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NONCE = "NONCE"

# What production.py requires, plus the defaults of everything else. (The suite's own
# servers: tests/servers.py has put their URLs in the environment.)
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "loyalty.example.com",
    "DATABASE_URL": os.environ["DATABASE_URL"],
    "REDIS_URL": os.environ["REDIS_URL"],
    "TRUSTED_PROXIES": "127.0.0.1",
    "CLIENT_IP_HEADER": "X-Forwarded-For",
    "METRICS_TOKEN": "a-long-random-metrics-token",
}
_SHOW = """
import json
import django
from django.conf import settings
django.setup()
from csp.utils import build_policy
print(json.dumps({
    "csp": build_policy(nonce=%r),
    "values": {name: getattr(settings, name, None) for name in %r},
}))
"""
NAMES = (
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "ADMIN_2FA_REQUIRED",
)


def run_production(*args: str, static_root: str = "") -> subprocess.CompletedProcess[str]:
    """``python *args`` in the project, with the production settings and environment (and
    its static files collected to ``static_root``, when given)."""
    extra = {"STATIC_ROOT": static_root} if static_root else {}
    return subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **PRODUCTION_ENV, **extra},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@cache
def production_settings() -> dict:
    """``{"csp": the Content-Security-Policy with NONCE for the nonce, "values": {...}}``."""
    result = run_production("-c", _SHOW % (NONCE, NAMES))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def directives(policy: str) -> dict[str, str]:
    """A Content-Security-Policy header as ``{directive: sources}`` (the order is no matter)."""
    return dict(part.strip().partition(" ")[::2] for part in policy.split(";") if part.strip())
