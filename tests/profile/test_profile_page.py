"""The profile page over HTTP: what a signed-in member sees, and only theirs.

Given members with points, coupons and history, when they open /profile/, then the page
shows their balance, progress, expiry, coupons and a page of history, in their language,
in a constant number of queries.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.models import LedgerEntry, Program
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from tests.factories import MemberFactory, ProgramFactory
from tests.rewards.factories import CouponFactory, RewardThresholdFactory

pytestmark = pytest.mark.django_db


def earn(member, count: int, amount: str = "1.00") -> None:
    for n in range(count):
        order_record(
            program=member.program,
            external_id=f"{member.external_id}-o{n}",
            member_external_id=member.external_id,
            amount=Decimal(amount),
            currency="EUR",
        )


def test_signed_out_visitor_sees_no_member_data(client, member):
    response = client.get("/profile/")

    assert response.status_code == 200
    assert b"signed out" in response.content
    assert member.external_id.encode() not in response.content


def test_page_shows_balance_progress_and_history(client, signed_in, program):
    RewardThresholdFactory(program=program, points=2000)
    member = MemberFactory(program=program, name="Ana")
    earn(member, 1, amount="23.40")  # 234 points

    response = signed_in(member).get("/profile/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Hello, Ana" in page
    assert '<span class="balance" data-testid="balance">234</span>' in page
    assert "1,766 points to your next coupon: 10% off" in page
    assert f"#{member.external_id}-o0" in page
    assert program.merchant.name in page
    assert program.merchant.brand_colour in page


def test_active_and_past_coupons_are_listed_with_terms(client, signed_in, member):
    active = CouponFactory(program=member.program, member=member, value=Decimal("15"))
    used = CouponFactory(program=member.program, member=member, status="redeemed")
    lapsed = CouponFactory(program=member.program, member=member, lapsed=True)
    others = CouponFactory(program=member.program)

    page = signed_in(member).get("/profile/").content.decode()

    active_part, _, past_part = page.partition("Used and expired")
    assert active.display_code in active_part
    assert 'data-copy="' + active.display_code in active_part
    assert "15% off" in active_part
    assert used.display_code in past_part
    assert lapsed.display_code in past_part
    assert "expired" in past_part
    assert others.display_code not in page


def test_points_expiring_soon_are_highlighted(client, signed_in, member):
    earn(member, 1)
    type(member).objects.filter(pk=member.pk).update(
        points_expire_at=timezone.now() + timedelta(days=5)
    )

    page = signed_in(member).get("/profile/").content.decode()

    assert 'class="notice warn" data-testid="expiry"' in page
    assert "10 points expire on" in page


def test_points_expiring_later_are_shown_without_alarm(client, signed_in, member):
    earn(member, 1)

    page = signed_in(member).get("/profile/").content.decode()

    assert 'class="notice info" data-testid="expiry"' in page


def older_link(page: str) -> str:
    found = re.search(r'<a href="(\?before=\d+)#history" rel="next"', page)
    assert found, "no Older link"
    return "/profile/" + found.group(1)


def test_history_is_paged_twenty_at_a_time_by_keyset_newest_first(client, signed_in, member):
    earn(member, 45)
    client = signed_in(member)

    first = client.get("/profile/").content.decode()
    second = client.get(older_link(first)).content.decode()
    third = client.get(older_link(second)).content.decode()
    newer = re.search(r'<a href="(\?after=\d+)#history" rel="prev"', third).group(1)
    back = client.get("/profile/" + newer).content.decode()

    assert f"#{member.external_id}-o44:" in first
    assert f"#{member.external_id}-o25:" in first
    assert f"#{member.external_id}-o24:" not in first
    assert 'rel="prev"' not in first  # the newest page has nothing newer
    assert f"#{member.external_id}-o24:" in second
    assert f"#{member.external_id}-o4:" in third
    assert f"#{member.external_id}-o0:" in third
    assert 'rel="next"' not in third  # nothing older than the oldest
    assert f"#{member.external_id}-o24:" in back
    assert f"#{member.external_id}-o5:" in back


@pytest.mark.parametrize("query", ["?before=abc", "?before=-5", "?after=99999999999999999999"])
def test_odd_history_cursors_show_the_newest_page(client, signed_in, member, query):
    earn(member, 3)

    page = signed_in(member).get("/profile/" + query).content.decode()

    assert f"#{member.external_id}-o2:" in page


def test_a_cursor_never_shows_another_members_entries(client, signed_in, program):
    mine, theirs = MemberFactory(program=program), MemberFactory(program=program)
    earn(theirs, 3)
    earn(mine, 1)
    last_theirs = LedgerEntry.objects.filter(member=theirs).order_by("-id").first()

    page = signed_in(mine).get(f"/profile/?before={last_theirs.pk + 10}").content.decode()

    assert theirs.external_id not in page
    assert f"#{mine.external_id}-o0:" in page


def page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/profile/")
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("mode", [Program.ConversionMode.AUTOMATIC, Program.ConversionMode.CHOICE])
def test_page_queries_do_not_grow_with_history_or_coupons(client, signed_in, mode):
    program = ProgramFactory(conversion_mode=mode)
    RewardThresholdFactory(program=program, points=100000)
    small, big = MemberFactory(program=program), MemberFactory(program=program)
    earn(small, 1)
    CouponFactory(program=program, member=small)
    CouponFactory(program=program, member=small, status="redeemed")
    earn(big, 200)
    for _ in range(100):
        CouponFactory(program=program, member=big)
        CouponFactory(program=program, member=big, status="expired")
    assert LedgerEntry.objects.filter(member=big).count() == 200

    small_queries = page_queries(signed_in(small))
    big_queries = page_queries(signed_in(big))

    assert small_queries == big_queries
    assert big_queries <= 12


def test_page_follows_the_members_language_with_localized_numbers(client, signed_in, program):
    RewardThresholdFactory(program=program, points=5000)
    member = MemberFactory(program=program, locale="es")
    earn(member, 1, amount="123.40")  # 1234 points

    response = signed_in(member).get("/profile/")

    page = response.content.decode()
    assert response["Content-Language"] == "es"
    assert '<html lang="es">' in page
    assert "Tu saldo" in page
    assert ">1\N{NO-BREAK SPACE}234<" in page  # Spanish groups thousands with a space
    assert "Pedido #" in page  # the history line, in Spanish, with its calculation


def test_browser_language_is_used_when_the_members_locale_is_not_ours(client, signed_in, program):
    member = MemberFactory(program=program, locale="de")

    response = signed_in(member).get("/profile/", HTTP_ACCEPT_LANGUAGE="ru")

    assert response["Content-Language"] == "ru"


def test_language_switcher_changes_the_page_and_remembers_it_for_the_member(
    client, signed_in, member
):
    client = signed_in(member)

    response = client.post("/profile/language/", {"language": "tr", "next": "/profile/"})
    page = client.get("/profile/")

    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    member.refresh_from_db()
    assert member.locale == "tr"
    assert page["Content-Language"] == "tr"


def test_language_switcher_refuses_foreign_redirects_and_unknown_languages(client, member):
    response = client.post("/profile/language/", {"language": "xx", "next": "https://evil.test/"})

    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    member.refresh_from_db()
    assert member.locale == "en"


def test_email_consent_can_be_turned_off_and_on(client, signed_in, member):
    client = signed_in(member)

    client.post("/profile/notifications/", {})
    member.refresh_from_db()
    off = member.consent_email
    client.post("/profile/notifications/", {"email": "on"})
    member.refresh_from_db()

    assert off is False
    assert member.consent_email is True


def choice_member(points: int):
    program = ProgramFactory(conversion_mode=Program.ConversionMode.CHOICE)
    RewardThresholdFactory(program=program, points=100)
    member = MemberFactory(program=program)
    points_grant(program=program, member_external_id=member.external_id, points=points, reason="x")
    return member


def test_claiming_asks_first_and_spends_nothing_until_confirmed(client, signed_in):
    member = choice_member(150)
    client = signed_in(member)
    assert "Claim</button>" in client.get("/profile/").content.decode()

    # The Claim button only opens the confirmation (a GET), with what it costs.
    asked = client.get("/profile/?claim=100").content.decode()
    # A claim posted without the confirmation (an old page, a crafted form) only asks.
    unconfirmed = client.post("/profile/rewards/claim/", {"threshold": "100"})

    member.refresh_from_db()
    assert 'data-testid="claim-confirm"' in asked
    assert "This spends 100 points: your balance goes down to 50." in asked
    assert 'name="confirmed" value="yes"' in asked
    assert unconfirmed.status_code == 302
    assert unconfirmed["Location"] == "/profile/?claim=100#rewards"
    assert member.balance == 150
    assert not member.coupons.exists()


@pytest.mark.parametrize("asked", ["500", "abc", "99"])
def test_no_confirmation_for_a_reward_that_cannot_be_claimed(client, signed_in, asked):
    member = choice_member(150)

    page = signed_in(member).get(f"/profile/?claim={asked}").content.decode()

    assert 'data-testid="claim-confirm"' not in page


def test_a_choice_member_claims_a_reward_once_confirmed_and_sees_the_result_first(
    client, signed_in
):
    member = choice_member(150)
    client = signed_in(member)

    response = client.post("/profile/rewards/claim/", {"threshold": "100", "confirmed": "yes"})
    page = client.get(response["Location"]).content.decode()

    member.refresh_from_db()
    assert member.balance == 50
    coupon = member.coupons.get()
    # The page opens at the message (the top), not down at the coupons.
    assert response["Location"] == "/profile/#messages"
    assert 'id="messages"' in page
    assert f"Your coupon {coupon.display_code} is ready to use." in page


def test_claiming_more_than_the_balance_changes_nothing(client, signed_in):
    member = choice_member(40)

    response = signed_in(member).post(
        "/profile/rewards/claim/", {"threshold": "100", "confirmed": "yes"}, follow=True
    )

    member.refresh_from_db()
    assert member.balance == 40
    assert not member.coupons.exists()
    assert "cannot be taken" in response.content.decode()


def test_every_member_view_needs_a_signed_in_member(client, member):
    for path in ("/profile/notifications/", "/profile/rewards/claim/"):
        response = client.post(path, {"email": "on", "threshold": "100"})
        assert response.status_code == 302
        assert response["Location"] == "/profile/"
    response = client.post("/profile/push/subscribe/", "{}", content_type="application/json")
    assert response.status_code == 401


def test_push_toggle_is_left_out_while_push_is_not_configured(client, signed_in, member, settings):
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    client = signed_in(member)
    page = client.get("/profile/").content.decode()
    subscribe = client.post(
        "/profile/push/subscribe/", {"endpoint": "x"}, content_type="application/json"
    )

    assert "data-push-toggle" not in page
    assert subscribe.status_code == 404
    assert subscribe.json()["code"] == "push_unavailable"


NBSP = "\N{NO-BREAK SPACE}"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("en", f"1,234.50{NBSP}EUR"), ("es", f"1{NBSP}234,50{NBSP}EUR"), ("tr", f"1.234,50{NBSP}EUR")],
)
def test_money_on_pages_follows_the_language(lang, expected):
    from django.utils import translation

    from loyalty.money import format_money_localized

    with translation.override(lang):
        assert format_money_localized(Decimal("1234.5"), "EUR") == expected


def test_tier_and_pending_points_are_shown_when_the_summary_has_them(
    client, signed_in, member, monkeypatch
):
    """Tiers and pending points come from other features through member_summary's keys
    (INTERFACES.md); the page shows them when present and is whole without them."""
    from loyalty.profile import selectors

    real = selectors.member_summary
    now = timezone.now()

    def with_tiers(*, member):
        return {
            **real(member=member),
            "tier": {
                "name": "Gold",
                "badge": "#d4af37",
                "benefits": ["Double points on Tuesdays"],
                "flags": [],
                "earn_multiplier": Decimal("1.5"),
                "since": now - timedelta(days=10),
                "safe_until": None,
                "keep": {"points_needed": 120, "by": (now + timedelta(days=20)).date()},
            },
            "next_tier": {
                "name": "Platinum",
                "min_points": 1000,
                "points_missing": 750,
                "window_points": 250,
            },
            "pending_points": 40,
            "pending_until": now + timedelta(days=14),
        }

    monkeypatch.setattr(selectors, "member_summary", with_tiers)

    page = signed_in(member).get("/profile/").content.decode()

    assert '<span class="badge" data-testid="tier">Gold</span>' in page
    assert "Double points on Tuesdays" in page
    assert "Earn 120 more points by" in page
    assert "750 points to Platinum" in page
    assert 'aria-valuenow="25"' in page
    assert "40 points on their way" in page


def test_without_tier_data_the_tier_card_is_left_out(client, signed_in, member):
    page = signed_in(member).get("/profile/").content.decode()

    assert "Your tier" not in page


def contrast(a: str, b: str) -> float:
    def luminance(hex_colour: str) -> float:
        rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(
    "brand", ["#0f766e", "#facc15", "#7c2d12", "#ffffff", "#000000", "#3b82f6", "#e11d48"]
)
def test_text_on_the_brand_colour_keeps_a_readable_contrast(brand):
    from loyalty.templatetags.profile_format import on_colour, text_colour

    assert contrast(brand, on_colour(brand)) >= 4.5  # WCAG AA for normal text
    assert contrast(text_colour(brand), "#ffffff") >= 4.5


def test_brand_colour_must_be_a_hex_colour(program):
    from django.core.exceptions import ValidationError

    program.merchant.brand_colour = "red; background: url(x)"
    with pytest.raises(ValidationError):
        program.merchant.full_clean()
