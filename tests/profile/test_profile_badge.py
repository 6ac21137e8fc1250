"""The public badge card from the profile page: the member turns it on (and gets its
unguessable link, with a copy button) or off (the link then shows nothing), only for
themselves, without adding queries to the page; offered only by a tier flagged
``badge_card`` (Platinum and Diamond by default)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from loyalty.models import Member, Tier
from loyalty.services.tier_settings import tiers_seed_defaults
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(program):
    """A Platinum member: the default tier that offers the badge card."""
    tiers_seed_defaults(program=program)
    return MemberFactory(program=program, tier=Tier.objects.get(program=program, name="Platinum"))


def test_a_tier_without_the_flag_offers_no_card_and_refuses_turning_it_on(signed_in, program):
    tiers_seed_defaults(program=program)
    gold = MemberFactory(program=program, tier=Tier.objects.get(program=program, name="Gold"))
    client = signed_in(gold)

    assert 'id="badge-title"' not in client.get("/profile/").content.decode()
    response = client.post("/profile/badge/", {"enabled": "on"})

    assert response.status_code == 302
    assert not Member.objects.get(pk=gold.pk).badge_enabled
    assert "Your tier does not include a badge card." in client.get("/profile/").content.decode()


def test_a_member_without_a_tier_gets_no_card(signed_in, program):
    plain = MemberFactory(program=program)

    signed_in(plain).post("/profile/badge/", {"enabled": "on"})

    assert not Member.objects.get(pk=plain.pk).badge_enabled


def test_a_card_left_on_after_losing_the_tier_can_still_be_turned_off(signed_in, member):
    client = signed_in(member)
    client.post("/profile/badge/", {"enabled": "on"})
    Member.objects.filter(pk=member.pk).update(tier=None)

    assert "Turn off my badge card" in client.get("/profile/").content.decode()
    client.post("/profile/badge/", {"enabled": "off"})

    assert not Member.objects.get(pk=member.pk).badge_enabled


def card_path(member) -> str:
    return f"/badge/{Member.objects.get(pk=member.pk).badge_token}/"


def test_the_card_is_off_until_the_member_turns_it_on(signed_in, member):
    page = signed_in(member).get("/profile/").content.decode()

    assert 'id="badge-title">Your badge card<' in page
    assert "Turn on my badge card" in page
    assert "testserver/badge/" not in page


def test_turning_it_on_shows_the_public_link_with_a_copy_button(signed_in, member):
    client = signed_in(member)

    response = client.post("/profile/badge/", {"enabled": "on"})

    assert response.status_code == 302
    assert response["Location"] == "/profile/#badge"
    member.refresh_from_db()
    assert member.badge_enabled
    assert len(member.badge_token) >= 32
    url = f"http://testserver/badge/{member.badge_token}/"
    page = client.get("/profile/").content.decode()
    assert "Your badge card is on: anyone with its link can see it." in page
    assert f'data-testid="badge-url" target="_blank" rel="noopener">{url}</a>' in page
    assert f'data-copy="{url}"' in page
    assert 'aria-label="Copy the link of your badge card"' in page
    assert "Turn off my badge card" in page
    assert Client().get(card_path(member)).status_code == 200


def test_turning_it_off_hides_the_link_and_the_public_page(signed_in, member):
    client = signed_in(member)
    client.post("/profile/badge/", {"enabled": "on"})
    path = card_path(member)

    client.post("/profile/badge/", {"enabled": "off"})

    page = client.get("/profile/").content.decode()
    assert "Your badge card is off: its link shows nothing." in page
    assert path not in page
    assert Client().get(path).status_code == 404
    client.post("/profile/badge/", {"enabled": "on"})
    assert card_path(member) == path  # on again: the same address


def test_a_member_only_turns_their_own_card(signed_in, member):
    other = MemberFactory(program=member.program)

    signed_in(member).post("/profile/badge/", {"enabled": "on", "member": other.pk})

    other.refresh_from_db()
    assert not other.badge_enabled
    assert not other.badge_token
    assert Member.objects.get(pk=member.pk).badge_enabled


def test_signed_out_visitors_cannot_turn_a_card_on(client, member):
    response = client.post("/profile/badge/", {"enabled": "on"})

    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    assert not Member.objects.get(pk=member.pk).badge_enabled


def test_the_toggle_takes_only_csrf_protected_posts(signed_in, member):
    assert signed_in(member).get("/profile/badge/").status_code == 405
    strict = signed_in(member, on=Client(enforce_csrf_checks=True))

    assert strict.post("/profile/badge/", {"enabled": "on"}).status_code == 403
    assert not Member.objects.get(pk=member.pk).badge_enabled


def test_the_section_is_translated(signed_in, member):
    Member.objects.filter(pk=member.pk).update(locale="ru")

    page = signed_in(member).get("/profile/").content.decode()

    assert "Ваша карта участника" in page


def test_the_card_adds_no_query_to_the_page(signed_in, member, django_assert_num_queries):
    client = signed_in(member)
    with CaptureQueriesContext(connection) as off:
        client.get("/profile/")
    off_count = len(off)  # read now: the next request clears Django's query log
    client.post("/profile/badge/", {"enabled": "on"})
    client.get("/profile/")  # shows (and so removes) the message, which saves the session

    with django_assert_num_queries(off_count):
        response = client.get("/profile/")

    assert "testserver/badge/" in response.content.decode()


def test_the_toggle_takes_a_fixed_number_of_queries(signed_in, member, django_assert_num_queries):
    client = signed_in(member)
    client.post("/profile/badge/", {"enabled": "on"})

    # The session, the member (with its program), the update, and the session saved (with
    # the message) inside a savepoint.
    with django_assert_num_queries(6):
        client.post("/profile/badge/", {"enabled": "off"})
