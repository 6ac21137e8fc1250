"""Bulk operations from a CSV: preview of every row, a Celery task with progress, a per-row
report, and reruns that never apply a row twice."""

import csv
import io
import threading
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loyalty.errors import InvalidInput
from loyalty.models import AuditEntry, BulkJob, BulkRow, LedgerEntry, Member, User
from loyalty.roles import RoleForbidden
from loyalty.services.bulk import bulk_job_create, bulk_job_run, bulk_job_start
from loyalty.tasks import bulk_job_run_task
from rewards.models import Coupon
from tests.factories import MemberFactory, StaffFactory
from tests.rewards.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db

POINTS_CSV = b"""external_id,points,reason
alice,50,Sorry for the delay
bob,-5,Duplicate order
ghost,10,Unknown member
alice,abc,Not a number
bob,0,Zero
carol,20,
alice,500,Above the support limit
"""


@pytest.fixture
def members(shop):
    alice = MemberFactory(program=shop, external_id="alice")
    bob = MemberFactory(program=shop, external_id="bob")
    carol = MemberFactory(program=shop, external_id="carol")
    return alice, bob, carol


def statuses(job: BulkJob) -> dict[int, tuple[str, str]]:
    return {row.line: (row.status, row.code) for row in job.rows.order_by("line")}


def balances(*members: Member) -> list[int]:
    return [Member.objects.get(pk=m.pk).balance for m in members]


def give(member: Member, points: int) -> None:
    from loyalty.services.points import points_grant

    points_grant(
        program=member.program, member_external_id=member.external_id, points=points, reason="x"
    )


def test_preview_checks_every_row_and_writes_nothing(shop, members):
    support = StaffFactory(merchant=shop.merchant, role=User.Role.SUPPORT)

    job = bulk_job_create(
        program=shop,
        kind=BulkJob.Kind.POINTS,
        data=POINTS_CSV,
        params={"reason": ""},
        created_by=support,
    )

    assert job.status == BulkJob.Status.PREVIEW
    assert statuses(job) == {
        2: ("ready", ""),
        3: ("ready", ""),
        4: ("invalid", "member_not_found"),
        5: ("invalid", "validation_error"),
        6: ("invalid", "validation_error"),
        7: ("invalid", "validation_error"),  # no reason, and none given in the form
        8: ("invalid", "grant_limit_exceeded"),  # support's limit is 100 here
    }
    assert job.total == 2
    assert LedgerEntry.objects.count() == 0


def test_a_default_reason_fills_rows_without_one(shop, members):
    job = bulk_job_create(
        program=shop,
        kind=BulkJob.Kind.POINTS,
        data=b"external_id,points\ncarol,20\n",
        params={"reason": "Welcome gift"},
    )
    assert job.rows.get().data == {"points": 20, "reason": "Welcome gift"}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"id;points\nalice;5\n", "name the columns"),
        (b"external_id,points,reason\n", "no rows"),
        ("external_id,points\nal\xefce,5\n".encode("latin-1"), "UTF-8"),
    ],
)
def test_a_bad_file_is_refused_as_a_whole(shop, data, problem):
    with pytest.raises(InvalidInput) as refused:
        bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=data)
    assert problem in refused.value.fields["file"][0]
    assert not BulkJob.objects.exists()


def test_the_task_runs_the_ready_rows_and_reports_each(
    shop, members, django_capture_on_commit_callbacks
):
    alice, bob, carol = members
    give(bob, 10)
    manager = StaffFactory(merchant=shop.merchant)
    job = bulk_job_create(
        program=shop, kind=BulkJob.Kind.POINTS, data=POINTS_CSV, created_by=manager
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        bulk_job_start(job=job, user=manager, run=bulk_job_run_task.delay)

    # The task is handed to Celery after the commit (then notifications of the grants).
    assert "bulk_job_run_task" in repr(callbacks[0])
    job.refresh_from_db()
    assert job.status == BulkJob.Status.DONE
    assert (job.total, job.processed, job.succeeded, job.failed) == (3, 3, 3, 0)
    assert balances(alice, bob) == [550, 5]  # a manager has no limit
    assert (
        LedgerEntry.objects.filter(idempotency_key__startswith=f"grant:bulk:{job.pk}:").count() == 3
    )
    assert AuditEntry.objects.filter(actor=manager, action="points.grant").count() == 2


def test_rerunning_a_job_applies_nothing_twice(shop, members, django_capture_on_commit_callbacks):
    alice, bob, _carol = members
    give(bob, 10)
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=POINTS_CSV)
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=None, run=bulk_job_run_task.delay)
    entries = LedgerEntry.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=None, run=bulk_job_run_task.delay)  # "run again"
    bulk_job_run_task.apply(args=[job.pk])  # a Celery retry of the same task
    # Even a row put back to "ready" by hand is booked once: the ledger key is per row.
    BulkRow.objects.filter(job=job, line=2).update(status=BulkRow.Status.READY)
    bulk_job_run(job_id=job.pk)

    assert LedgerEntry.objects.count() == entries
    assert balances(alice, bob) == [550, 5]
    assert job.rows.get(line=2).status == BulkRow.Status.DONE


