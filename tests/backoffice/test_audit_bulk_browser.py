"""End to end in headless Chromium at phone and desktop width: the audit trail in words with
its before/after tables and folded bodies, and a bulk file's preview with its totals and the
refused rows as uploaded."""

import pytest
from django.urls import reverse

from loyalty.audit import Action, audit_record
from loyalty.models import BulkJob
from loyalty.services.bulk import bulk_job_create
from tests.backoffice.test_bulk import POINTS_CSV
from tests.browser import screenshot
from tests.factories import MemberFactory, ProgramFactory, StaffFactory

WIDTHS = (390, 1280)


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_load_state()


@pytest.mark.django_db(transaction=True)
def test_the_audit_trail_reads_as_words(live_server, page):
    program = ProgramFactory(name="Acme Rewards")
    manager = StaffFactory(username="boss", merchant=program.merchant)
    alice = MemberFactory(program=program, external_id="alice", name="Alice Martin")
    audit_record(merchant=program.merchant, actor=manager, action=Action.POINTS_GRANT,
                 target=alice, changes={"points": 40, "balance": [120, 160]},
                 reason="Late parcel")  # fmt: skip
    body = '<table role="presentation"><tr><td>Hi {{ member_name }}</td></tr></table>\n' * 20
    audit_record(merchant=program.merchant, actor=manager, action=Action.TEMPLATE_UPDATE,
                 target=alice, changes={"subject": ["Old subject", "New subject"],
                                        "body_html": ["", body]})  # fmt: skip
    log_in(page, live_server, "boss")

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + reverse("admin:loyalty_auditentry_changelist"))
        page.wait_for_selector("#result_list")

        text = page.inner_text("#result_list")
        assert "Points granted" in text
        assert "points.grant" not in text
        assert page.locator("#result_list a", has_text="Alice Martin").count() == 2
        assert page.locator("table.audit-changes").count() == 2
        folded = page.locator("#result_list details")
        assert folded.count() == 1
        assert not folded.locator("pre").is_visible()
        screenshot(page, f"audit-trail-{width}")
        folded.locator("summary").click()
        assert folded.locator("pre").is_visible()
        screenshot(page, f"audit-trail-opened-{width}")


@pytest.mark.django_db(transaction=True)
def test_a_bulk_preview_shows_totals_and_refused_rows(live_server, page):
    program = ProgramFactory(name="Acme Rewards")
    manager = StaffFactory(username="boss", merchant=program.merchant)
    for name in ("alice", "bob", "carol"):
        MemberFactory(program=program, external_id=name)
    job = bulk_job_create(program=program, kind=BulkJob.Kind.POINTS, data=POINTS_CSV,
                          file_name="grants.csv", created_by=manager)  # fmt: skip
    log_in(page, live_server, "boss")

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + reverse("backoffice:bulk-job", args=[job.pk]))
        page.wait_for_selector("#bulk-totals")

        assert page.inner_text("#total-valid") == "3"
        assert page.inner_text("#total-refused") == "4"
        assert page.inner_text("#total-points") == "+550 / −5"
        assert page.inner_text("#total-members") == "2"
        assert page.locator("#bulk-invalid td.refused-cell").count() == 4
        assert page.locator("#bulk-confirm").is_visible()
        # Nothing wider than the phone's screen but the tables' own scrolling boxes.
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width + 1
        screenshot(page, f"bulk-preview-{width}")
