"""The API and the probes go without session, user and messages; the site keeps them.

See ``loyalty.middleware``: the answers of the API keep every header they had (security,
language, request id) and never load or set a session; the admin and the profile pages
still have their sessions, CSRF and messages.
"""

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from loyalty.middleware import sessionless
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/orders", True),
        ("/api/v1/members/ann/ledger", True),
        ("/api/v1/schema/", True),
        ("/healthz", True),
        ("/readyz", True),
        ("/metrics", True),
        ("/healthz/more", False),
        ("/api/docs/", False),
        ("/admin/", False),
        ("/profile/shop/", False),
        ("/notifications/unsubscribe/x", False),
    ],
)
def test_only_the_api_and_the_probes_are_sessionless(path, expected):
    assert sessionless(path) is expected


def test_an_api_call_with_a_session_cookie_neither_reads_nor_sets_the_session(api, member):
    session = SessionStore()
    session["anything"] = 1
    session.create()
    api.cookies[settings.SESSION_COOKIE_NAME] = session.session_key

    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"/api/v1/members/{member.external_id}", HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 200
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "_messages")
    assert not [q for q in queries if "django_session" in q["sql"]]
    assert "Set-Cookie" not in response.headers
    assert response.headers["Vary"] == "Accept-Language"
    assert response.headers["Content-Language"] == "es"
    assert len(response.headers["X-Request-ID"]) == 32
    assert SECURITY_HEADERS.items() <= dict(response.headers).items()


def test_an_api_refusal_keeps_its_headers_and_its_language(api):
    response = api.get("/api/v1/members/nobody", HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 404
    assert response.headers["Content-Language"] == "es"
    assert SECURITY_HEADERS.items() <= dict(response.headers).items()
    assert "Set-Cookie" not in response.headers


def test_the_admin_still_signs_in_with_its_session_csrf_and_messages(program):
    staff = StaffFactory(merchant=program.merchant)
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/admin/login/")
    token = page.cookies[settings.CSRF_COOKIE_NAME].value

    signed_in = browser.post(
        "/admin/login/?next=/admin/",
        {"username": staff.username, "password": "pw", "csrfmiddlewaretoken": token},
    )
    admin = browser.get("/admin/")

    assert signed_in.status_code == 302
    assert settings.SESSION_COOKIE_NAME in signed_in.cookies
    assert admin.status_code == 200
    assert admin.wsgi_request.user == staff
    assert SECURITY_HEADERS.items() <= dict(admin.headers).items()