def test_a_row_refused_at_run_time_fails_alone(shop, members, django_capture_on_commit_callbacks):
    alice, bob, _carol = members
    job = bulk_job_create(
        program=shop,
        kind=BulkJob.Kind.POINTS,
        data=b"external_id,points,reason\nbob,-5,Too many\nalice,5,Fine\n",
    )
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=None, run=bulk_job_run_task.delay)

    job.refresh_from_db()
    assert (job.succeeded, job.failed) == (1, 1)
    assert statuses(job)[2] == ("failed", "insufficient_points")
    assert balances(alice, bob) == [5, 0]


def test_a_job_not_confirmed_does_not_run(shop, members):
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=POINTS_CSV)
    bulk_job_run_task.apply(args=[job.pk])
    assert LedgerEntry.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_progress_shows_while_a_row_is_busy_and_a_rerun_finishes(shop, staff_client):
    """A second worker holding a row: this run skips it (SKIP LOCKED), the job shows its
    progress short of 100 %, and running it again finishes exactly that row."""
    for n in range(5):
        MemberFactory(program=shop, external_id=f"m{n}")
    data = b"external_id,points,reason\n" + b"".join(f"m{n},7,gift\n".encode() for n in range(5))
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=data)
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.QUEUED)
    busy_row = job.rows.get(line=4)
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        with transaction.atomic():
            BulkRow.objects.select_for_update().get(pk=busy_row.pk)
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert locked.wait(10)
    try:
        bulk_job_run(job_id=job.pk, chunk=2)
    finally:
        release.set()
        thread.join()

    _user, client = staff_client(shop)
    progress = client.get(reverse("backoffice:bulk-job-status", args=[job.pk])).json()
    assert progress == {
        "status": "running", "total": 5, "processed": 4, "succeeded": 4, "failed": 0, "percent": 80
    }  # fmt: skip

    bulk_job_run_task.apply(args=[job.pk])

    progress = client.get(reverse("backoffice:bulk-job-status", args=[job.pk])).json()
    assert (progress["status"], progress["processed"], progress["percent"]) == ("done", 5, 100)
    assert sorted(Member.objects.values_list("balance", flat=True)) == [7] * 5


def test_compensation_coupons_in_bulk(shop, members, django_capture_on_commit_callbacks):
    # Within support's limits: a percent coupon for support needs a maximum discount.
    template = CouponTemplateFactory(program=shop, max_discount=Decimal(10))
    support = StaffFactory(merchant=shop.merchant, role=User.Role.SUPPORT)
    job = bulk_job_create(
        program=shop,
        kind=BulkJob.Kind.COUPONS,
        data=b"external_id\nalice\nbob\nalice\nghost\n",
        params={"reason": "Parcel lost", "template": template.pk},
        created_by=support,
    )
    assert [s for s, _c in statuses(job).values()] == ["ready", "ready", "invalid", "invalid"]

    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=support, run=bulk_job_run_task.delay)
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=support, run=bulk_job_run_task.delay)  # again: nothing more

    coupons = Coupon.objects.filter(program=shop, source=Coupon.Source.COMPENSATION)
    assert sorted(c.member.external_id for c in coupons) == ["alice", "bob"]
    assert {c.reason for c in coupons} == {"Parcel lost"}
    assert AuditEntry.objects.filter(action="coupon.issue", actor=support).count() == 2


def test_bulk_coupons_need_a_template_of_the_program(shop, other_shop, members):
    foreign = CouponTemplateFactory(program=other_shop)
    with pytest.raises(InvalidInput):
        bulk_job_create(
            program=shop,
            kind=BulkJob.Kind.COUPONS,
            data=b"external_id\nalice\n",
            params={"reason": "x", "template": foreign.pk},
        )


def test_import_members_creates_and_updates(shop, members, django_capture_on_commit_callbacks):
    manager = StaffFactory(merchant=shop.merchant)
    job = bulk_job_create(
        program=shop,
        kind=BulkJob.Kind.MEMBERS,
        data=b"external_id,email,name,locale\nalice,ALICE@x.io,Alice,es\nnew-1,n@x.io,New,en\n"
        b"bad/id,x@x.io,Bad,en\nnew-2,y@x.io,Y,xx\n",
        created_by=manager,
    )
    assert [s for s, _c in statuses(job).values()] == ["ready", "ready", "invalid", "invalid"]
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=manager, run=bulk_job_run_task.delay)

    alice = Member.objects.get(program=shop, external_id="alice")
    assert (alice.email, alice.locale) == ("alice@x.io", "es")
    assert Member.objects.filter(program=shop, external_id="new-1", name="New").exists()
    assert AuditEntry.objects.filter(action="member.import", actor=manager).count() == 1


def test_support_cannot_import_members(shop):
    support = StaffFactory(merchant=shop.merchant, role=User.Role.SUPPORT)
    with pytest.raises(RoleForbidden):
        bulk_job_create(
            program=shop,
            kind=BulkJob.Kind.MEMBERS,
            data=b"external_id\nx\n",
            created_by=support,
        )


