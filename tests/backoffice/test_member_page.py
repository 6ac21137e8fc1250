"""A member's page in the backoffice: the points block above the profile form, a second page
before a big grant or deduction, messages that agree with the page, the language a choice."""

import uuid

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from loyalty.models import LedgerEntry, Member, Program
from tests.factories import MemberFactory
from tests.rewards.factories import RewardThresholdFactory

pytestmark = pytest.mark.django_db


def points_url(member: Member) -> str:
    return reverse("admin:loyalty_member_points", args=[member.pk])


def page_url(member: Member) -> str:
    return reverse("admin:loyalty_member_change", args=[member.pk])


def points_data(points: int, **extra) -> dict:
    return {
        "action": "grant" if points > 0 else "deduct",
        "points": str(abs(points)),
        "reason": "Goodwill",
        "idempotency_key": str(uuid.uuid4()),
        **extra,
    }


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def member(shop: Program) -> Member:
    member = MemberFactory(program=shop, external_id="cus-1")
    Member.objects.filter(pk=member.pk).update(balance=250)
    member.refresh_from_db()
    return member


def test_the_points_block_comes_before_the_profile_form(member, staff_client):
    _user, client = staff_client(member.program)

    page = client.get(page_url(member)).content.decode()

    points, profile = page.index('id="points_form"'), page.index('id="member_form"')
    assert points < profile
    assert page.index('id="ledger"') > profile  # the history below
    assert 'id="points-balance">250<' in page


def test_a_grant_above_the_programs_amount_asks_first(member, staff_client):
    _user, client = staff_client(member.program)

    response = client.post(points_url(member), points_data(100_000_000))

    page = response.content.decode()
    assert response.status_code == 200
    assert not LedgerEntry.objects.filter(member=member).exists()
    assert "Grant 100,000,000 points to this member?" in page
    assert "The balance would be 100,000,250" in page
    assert "more than 10,000 points" in page
    assert 'name="confirmed_points" value="100000000"' in page
    assert 'id="points-confirm-button"' in page


def test_the_confirmed_grant_applies_once(member, staff_client):
    _user, client = staff_client(member.program)
    data = points_data(20_000)
    client.post(points_url(member), data)

    response = client.post(points_url(member), {**data, "confirmed_points": "20000"})
    again = client.post(points_url(member), {**data, "confirmed_points": "20000"})

    assert response.status_code == again.status_code == 302
    member.refresh_from_db()
    assert member.balance == 20_250
    assert LedgerEntry.objects.filter(member=member).count() == 1
    assert "Granted 20,000 points. New balance: 20,250." in messages_of(response)


def test_a_changed_amount_is_confirmed_again(member, staff_client):
    """A confirmation holds for the amount shown, not for one typed after it."""
    _user, client = staff_client(member.program)

    response = client.post(points_url(member), points_data(90_000, confirmed_points="20000"))

    assert "Grant 90,000 points to this member?" in response.content.decode()
    assert not LedgerEntry.objects.filter(member=member).exists()


def test_a_confirmed_grant_does_not_confirm_a_deduction(member, staff_client):
    _user, client = staff_client(member.program)
    Member.objects.filter(pk=member.pk).update(balance=50_000)

    response = client.post(points_url(member), points_data(-20_000, confirmed_points="20000"))

    assert "Deduct 20,000 points from this member?" in response.content.decode()
    assert not LedgerEntry.objects.filter(member=member).exists()


def test_the_program_sets_the_amount(member, staff_client):
    Program.objects.filter(pk=member.program_id).update(grant_confirmation_points=50)
    _user, client = staff_client(member.program)

    asked = client.post(points_url(member), points_data(60))
    applied = client.post(points_url(member), points_data(50))

    assert "Grant 60 points to this member?" in asked.content.decode()
    assert applied.status_code == 302
    assert LedgerEntry.objects.filter(member=member).get().points == 50


def test_a_small_grant_applies_at_once(member, staff_client):
    _user, client = staff_client(member.program)

    response = client.post(points_url(member), points_data(9_999))

    assert response.status_code == 302
    assert messages_of(response) == ["Granted 9,999 points. New balance: 10,249."]


def test_the_message_says_the_balance_after_the_reward_it_set_off(member, staff_client):
    """A grant that reaches a reward threshold turns points into a coupon at once: the
    message says the balance the page shows, not the grant's own balance_after."""
    RewardThresholdFactory(program=member.program, points=1_000)
    _user, client = staff_client(member.program)

    response = client.post(points_url(member), points_data(5_000))

    member.refresh_from_db()
    assert member.balance == 250
    assert messages_of(response) == [
        "Granted 5,000 points. New balance: 250. 5 reward coupons were issued from them."
    ]
    page = client.get(page_url(member)).content.decode()
    assert 'id="points-balance">250<' in page


def test_confirming_for_another_merchants_member_changes_nothing(member, other_shop, staff_client):
    _user, client = staff_client(other_shop)

    response = client.post(points_url(member), points_data(20_000, confirmed_points="20000"))

    assert response.status_code == 404
    assert not LedgerEntry.objects.filter(member=member).exists()


def test_a_viewer_cannot_reach_the_confirmation(member, staff_client):
    _user, client = staff_client(member.program, "viewer")

    response = client.post(points_url(member), points_data(20_000, confirmed_points="20000"))

    assert response.status_code == 403
    assert "You may not do this" in response.content.decode()
    assert not LedgerEntry.objects.filter(member=member).exists()


def profile_data(member: Member, **changes) -> dict:
    data = {"email": member.email, "name": member.name, "locale": member.locale}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_language_is_a_choice_of_the_programs_languages(member, staff_client):
    _user, client = staff_client(member.program)

    page = client.get(page_url(member)).content.decode()

    assert '<select name="locale"' in page
    for code in ("en", "es", "ru", "tr"):
        assert f'<option value="{code}"' in page


def test_a_language_is_saved_and_another_refused_by_the_field(member, staff_client):
    _user, client = staff_client(member.program)

    refused = client.post(page_url(member), profile_data(member, locale="xx"))
    member.refresh_from_db()
    assert refused.status_code == 200
    assert member.locale == "en"
    assert "field-locale" in refused.content.decode()
    assert refused.context["adminform"].form.errors["locale"]

    client.post(page_url(member), profile_data(member, locale="tr"))
    member.refresh_from_db()
    assert member.locale == "tr"


def test_a_members_unknown_language_is_shown_not_swapped_silently(member, staff_client):
    """An old row's code the program does not speak shows as it is (not as the first
    choice, which a save would write unasked); saving asks for one of the program's."""
    Member.objects.filter(pk=member.pk).update(locale="de")
    member.refresh_from_db()
    _user, client = staff_client(member.program)

    page = client.get(page_url(member)).content.decode()
    refused = client.post(page_url(member), profile_data(member, name="Renamed"))

    assert '<option value="de" selected>' in page
    assert refused.context["adminform"].form.errors["locale"]
    member.refresh_from_db()
    assert member.name != "Renamed"
