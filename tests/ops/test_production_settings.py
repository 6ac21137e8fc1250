"""Production settings refuse to start without what the security review asked for: the
trusted proxies (or an explicit "none") and a /metrics token (or an explicit opt-out).

Each case loads ``config.settings.production`` in a fresh interpreter with its own
environment (loading it here would change this process's settings).
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.ops.production import PRODUCTION_ENV

SHOW = (
    "from django.conf import settings; "
    "print(settings.TRUSTED_PROXIES, settings.CLIENT_IP_HEADER, settings.METRICS_PUBLIC)"
)


def start(**overrides: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **PRODUCTION_ENV, **overrides}
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    return subprocess.run(  # noqa: S603 (our own interpreter, a fixed program)
        [sys.executable, "-c", SHOW],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def refused(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_production_starts_with_proxies_and_a_metrics_token():
    result = start()

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["['127.0.0.1/32']", "HTTP_X_FORWARDED_FOR", "False"]


@pytest.mark.parametrize("value", ["", "  ", " , "])
def test_production_does_not_start_without_trusted_proxies(value):
    message = refused(start(TRUSTED_PROXIES=value))

    assert "Set TRUSTED_PROXIES" in message
    assert "'none'" in message


def test_production_starts_with_no_proxy_when_it_says_so():
    result = start(TRUSTED_PROXIES="none")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "[]"


def test_a_trusted_proxy_that_is_no_address_stops_the_start():
    message = refused(start(TRUSTED_PROXIES="127.0.0.1,proxy.internal"))

    assert "TRUSTED_PROXIES: 'proxy.internal' is not an IP address or network" in message


def test_production_does_not_start_with_metrics_open_by_omission():
    message = refused(start(METRICS_TOKEN=""))

    assert "Set METRICS_TOKEN" in message
    assert "METRICS_PUBLIC=true" in message


def test_production_serves_public_metrics_only_when_it_says_so():
    result = start(METRICS_TOKEN="", METRICS_PUBLIC="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "True"
