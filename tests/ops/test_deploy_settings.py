"""Production passes Django's deployment checklist: HTTPS only (the probes aside), HSTS, and
a Content-Security-Policy that runs no inline code but what carries the response's nonce."""

import re

import pytest
from django.test import Client

from tests.ops.production import NONCE, directives, production_settings, run_production

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_https(settings):
    """This process answers with production's HTTPS settings (the rest stays the tests')."""
    for name, value in production_settings()["values"].items():
        if name.startswith("SECURE_"):
            setattr(settings, name, tuple(value) if name == "SECURE_PROXY_SSL_HEADER" else value)


def test_check_deploy_finds_nothing_with_the_production_settings():
    result = run_production("manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_plain_http_is_redirected_to_https(production_https):
    response = Client().get("/admin/login/?next=/admin/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/admin/login/?next=/admin/"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_over_plain_http(production_https, path):
    response = Client().get(path)

    assert response.status_code == 200


def test_https_answers_carry_hsts_for_a_year_with_subdomains(production_https):
    response = Client().get("/healthz", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_a_client_cannot_claim_https_without_the_proxy_header(production_https):
    response = Client().get("/admin/login/", HTTP_X_FORWARDED_PROTO="http")

    assert response.status_code == 301


def test_production_policy_takes_code_only_from_our_origin_or_the_nonce():
    policy = directives(production_settings()["csp"])

    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == f"'self' 'nonce-{NONCE}'"
    assert policy["style-src"] == f"'self' 'nonce-{NONCE}'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in production_settings()["csp"]


def test_every_page_gets_the_policy_and_a_fresh_nonce(client, program):
    url = f"/profile/{program.merchant.slug}/sign-in/"  # inline: the merchant's colours
    first = client.get(url)["Content-Security-Policy"]
    second = client.get(url)["Content-Security-Policy"]

    nonces = [re.search(r"'nonce-([^']+)'", p).group(1) for p in (first, second)]
    assert nonces[0] != nonces[1]
    assert directives(first.replace(nonces[0], NONCE)) == directives(production_settings()["csp"])


def test_production_asks_staff_for_a_second_factor():
    assert production_settings()["values"]["ADMIN_2FA_REQUIRED"] is True
