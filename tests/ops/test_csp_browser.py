"""The pages work in Chromium under production's Content-Security-Policy, and break none of it.

Each page is loaded in headless Chromium; the test fails on any policy violation Chromium
reports in the console, and checks that what the moved or nonce-carrying code does still
happens (the merchant's colours, the progress bars, Swagger UI's operations, the preview).
The policy served is production's own (tests/ops/production.py), nonce aside.
"""

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from loyalty.models import Member, User
from loyalty.services.orders import order_record
from loyalty.services.tier_settings import tiers_seed_defaults
from loyalty.services.tiers import badge_card_set
from notifications.admin.templates import EMAIL_PREVIEW_POLICY
from notifications.management.commands.generate_vapid_keys import vapid_keys_new
from notifications.models import Notification, NotificationTemplate
from notifications.services import notification_enqueue, unsubscribe_url
from tests.browser import screenshot
from tests.factories import ProgramFactory, StaffFactory
from tests.notifications.conftest import REWARD_CONTEXT
from tests.ops.production import NONCE, directives, production_settings
from tests.profile.conftest import deep_link_path
from tests.rewards.factories import CouponFactory, RewardThresholdFactory

VIOLATION = re.compile(r"Content Security Policy|Content-Security-Policy", re.I)


class Console:
    """What Chromium said about the policy while a page loaded, and the header it got."""

    def __init__(self, page) -> None:
        self.page = page
        self.violations: list[str] = []
        page.on("console", self._console)

    def _console(self, message) -> None:
        if VIOLATION.search(message.text):
            self.violations.append(f"{self.page.url}: {message.text}")

    def open(self, url: str, ready: str | None = None, extra: dict | None = None) -> None:
        """Load ``url``; its policy must be production's (plus ``extra`` for this page)."""
        response = self.page.goto(url)
        assert response is not None
        assert response.status == 200, url
        policy = response.headers.get("content-security-policy", "")
        nonce = re.search(r"'nonce-([^']+)'", policy)
        served = policy.replace(nonce.group(1), NONCE) if nonce else policy
        want = directives(production_settings()["csp"])
        if not nonce:  # a page with nothing inline gets no nonce: the rest is the same
            want = {k: v.replace(f" 'nonce-{NONCE}'", "") for k, v in want.items()}
        assert want, "production serves no Content-Security-Policy"
        for directive, sources in (extra or {}).items():
            want[directive] = " ".join(filter(None, [want.get(directive), *sources]))
        assert directives(served) == want, url
        if ready:
            self.page.wait_for_selector(ready)
        self.page.wait_for_load_state("networkidle")


@pytest.fixture
def console(page) -> Console:
    return Console(page)


@pytest.fixture
def push_on(settings):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid_keys_new()


@pytest.mark.django_db(transaction=True)
def test_profile_page_runs_under_the_production_policy(live_server, console, push_on):
    program = ProgramFactory(merchant__brand_colour="#7c2d12", earn_rate=Decimal(1))
    tiers_seed_defaults(program=program)
    RewardThresholdFactory(program=program, points=5000)
    order_record(program=program, external_id="A-1", member_external_id="m-1",
                 amount=Decimal(300), currency="EUR")  # fmt: skip
    member = Member.objects.get(external_id="m-1")
    CouponFactory(program=program, member=member)

    console.open(live_server.url + deep_link_path(member), ready="[data-testid=balance]")

    page = console.page
    brand = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--brand')")
    assert brand.strip() == "#7c2d12"  # the nonce-carrying <style> ran
    bars = page.locator(".progress rect")
    assert bars.count() == 2
    assert bars.first.get_attribute("width") == "6%"  # 300 of 5,000 points
    assert bars.first.evaluate("e => e.getBoundingClientRect().width") > 0
    assert page.locator("[data-push-toggle]").count() == 1  # push.js loaded
    screenshot(page, "csp-profile")
    assert console.violations == []


@pytest.mark.django_db(transaction=True)
def test_badge_page_runs_under_the_production_policy(live_server, console):
    program = ProgramFactory(earn_rate=Decimal(1))
    tiers_seed_defaults(program=program)
    order_record(program=program, external_id="A-1", member_external_id="m-1",
                 amount=Decimal(1200), currency="EUR")  # fmt: skip
    member = Member.objects.get(external_id="m-1")
    badge_card_set(member=member, enabled=True)

    console.open(f"{live_server.url}/badge/{member.badge_token}/", ready="[data-badge-card]")

    tier = console.page.locator(".tier")
    assert tier.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(127, 140, 141)"
    assert tier.evaluate("e => getComputedStyle(e).borderRadius") == "999px"  # card.css
    assert console.violations == []


