"""Local mode, as `make run` serves it: DEBUG on (the local settings' default).

What runs only with DEBUG on runs here: Django logs every statement (the kept statements of
``loyalty.sql`` too), and errors are debug pages. Each request starts on a connection it
opens itself, as a web server's thread does; that is where a statement logged before the
connection was open broke every API request in local mode.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from loyalty.models import User
from tests.factories import MemberFactory, ProgramFactory, StaffFactory, api_key_for
from tests.profile.conftest import deep_link_path
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def on_a_new_connection(client, method: str, path: str, **kwargs):
    connection.close()
    response = getattr(client, method)(path, **kwargs)
    return response


def logged(fragment: str) -> bool:
    return any(fragment in query["sql"] for query in connection.queries)


def test_the_api_answers_and_logs_its_statements_with_debug_on(debug):
    program = ProgramFactory()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(program)}")
    order = {"external_id": "A-1", "member": "ann", "amount": "25.00", "currency": "EUR"}

    created = on_a_new_connection(api, "post", "/api/v1/orders", data=order, format="json")
    assert created.status_code == 201, created.content
    assert logged('INSERT INTO "loyalty_order"')  # the storage layer's statements, logged

    batch = {"orders": [{**order, "external_id": f"B-{n}"} for n in range(3)]}
    answered = on_a_new_connection(api, "post", "/api/v1/orders/batch", data=batch, format="json")
    assert answered.status_code == 200, answered.content
    assert [r["status"] for r in answered.json()["results"]] == ["created"] * 3

    for path in ("/api/v1/program", "/api/v1/members/ann", "/api/v1/members/ann/ledger"):
        response = on_a_new_connection(api, "get", path)
        assert response.status_code == 200, (path, response.content)

    coupon = CouponFactory(program=program, member=MemberFactory(program=program))
    check = {"order_amount": str(coupon.min_order_amount + Decimal(10)), "currency": "EUR"}
    valid = on_a_new_connection(
        api, "post", f"/api/v1/coupons/{coupon.code}/validate", data=check, format="json"
    )
    assert valid.status_code == 200, valid.content


def test_an_unknown_api_path_is_the_apis_json_404_not_a_debug_page(debug):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(ProgramFactory())}")

    response = on_a_new_connection(api, "post", "/api/v1/orders/", data={}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_backoffice_answers_with_debug_on(debug):
    program = ProgramFactory()
    member = MemberFactory(program=program)
    client = Client()
    client.force_login(StaffFactory(merchant=program.merchant, role=User.Role.MANAGER))

    for path in (
        "/admin/",
        "/admin/loyalty/member/",
        f"/admin/loyalty/member/{member.pk}/change/",
        "/admin/loyalty/ledgerentry/",
        "/api/docs/",
    ):
        response = on_a_new_connection(client, "get", path)
        assert response.status_code == 200, path


def test_a_page_that_does_not_exist_is_djangos_debug_404(debug):
    response = on_a_new_connection(Client(), "get", "/no-such-page/")

    assert response.status_code == 404
    assert b"Using the URLconf defined in" in response.content  # the debug page, locally


def test_the_profile_page_answers_with_debug_on(debug):
    member = MemberFactory(program=ProgramFactory(), email="ann@example.com")
    client = Client()

    signed_in = on_a_new_connection(client, "get", deep_link_path(member))
    assert signed_in.status_code == 302

    page = on_a_new_connection(client, "get", signed_in["Location"])
    assert page.status_code == 200
    assert member.name.encode() in page.content
