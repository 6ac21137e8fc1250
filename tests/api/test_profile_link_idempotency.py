"""A shop's profile deep link is a live sign-in secret: never kept for an Idempotency-Key.

Writes keep their first answer for the key's retries (API.md, General), but this
answer would sit in the idempotency table in clear for IDEMPOTENCY_TTL_HOURS and be
handed out again, maybe after it was spent. So every call, a retry with the same key
included, answers a new single-use link, and the table holds nothing of it.
"""

from urllib.parse import urlsplit

import pytest
from django.test import Client

from loyalty.models import IdempotencyRecord, ProfileToken
from tests.factories import MemberFactory

KEY = {"HTTP_IDEMPOTENCY_KEY": "link-1"}


def ask(api, member, **extra):
    return api.post(f"/api/v1/members/{member.external_id}/profile-link", **extra)


def sign_in(url: str) -> int:
    return Client().get(urlsplit(url).path).status_code


@pytest.fixture
def shop(api_for, member):
    return api_for(member.program, "orders")


def test_profile_link_asked_with_an_idempotency_key_is_not_kept(shop, member):
    response = ask(shop, member, **KEY)

    assert response.status_code == 201, response.content
    secret = urlsplit(response.json()["url"]).path
    assert not IdempotencyRecord.objects.exists()
    assert not IdempotencyRecord.objects.filter(response__contains=secret).exists()


def test_retry_with_the_same_idempotency_key_answers_a_new_working_link(shop, member):
    first = ask(shop, member, **KEY).json()["url"]
    assert sign_in(first) == 302

    retry = ask(shop, member, **KEY)

    assert retry.status_code == 201, retry.content
    again = retry.json()["url"]
    assert again != first
    assert sign_in(again) == 302
    assert sign_in(first) == 400
    assert ProfileToken.objects.filter(member=member).count() == 2


def test_same_idempotency_key_for_another_member_answers_that_members_link(shop, member):
    other = MemberFactory(program=member.program)
    ask(shop, member, **KEY)

    response = ask(shop, other, **KEY)

    assert response.status_code == 201, response.content
    assert ProfileToken.objects.filter(member=other).count() == 1


def test_schema_says_a_profile_link_is_never_replayed(shop):
    schema = shop.get("/api/v1/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/members/{external_id}/profile-link"]["post"]
    (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert "no answer is kept" in header["description"]
    assert "never stored for replay" in operation["description"]
    assert "409" not in operation["responses"]