@pytest.mark.django_db(transaction=True)
def test_api_docs_run_under_the_production_policy(live_server, console):
    console.open(f"{live_server.url}/api/docs/", ready="#swagger-ui .opblock")

    # The start-up script (a file now) ran: Swagger UI fetched the schema and drew it.
    assert console.page.locator("#swagger-ui .opblock").count() > 10
    assert console.page.locator(".validator-badge, img[src*='validator']").count() == 0
    screenshot(console.page, "csp-api-docs")
    assert console.violations == []


@pytest.mark.django_db(transaction=True)
def test_admin_pages_run_under_the_production_policy(live_server, console):
    program = ProgramFactory(name="Acme Rewards", point_value=Decimal("0.01"))
    tiers_seed_defaults(program=program)
    RewardThresholdFactory(program=program, points=500)
    StaffFactory(username="clerk", merchant=program.merchant, role=User.Role.MANAGER)
    User.objects.create_superuser("root", "root@example.com", "pw")
    order_record(program=program, external_id="A-1", member_external_id="m-1",
                 amount=Decimal(30), currency="EUR")  # fmt: skip
    Member.objects.filter(external_id="m-1").update(email="ana@example.com", consent_email=True)
    member = Member.objects.get(external_id="m-1")
    CouponFactory(program=program, member=member)
    (sent,) = notification_enqueue(
        member=member,
        event="reward_issued",
        occasion="coupon-1",
        context=REWARD_CONTEXT,
    )
    template = NotificationTemplate.objects.create(
        merchant=program.merchant,
        event="points_granted",
        channel="email",
        language="en",
        subject="{{ points }} points for you",
        body_text="Hi {{ member_name }}",
        body_html='<p style="color:#b91c1c">Hi {{ member_name }}</p>',
    )
    page = console.page

    console.open(f"{live_server.url}/admin/login/", ready="#id_username")
    page.fill("#id_username", "clerk")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard")
    assert page.locator("#dashboard svg rect.bar").count() > 0
    assert console.violations == []

    for name, args, ready in [
        ("admin:index", [], "#dashboard"),
        ("admin:loyalty_member_change", [member.pk], "#ledger"),
        ("admin:loyalty_member_changelist", [], "#changelist"),
        ("admin:loyalty_program_change", [program.pk], "#thresholds"),
        ("admin:rewards_coupon_changelist", [], "#changelist"),
        ("admin:loyalty_auditentry_changelist", [], "#changelist"),
        ("admin:two_factor", [], ".two-factor-qr svg"),
    ]:
        console.open(live_server.url + reverse(name, args=args), ready=ready)
        assert console.violations == [], name

    # The two pages that show an email's HTML allow its inline style attributes, only them.
    for name, args, ready in [
        ("admin:notifications_notificationtemplate_change", [template.pk], "#preview iframe"),
        ("admin:notifications_notification_change", [sent.pk], ".message-part iframe"),
    ]:
        url = live_server.url + reverse(name, args=args)
        console.open(url, ready=ready, extra=EMAIL_PREVIEW_POLICY)
        assert console.violations == [], name
    frame = page.frame_locator(".message-part iframe")
    assert frame.locator("body").count() == 1

    # The template preview's script (a file now) still follows the typing, and the email's
    # own inline style shows in its frame.
    url = reverse("admin:notifications_notificationtemplate_change", args=[template.pk])
    console.open(live_server.url + url, ready="#preview iframe", extra=EMAIL_PREVIEW_POLICY)
    preview = page.frame_locator("#preview iframe").locator("p")
    assert preview.evaluate("e => getComputedStyle(e).color") == "rgb(185, 28, 28)"
    page.fill("#id_subject", "{{ points }} new points")
    page.locator("pre[data-part=subject]", has_text="new points").wait_for()
    screenshot(page, "csp-admin-template-preview")
    assert console.violations == []
    assert Notification.objects.filter(pk=sent.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_unsubscribe_page_runs_under_the_production_policy(live_server, console):
    program = ProgramFactory()
    order_record(program=program, external_id="A-1", member_external_id="m-1",
                 amount=Decimal(30), currency="EUR")  # fmt: skip
    link = unsubscribe_url(member=Member.objects.get(external_id="m-1"))

    console.open(live_server.url + urlsplit(link).path, ready="main")

    button = console.page.locator("button")
    assert button.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(29, 78, 216)"
    assert console.violations == []
