"""End to end in headless Chromium at 1,280 and 390 px: the dashboard, the member list,
the coupon list, the ledger and a member's page fit (no page scrolling sideways, no list
whose right-hand columns hide at 1,280 px); screenshots in test-artifacts/."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import LedgerEntry, Member, Program, Tier
from loyalty.services.orders import order_record
from tests.backoffice.conftest import entry_at
from tests.browser import ARTIFACTS, screenshot
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.rewards.factories import CouponFactory

WIDTHS = (1280, 390)
# Wider than the window: the page scrolls sideways (a phone's "711 px").
PAGE_WIDTH = "document.documentElement.scrollWidth - window.innerWidth"
# A list whose columns go on past its box (Django's .results scrolls them out of sight).
HIDDEN_COLUMNS = (
    "[...document.querySelectorAll('.results, #changelist table')]"
    ".map(e => e.scrollWidth - e.clientWidth).reduce((a, b) => Math.max(a, b), 0)"
)

LEDGER_WIDTH = "document.getElementById('ledger').getBoundingClientRect().width"


def shop() -> tuple[Program, Member]:
    """A program with a year's worth of what makes columns wide: long names and e-mail
    addresses, big balances, coupons with conditions, long reasons."""
    program = ProgramFactory(name="Acme Rewards", point_value=Decimal("0.01"))
    StaffFactory(username="boss", merchant=program.merchant, role="manager")
    gold = Tier.objects.create(program=program, name="Gold", min_points=200)
    now = timezone.now()
    members = []
    for n in range(30):
        member = MemberFactory(
            program=program,
            external_id=f"customer-{n:05d}",
            name=f"Maximiliana Alexandrova-Worthington {n}",
            email=f"maximiliana.alexandrova.worthington.{n}@example-long-domain.com",
            tier=gold if n % 3 == 0 else None,
        )
        members.append(member)
        for week in range(0, 52, 9):
            order_record(
                program=program,
                external_id=f"o-{n}-{week}",
                member_external_id=member.external_id,
                amount=Decimal("1234.56") + n,
                currency="EUR",
                placed_at=now - timedelta(weeks=week, days=n % 7),
            )
        entry_at(member, LedgerEntry.Kind.GRANT, 500, now - timedelta(days=n))
        CouponFactory(
            program=program,
            member=member,
            kind="fixed",
            value=Decimal("15.00"),
            min_order_amount=Decimal("100.00"),
            created_at=now - timedelta(days=n),
        )
        CouponFactory(program=program, member=member, max_discount=Decimal("50.00"))
    Member.objects.filter(program=program).update(balance=99_000_250)
    return program, members[0]


def sign_in(page, url: str) -> None:
    page.goto(f"{url}/admin/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard")


@pytest.mark.django_db(transaction=True)
def test_backoffice_pages_fit_a_desktop_and_a_phone(live_server, browser):
    _program, member = shop()
    pages = {
        "dashboard": "/admin/",
        "member-list": "/admin/loyalty/member/",
        "coupon-list": "/admin/rewards/coupon/",
        "ledger-list": "/admin/loyalty/ledgerentry/",
        "order-list": "/admin/loyalty/order/",
        "member-page": f"/admin/loyalty/member/{member.pk}/change/",
    }
    overflow: dict[tuple[str, int], int] = {}
    hidden: dict[str, int] = {}
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        sign_in(page, live_server.url)
        for name, path in pages.items():
            page.goto(f"{live_server.url}{path}")
            screenshot(page, f"backoffice-{name}-{width}")
            page.screenshot(path=str(ARTIFACTS / f"backoffice-{name}-{width}-top.png"))
            overflow[(name, width)] = page.evaluate(PAGE_WIDTH)
            if width == 1280:
                hidden[name] = page.evaluate(HIDDEN_COLUMNS)
            if name == "member-page":
                # The history below the profile, as wide as the page's content.
                assert page.evaluate(LEDGER_WIDTH) > width / 2, width
        context.close()
    assert {key: px for key, px in overflow.items() if px > 0} == {}
    assert {name: px for name, px in hidden.items() if px > 1} == {}
