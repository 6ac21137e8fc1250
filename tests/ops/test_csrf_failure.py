"""A form refused by the CSRF check answers with a page in the look of where it came from
(the admin's, or the customer's profile page with the shop's colours), in the user's
language, saying what happened and what to do: with DEBUG on (local) and in production."""

import json
import textwrap

import pytest
from django.test import Client
from django.utils import translation

from loyalty.csrf import COOKIES, COOKIES_FIRST, EXPLANATION, RELOAD, TITLE
from loyalty.models import User
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.ops.production import run_production
from tests.profile.conftest import deep_link_path

pytestmark = pytest.mark.django_db

DJANGOS_OWN = "CSRF verification failed"


def words(language: str, *texts) -> list[str]:
    with translation.override(language):
        return [str(text) for text in texts]


def strict() -> Client:
    return Client(enforce_csrf_checks=True)


def signed_in(member) -> Client:
    """A browser signed in as ``member`` (its deep link) whose forms are CSRF-checked."""
    client = strict()
    assert client.get(deep_link_path(member)).status_code == 302
    assert client.get("/profile/").status_code == 200  # the page sets the CSRF cookie
    return client


def test_a_stale_admin_form_gets_the_admins_page_with_what_to_do():
    program = ProgramFactory()
    client = strict()
    client.force_login(StaffFactory(merchant=program.merchant, role=User.Role.MANAGER))
    client.get("/admin/")  # the page sets the cookie; the form sent carries an old token
    referer = "http://testserver/admin/loyalty/member/"

    response = client.post(
        "/admin/loyalty/member/", {"csrfmiddlewaretoken": "x" * 64}, HTTP_REFERER=referer
    )

    assert response.status_code == 403
    html = response.content.decode()
    assert DJANGOS_OWN not in html
    assert 'id="refusal"' in html
    assert 'id="user-tools"' in html
    assert 'id="site-name"' in html
    for text in words("en", TITLE, EXPLANATION, RELOAD, COOKIES):
        assert text in html
    assert f'href="{referer}" class="button" id="refusal-back"' in html


@pytest.mark.parametrize("language", ["es", "ru", "tr"])
def test_the_admins_sign_in_without_a_cookie_says_so_in_the_staff_members_language(language):
    response = strict().post(
        "/admin/login/?next=/admin/",
        {"username": "ann", "password": "pw"},
        HTTP_ACCEPT_LANGUAGE=language,
    )

    assert response.status_code == 403
    html = response.content.decode()
    title, explanation, cookies = words(language, TITLE, EXPLANATION, COOKIES_FIRST)
    assert title != words("en", TITLE)[0]  # translated
    assert title in html
    assert explanation in html
    assert cookies in html
    assert f'lang="{language}"' in html


def test_a_members_stale_form_gets_the_profiles_page_in_the_members_language():
    program = ProgramFactory(merchant__name="Café Sol", merchant__brand_colour="#aa3300")
    member = MemberFactory(program=program, locale="es")
    client = signed_in(member)

    response = client.post(
        "/profile/rewards/claim/", {"csrfmiddlewaretoken": "x" * 64}, HTTP_ACCEPT_LANGUAGE="tr"
    )

    assert response.status_code == 403
    assert response["Content-Language"] == "es"
    html = response.content.decode()
    assert DJANGOS_OWN not in html
    assert 'id="csrf-failed"' in html
    assert "Café Sol" in html
    assert "--brand: #aa3300" in html
    for text in words("es", TITLE, EXPLANATION, RELOAD, COOKIES):
        assert text in html


def test_the_sign_in_page_without_a_cookie_is_the_shops_page_and_says_cookies():
    program = ProgramFactory(merchant__name="Café Sol")
    slug = program.merchant.slug

    response = strict().post(
        f"/profile/{slug}/sign-in/", {"email": "a@example.com"}, HTTP_ACCEPT_LANGUAGE="ru"
    )

    assert response.status_code == 403
    html = response.content.decode()
    assert "Café Sol" in html
    (cookies,) = words("ru", COOKIES_FIRST)
    assert cookies in html
    assert f'href="/profile/{slug}/sign-in/"' in html  # back to the form


def test_the_push_toggle_gets_a_json_error_its_script_shows():
    member = MemberFactory(locale="tr")
    client = signed_in(member)

    response = client.post("/profile/push/subscribe/", data="{}", content_type="application/json")

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "csrf_failed"
    (reload,) = words("tr", RELOAD)
    assert reload in body["detail"]


def test_with_debug_on_the_page_is_ours_and_adds_djangos_reason(settings):
    settings.DEBUG = True

    admin = strict().post("/admin/login/", {"username": "ann", "password": "pw"})
    profile = strict().post("/profile/language/", {"language": "es"})

    for response in (admin, profile):
        assert response.status_code == 403
        html = response.content.decode()
        assert DJANGOS_OWN not in html
        assert str(TITLE) in html
        assert "CSRF cookie not set." in html  # Django's reason, for the developer
    assert 'id="refusal"' in admin.content.decode()
    assert 'id="csrf-failed"' in profile.content.decode()


def test_without_debug_djangos_reason_is_not_shown():
    response = strict().post("/admin/login/", {"username": "ann", "password": "pw"})

    assert "CSRF cookie not set." not in response.content.decode()


PRODUCTION_REQUESTS = textwrap.dedent(
    """
    import json
    import django
    django.setup()
    from django.test import Client
    client = Client(enforce_csrf_checks=True, HTTP_HOST="loyalty.example.com",
                    HTTP_X_FORWARDED_PROTO="https", HTTP_ACCEPT_LANGUAGE="es")
    answers = {}
    for path in ("/admin/login/", "/profile/language/"):
        response = client.post(
            path,
            {"username": "ann", "password": "pw", "language": "en"},
            HTTP_REFERER="https://loyalty.example.com" + path,
        )
        answers[path] = [response.status_code, response.content.decode()]
    print(json.dumps(answers))
    """
)


def test_production_answers_a_refused_form_with_the_same_pages(tmp_path):
    """In production's own process (DEBUG off, HTTPS, manifest static files collected)."""
    static = str(tmp_path / "static")
    collected = run_production("manage.py", "collectstatic", "--noinput", static_root=static)
    assert collected.returncode == 0, collected.stderr

    result = run_production("-c", PRODUCTION_REQUESTS, static_root=static)

    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    title, explanation, cookies = words("es", TITLE, EXPLANATION, COOKIES_FIRST)
    for path, marker in (("/admin/login/", 'id="refusal"'), ("/profile/language/", "csrf-failed")):
        status, html = answers[path]
        assert status == 403, (path, html[:500])
        assert marker in html
        assert title in html
        assert explanation in html
        assert cookies in html
        assert DJANGOS_OWN not in html
        assert "CSRF cookie not set." not in html
        assert f'href="https://loyalty.example.com{path}"' in html  # back to the form