def test_admin_upload_preview_confirm_and_report(
    shop, members, staff_client, django_capture_on_commit_callbacks
):
    alice, bob, _carol = members
    give(bob, 10)
    _user, client = staff_client(shop)

    response = client.post(
        reverse("backoffice:bulk"),
        {
            "kind": "points",
            "reason": "",
            "file": SimpleUploadedFile("grants.csv", POINTS_CSV, content_type="text/csv"),
        },
    )
    job = BulkJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("backoffice:bulk-job", args=[job.pk])

    preview = client.get(response["Location"]).content.decode()
    assert 'id="bulk-confirm"' in preview
    assert "Unknown member" in preview
    assert "No member with external id &#x27;ghost&#x27;" in preview
    assert LedgerEntry.objects.filter(member=alice).count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("backoffice:bulk-job", args=[job.pk]))
    page = client.get(reverse("backoffice:bulk-job", args=[job.pk])).content.decode()
    assert 'id="job-progress"' in page
    assert 'value="3"' in page

    report = client.get(reverse("backoffice:bulk-job-report", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert rows[0] == ["line", "external_id", "status", "code", "detail"]
    assert [r[2] for r in rows[1:]] == [
        "done",
        "done",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "done",
    ]
    assert balances(alice, bob) == [550, 5]


def test_another_merchants_job_is_not_found(shop, other_shop, members, staff_client):
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=POINTS_CSV)
    _user, client = staff_client(other_shop)

    assert client.get(reverse("backoffice:bulk-job", args=[job.pk])).status_code == 404
    assert client.post(reverse("backoffice:bulk-job", args=[job.pk])).status_code == 404
    assert client.get(reverse("backoffice:bulk-job-report", args=[job.pk])).status_code == 404
    assert BulkJob.objects.get().status == BulkJob.Status.PREVIEW


def test_a_superuser_first_picks_the_merchant(shop, superuser_client):
    _user, client = superuser_client
    chooser = client.get(reverse("backoffice:bulk")).content.decode()
    assert f'href="?merchant={shop.merchant_id}"' in chooser
    form = client.get(reverse("backoffice:bulk"), {"merchant": shop.merchant_id})
    assert 'id="bulk-upload"' in form.content.decode()


def test_a_viewer_sees_a_job_but_cannot_run_it(shop, members, staff_client):
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=POINTS_CSV)
    _user, client = staff_client(shop, User.Role.VIEWER)

    page = client.get(reverse("backoffice:bulk-job", args=[job.pk])).content.decode()
    client.post(reverse("backoffice:bulk-job", args=[job.pk]))

    assert 'id="bulk-confirm"' not in page
    job.refresh_from_db()
    assert job.status == BulkJob.Status.PREVIEW


def test_a_points_row_costs_the_same_few_queries_however_long_the_job(shop):
    """The program's settings and the merchant's webhook endpoints are read once a run."""
    manager = StaffFactory(merchant=shop.merchant)

    def run(count: int, prefix: str) -> int:
        Member.objects.bulk_create(
            [Member(program=shop, external_id=f"{prefix}{n}") for n in range(count)]
        )
        data = "external_id,points,reason\n" + "".join(
            f"{prefix}{n},5,Goodwill\n" for n in range(count)
        )
        job = bulk_job_create(
            program=shop, kind=BulkJob.Kind.POINTS, data=data.encode(), created_by=manager
        )
        BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.QUEUED)
        with CaptureQueriesContext(connection) as ctx:
            bulk_job_run(job_id=job.pk)
        return len(ctx.captured_queries)

    ten, thirty = run(10, "a"), run(30, "b")

    # The row's transaction (a savepoint pair inside the test's own), row lock, savepoint
    # pair of the grant, member lock, key check, ledger entry, balance, audit, row status.
    assert (thirty - ten) / 20 <= 11


def test_rows_above_the_confirmation_amount_are_named_and_confirmed_by_running(
    shop, members, staff_client, django_capture_on_commit_callbacks
):
    """As the member page's second page does for one change: the preview counts the rows
    above the program's amount, and starting the job confirms them (none fails unconfirmed)."""
    alice, bob, _carol = members
    shop.grant_confirmation_points = 100
    shop.save(update_fields=["grant_confirmation_points"])
    data = b"external_id,points,reason\nalice,101,Big\nbob,100,Small\nalice,-101,Back\n"
    _user, client = staff_client(shop)
    client.post(
        reverse("backoffice:bulk"),
        {"kind": "points", "reason": "", "file": SimpleUploadedFile("g.csv", data)},
    )
    job = BulkJob.objects.get()

    preview = client.get(reverse("backoffice:bulk-job", args=[job.pk])).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("backoffice:bulk-job", args=[job.pk]))

    assert "2 rows change more than 100 points each" in preview
    assert statuses(job) == {2: ("done", ""), 3: ("done", ""), 4: ("done", "")}
    assert balances(alice, bob) == [0, 100]
