"""The profile page shows a perk's uses left in the current period (the coupon list's
``profile/_coupon_uses.html`` partial), in the member's language."""

from decimal import Decimal

import pytest
from django.utils import timezone, translation

from rewards.models import Redemption
from tests.factories import MemberFactory
from tests.profile.conftest import deep_link_path
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    settings.PROFILE_SIGNIN_KEY_PREFIX = f"profile-signin-allowance-{timezone.now().timestamp()}"


@pytest.fixture(autouse=True)
def _language_restored():
    """The member's page activates their language in this thread: the next test gets ours."""
    with translation.override(translation.get_language()):
        yield


def page_of(client, member) -> str:
    assert client.get(deep_link_path(member)).status_code == 302
    return client.get("/profile/").content.decode()


def perk(member, **more):
    coupon = CouponFactory(
        program=member.program, member=member, uses_allowed=8, allowance_uses=2,
        allowance_period="quarter", uses_count=1, **more,
    )  # fmt: skip
    Redemption.objects.create(
        coupon=coupon, order_reference="O-1", order_amount=Decimal(50), discount=Decimal(5)
    )
    return coupon


def test_a_perk_shows_its_uses_left_this_quarter(client, program):
    member = MemberFactory(program=program)
    perk(member)
    CouponFactory(program=program, member=member)  # a plain coupon: no allowance line

    page = page_of(client, member)

    assert page.count('data-testid="coupon-allowance"') == 1
    assert "uses left this quarter: 1 of 2" in page


def test_the_uses_left_read_in_the_members_language(client, program):
    member = MemberFactory(program=program, locale="ru")
    perk(member)

    page = page_of(client, member)

    assert "осталось использований в этом квартале: 1 из 2" in page
