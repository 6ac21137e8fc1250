"""The profile page explains itself (issue #20): why a balance is negative, how the program
works, each history line with its calculation in the member's language and the order's
date, dates written each language's way, the sign-in email in the member's language, the
referral link, and a page whose queries do not grow with the history."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.models import EarningRule, LedgerEntry, Member, Program, Tier
from loyalty.services.orders import order_record
from loyalty.services.profile_access import signin_email_send
from loyalty.services.refunds import refund_record
from loyalty.services.tier_settings import tiers_seed_defaults
from tests.factories import MemberFactory, ProgramFactory
from tests.profile.conftest import sign_in_link
from tests.rewards.factories import RewardThresholdFactory

pytestmark = pytest.mark.django_db


def order(member, n: int, amount: str = "1.00", **fields) -> None:
    order_record(
        program=member.program,
        external_id=f"{member.external_id}-o{n}",
        member_external_id=member.external_id,
        amount=Decimal(amount),
        currency="EUR",
        **fields,
    )


def page_of(signed_in, member, path: str = "/profile/") -> str:
    response = signed_in(member).get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_a_negative_balance_says_why_and_what_happens_next(signed_in, program):
    RewardThresholdFactory(program=program, points=100)
    member = MemberFactory(program=program)
    order(member, 1, amount="10.00")  # 100 points, at once a coupon: balance 0
    refund_record(
        program=program,
        order_external_id=f"{member.external_id}-o1",
        external_id="r1",
        amount=Decimal("10.00"),
    )
    member.refresh_from_db()
    assert member.balance == -100

    page = page_of(signed_in, member)

    assert 'class="balance negative"' in page
    assert '<span class="balance-unit">points</span>' in page
    assert "a refund took back points that had already become a coupon" in page
    assert "Your next orders fill this gap first" in page
    assert "Refund of 10.00\N{NO-BREAK SPACE}EUR on order #" in page


def test_a_positive_balance_has_no_refund_explanation(signed_in, member):
    order(member, 1)

    page = page_of(signed_in, member)

    assert 'data-testid="negative-balance"' not in page
    assert 'class="balance"' in page


def test_how_it_works_tells_the_programs_own_rules(signed_in):
    program = ProgramFactory(
        earn_rate=Decimal("10"), points_validity_days=180, earn_on_shipping=False
    )
    RewardThresholdFactory(program=program, points=5000)
    tiers_seed_defaults(program=program)
    member = MemberFactory(program=program)

    page = page_of(signed_in, member)

    assert "How it works" in page
    assert "You earn 10 points for every 1.00\N{NO-BREAK SPACE}EUR you spend" in page
    assert "Shipping does not earn points." in page
    assert "Points are valid 180 days after your last order: each order resets it" in page
    # Automatic mode lists its rewards too, and says they come by themselves.
    assert "5,000 points: 10% off" in page
    assert "your points turn into a coupon by themselves" in page
    ladder = page[page.index('data-testid="how-tiers"') :]
    assert ladder.index("Gold") < ladder.index("Platinum") < ladder.index("Diamond")
    assert "200 points earned within 90 days" in ladder
    assert "Your order points × 1.1" in ladder


@pytest.mark.parametrize(
    ("rate", "locale", "said"),
    [
        ("1", "en", "You earn 1 point for every"),
        ("1.5", "en", "You earn 1.5 points for every"),
        ("1", "es", "Ganas 1 punto por cada"),
        ("2", "es", "Ganas 2 puntos por cada"),
    ],
)
def test_the_earn_rate_takes_the_plural_of_its_number(signed_in, rate, locale, said):
    member = MemberFactory(program=ProgramFactory(earn_rate=Decimal(rate)), locale=locale)
    assert said in page_of(signed_in, member)


def test_how_it_works_follows_other_settings(signed_in):
    program = ProgramFactory(
        points_validity_days=None,
        conversion_mode=Program.ConversionMode.CHOICE,
        earn_on_shipping=True,
    )
    RewardThresholdFactory(program=program, points=300)
    member = MemberFactory(program=program)

    page = page_of(signed_in, member)

    assert "Your points never expire." in page
    assert "Shipping earns points." in page
    assert "you choose a reward and claim it on this page" in page
    assert 'data-testid="how-tiers"' not in page


def test_history_line_shows_the_calculation_from_the_entrys_details(signed_in, program):
    tiers = tiers_seed_defaults(program=program)
    member = MemberFactory(program=program, tier=tiers[-1])  # Diamond, x2
    order(member, 7, amount="154.50")

    page = page_of(signed_in, member)

    expected = (
        f"Order #{member.external_id}-o7: 154.50\N{NO-BREAK SPACE}EUR × 10 points per EUR "
        "× 2 for your tier Diamond = 3,090 points"
    )
    assert expected in page


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("es", "Pedido #{id}-o7: 154,50\N{NO-BREAK SPACE}EUR × 10 puntos por EUR"),
        ("ru", "Заказ #{id}-o7: 154,50\N{NO-BREAK SPACE}EUR × 10 (баллов за EUR)"),
        ("tr", "Sipariş #{id}-o7: 154,50\N{NO-BREAK SPACE}EUR × EUR başına 10 puan"),
    ],
)
def test_history_lines_are_in_the_members_language_with_the_calculation(
    signed_in, program, locale, expected
):
    member = MemberFactory(program=program, locale=locale)
    order(member, 7, amount="154.50")

    page = page_of(signed_in, member)

    assert expected.format(id=member.external_id) in page
    entry = LedgerEntry.objects.get(member=member)
    assert entry.reason not in page  # not the English text stored for staff


def test_history_and_dates_show_the_orders_day_not_the_day_it_was_written(signed_in, member):
    placed = timezone.now() - timedelta(days=400)
    order(member, 1, placed_at=placed)

    page = page_of(signed_in, member)

    assert f'<td class="when">{placed:%B} {placed.day}, {placed.year}</td>' in page


@pytest.mark.parametrize(
    ("locale", "pattern"),
    [
        ("ru", r"\d{1,2} [а-я]+ \d{4}</td>"),
        ("es", r"\d{1,2} de [a-z]+ de \d{4}</td>"),
        ("tr", r"\d{1,2} [A-Za-zÇĞİÖŞÜçğıöşü]+ \d{4}</td>"),
    ],
)
def test_dates_are_written_each_languages_way(signed_in, program, locale, pattern):
    member = MemberFactory(program=program, locale=locale)
    order(member, 1)

    page = page_of(signed_in, member)

    assert re.search(r'<td class="when">' + pattern, page)
    assert "г." not in page


def test_badge_card_member_since_is_the_first_orders_day(client, signed_in, member):
    tiers_seed_defaults(program=member.program)  # Platinum's perk: the badge card
    Member.objects.filter(pk=member.pk).update(
        tier=Tier.objects.get(program=member.program, name="Platinum")
    )
    placed = timezone.now() - timedelta(days=700)
    order(member, 1, placed_at=placed)
    signed_in(member).post("/profile/badge/", {"enabled": "on"})
    member.refresh_from_db()

    card = client.get(f"/badge/{member.badge_token}/").content.decode()

    assert f"{placed:%B} {placed.day}, {placed.year}" in card


def test_sign_in_email_goes_out_in_the_members_language(program):
    MemberFactory(program=program, email="ana@example.com", locale="es")
    MemberFactory(program=program, email="bob@example.com", locale="de")

    signin_email_send(program=program, email="ana@example.com", language="en")
    signin_email_send(program=program, email="bob@example.com", language="tr")

    ana, bob = mail.outbox
    assert "Abre este enlace" in ana.body or "Abre" in ana.body
    assert "Open this link" not in ana.body
    # A language we do not speak: the asking browser's.
    assert "Open this link" not in bob.body
    assert bob.body != ana.body


def test_the_sign_in_confirmation_offers_no_sign_out(client, program):
    MemberFactory(program=program, email="ana@example.com")
    signin_email_send(program=program, email="ana@example.com", language="en")

    page = client.get(sign_in_link("ana@example.com")).content.decode()

    assert "Sign in to your points" in page
    assert "Sign out" not in page


def referral_program():
    program = ProgramFactory()
    EarningRule.objects.create(
        program=program,
        kind=EarningRule.Kind.REFERRAL,
        name="Friends",
        parameters={"referrer_points": 500, "referred_points": 250},
    )
    return program


def test_a_referral_rule_gives_the_member_a_link_to_copy_and_share(client, signed_in):
    program = referral_program()
    member = MemberFactory(program=program)

    page = page_of(signed_in, member)
    url = f"http://testserver/profile/{program.merchant.slug}/invite/{member.external_id}/"
    invite = client.get(url).content.decode()

    assert f'data-testid="referral-url" target="_blank" rel="noopener">{url}</a>' in page
    assert f'data-copy="{url}"' in page
    assert f'data-share="{url}"' in page
    assert "you get 500 points and they get 250 points" in page
    assert member.external_id in invite
    assert "250" in invite


def test_without_a_referral_rule_there_is_no_link_nor_invite_page(client, signed_in, member):
    page = page_of(signed_in, member)
    slug = member.program.merchant.slug

    assert 'data-testid="referral-url"' not in page
    assert client.get(f"/profile/{slug}/invite/{member.external_id}/").status_code == 404


def queries_for(signed_in, member, path: str = "/profile/") -> int:
    client = signed_in(member)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_page_queries_do_not_grow_with_history_first_page_or_deep(signed_in):
    program = ProgramFactory()
    RewardThresholdFactory(program=program, points=10**9)
    tiers_seed_defaults(program=program)
    short, long = MemberFactory(program=program), MemberFactory(program=program)
    for n in range(5):
        order(short, n)
    for n in range(200):
        order(long, n)
    middle = LedgerEntry.objects.filter(member=long).order_by("-id")[100].pk

    few = queries_for(signed_in, short)
    many = queries_for(signed_in, long)
    deep = queries_for(signed_in, long, f"/profile/?before={middle}")

    assert few == many == deep


def test_no_query_counts_or_offsets_the_whole_history(signed_in, member):
    order(member, 1)
    client = signed_in(member)

    with CaptureQueriesContext(connection) as queries:
        client.get("/profile/?before=999999")

    ledger = [q["sql"] for q in queries if "loyalty_ledgerentry" in q["sql"]]
    assert ledger
    for sql in ledger:
        assert "COUNT(" not in sql.upper()
        assert "OFFSET" not in sql.upper()


def test_a_negative_balance_takes_the_plural_of_its_number_in_russian(signed_in, program):
    RewardThresholdFactory(program=program, points=1000)
    member = MemberFactory(program=program, locale="ru")
    order(member, 1, amount="100.00")  # 1,000 points, at once a coupon
    refund_record(
        program=program,
        order_external_id=f"{member.external_id}-o1",
        external_id="r1",
        amount=Decimal("73.60"),
    )
    member.refresh_from_db()
    assert member.balance == -736

    page = page_of(signed_in, member)

    # 736 reads "баллов"; counted as -736 it came out "балла".
    assert '<span class="balance-unit">баллов</span>' in page


def test_the_referral_link_works_for_any_external_id(client, signed_in):
    program = referral_program()
    member = MemberFactory(program=program, external_id="shop/42 ä")

    page = page_of(signed_in, member)
    link = re.search(r'data-testid="referral-url"[^>]*>([^<]+)</a>', page).group(1)
    invite = client.get(link.replace("http://testserver", "")).content.decode()

    assert "/invite/shop/42%20%C3%A4/" in link
    assert 'data-testid="referral-code">shop/42 ä</code>' in invite
