"""End to end in headless Chromium: a merchant's staff user logs in to the admin and sees
the dashboard, its charts drawn from the project's own files."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import LedgerEntry, Member
from loyalty.services.orders import order_record
from tests.backoffice.conftest import entry_at
from tests.browser import screenshot
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.rewards.factories import CouponFactory


@pytest.mark.django_db(transaction=True)
def test_staff_logs_in_and_sees_the_dashboard(live_server, page):
    program = ProgramFactory(name="Acme Rewards", point_value=Decimal("0.01"))
    StaffFactory(username="clerk", merchant=program.merchant, role="viewer")
    now = timezone.now()
    for n in range(6):
        member = MemberFactory(program=program, external_id=f"cust-{n}")
        for week in range(10):
            entry_at(
                member, LedgerEntry.Kind.EARN, 40 + 13 * n + 7 * week, now - timedelta(weeks=week)
            )
            if week % 3 == n % 3:
                entry_at(member, LedgerEntry.Kind.GRANT, 25, now - timedelta(weeks=week, days=1))
            if week % 4 == 1:
                entry_at(member, LedgerEntry.Kind.REWARD, -60, now - timedelta(weeks=week))
            if week == 8:
                entry_at(member, LedgerEntry.Kind.EXPIRE, -30, now - timedelta(weeks=week))
        for week in range(0, 10, 2):
            CouponFactory(
                program=program,
                member=member,
                created_at=now - timedelta(weeks=week),
                uses_count=week % 4 == 0,
            )
        order_record(program=program, external_id=f"o-{n}", member_external_id=member.external_id,
                     amount=Decimal(25), currency="EUR")  # fmt: skip
    Member.objects.filter(program=program).update(balance=1234)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "clerk")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard")

    assert "Acme Rewards" in page.inner_text("#dashboard h2")
    assert page.inner_text("#kpi-outstanding") == "7,404"
    assert page.inner_text("#kpi-liability") == "74.04 EUR"
    assert page.inner_text("#kpi-revenue") == "150.00 EUR"  # six orders of 25.00
    assert page.locator("#dashboard svg rect.bar").count() > 40
    assert page.inner_text("#tiers-none") == "No tiers"
    stylesheet = page.evaluate(
        "[...document.styleSheets].some(s => (s.href || '').endsWith('backoffice/dashboard.css'))"
    )
    assert stylesheet
    assert all(url.startswith(live_server.url) for url in requests)  # no CDN
    assert screenshot(page, "admin-dashboard").stat().st_size > 0
