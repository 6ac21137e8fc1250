"""Big coupon batches from the coupon CSV page run as a bulk job (a Celery task with a
progress bar), with the page's own checks and a per-row report; sent twice, one job."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.models import AuditEntry, BulkJob, BulkRow
from rewards.admin import coupon_issue as rewards_admin
from rewards.models import Coupon
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_a_big_batch_becomes_a_job_with_progress(
    shop, staff_client, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(rewards_admin, "BULK_INLINE_ROWS", 2)
    for name in ("a", "b", "c"):
        MemberFactory(program=shop, external_id=name)
    user, client = staff_client(shop, "support")
    upload = SimpleUploadedFile(
        "m.csv", b"external_id\na\nb\nc\nghost\na\n", content_type="text/csv"
    )
    preview = client.post(
        reverse("admin:rewards_coupon_issue_csv"),
        {"kind": "fixed", "value": "10", "valid_days": "30", "uses": "1",
         "source": "compensation", "reason": "Outage", "file": upload},
    )  # fmt: skip
    payload = preview.context["confirm"]["payload"].value()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            reverse("admin:rewards_coupon_issue_csv"), {"payload": payload, "confirm": "1"}
        )
    again = client.post(
        reverse("admin:rewards_coupon_issue_csv"), {"payload": payload, "confirm": "1"}
    )

    job = BulkJob.objects.get()
    assert done.url == again.url == reverse("backoffice:bulk-job", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.total, job.succeeded, job.failed) == ("done", 3, 3, 0)
    assert job.rows.filter(status=BulkRow.Status.INVALID).count() == 2
    coupons = Coupon.objects.filter(reason="Outage")
    assert sorted(c.member.external_id for c in coupons) == ["a", "b", "c"]
    assert {(c.kind, c.value, c.issued_by) for c in coupons} == {("fixed", 10, user)}
    assert AuditEntry.objects.filter(action="coupon.issue").count() == 3
    page = client.get(done.url).content.decode()
    assert 'id="job-progress"' in page
    assert "No member with external id &#x27;ghost&#x27;" in page
