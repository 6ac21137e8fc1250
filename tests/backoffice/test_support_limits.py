"""Support's limits hold however the points are moved: one change at most
``support_grant_limit``, one member at most ``support_daily_member_limit`` a day (single
grants and bulk rows together, also when sent at once), one bulk job at most
``support_job_limit``. A bulk job runs as the one who starts it, checked against that
person's role; who previewed and who started it are audited."""

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from loyalty.errors import LoyaltyError
from loyalty.models import AuditEntry, BulkJob, LedgerEntry, Member, Program, User
from loyalty.roles import RoleForbidden
from loyalty.services.bulk import bulk_job_create, bulk_job_run, bulk_job_start
from loyalty.services.merchants import program_update
from loyalty.services.points import points_grant
from loyalty.tasks import bulk_job_run_task
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.threads import at_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(shop: Program) -> Member:
    return MemberFactory(program=shop, external_id="alice")


@pytest.fixture
def support(shop: Program) -> User:
    return StaffFactory(merchant=shop.merchant, role=User.Role.SUPPORT)


@pytest.fixture
def manager(shop: Program) -> User:
    return StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)


def limits(program: Program, manager: User, **values: int) -> None:
    program_update(program=program, actor=manager, **values)
    program.refresh_from_db()


def rows(*lines: str) -> bytes:
    return ("external_id,points,reason\n" + "".join(f"{line}\n" for line in lines)).encode()


def grant(program: Program, user: User | None, points: int, who: str = "alice") -> int:
    return points_grant(
        program=program,
        member_external_id=who,
        points=points,
        reason="Goodwill",
        created_by=user,
        idempotency_key=str(uuid.uuid4()),
    ).balance


def balance(member: Member) -> int:
    return Member.objects.get(pk=member.pk).balance


def statuses(job: BulkJob) -> list[tuple[str, str]]:
    return [(row.status, row.code) for row in job.rows.order_by("line")]


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_defaults_are_sensible():
    program = ProgramFactory()
    assert (
        program.support_grant_limit,
        program.support_daily_member_limit,
        program.support_job_limit,
    ) == (1000, 2000, 20_000)


# the attack of the review: 50 rows of 1,000 points for one member


def test_support_cannot_pass_its_limit_by_repeating_rows_for_one_member(
    shop, alice, support, manager, django_capture_on_commit_callbacks
):
    limits(shop, manager, support_grant_limit=1000)
    job = bulk_job_create(
        program=shop,
        kind=BulkJob.Kind.POINTS,
        data=rows(*["alice,1000,Goodwill"] * 10),
        created_by=support,
    )

    assert statuses(job)[:2] == [("ready", "")] * 2  # the member's day: 2,000 points
    assert statuses(job)[2:] == [("invalid", "support_daily_limit_exceeded")] * 8
    assert job.total == 2
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=support, run=bulk_job_run_task.delay)
    assert balance(alice) == 2000


def test_repeated_rows_are_refused_at_run_time_too(
    shop, alice, support, manager, django_capture_on_commit_callbacks
):
    """The preview is advice; the run checks each row again (the day may have moved on)."""
    limits(shop, manager, support_grant_limit=1000)
    job = bulk_job_create(
        program=shop, kind=BulkJob.Kind.POINTS, data=rows("alice,1000,x"), created_by=support
    )
    grant(shop, support, 1000)
    grant(shop, support, 500)
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=support, run=bulk_job_run_task.delay)

    assert statuses(BulkJob.objects.get(pk=job.pk)) == [("failed", "support_daily_limit_exceeded")]
    assert balance(alice) == 1500


def test_a_support_job_moves_at_most_the_job_limit(shop, support, manager):
    for n in range(30):
        MemberFactory(program=shop, external_id=f"m{n}")
    limits(shop, manager, support_job_limit=1000)
    data = rows(*[f"m{n},50,x" for n in range(30)])  # 1,500 points in all

    with pytest.raises(LoyaltyError) as refused:
        bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=data, created_by=support)

    assert refused.value.code == "support_job_limit_exceeded"
    assert "at most 1000 points; this one moves 1500" in refused.value.detail
    assert not BulkJob.objects.exists()
    bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=data, created_by=manager)


def test_the_limits_are_settings_only_a_manager_changes(shop, support, manager, staff_client):
    _user, client = staff_client(shop, User.Role.SUPPORT)
    with pytest.raises(RoleForbidden):
        program_update(program=shop, actor=support, support_daily_member_limit=10**6)
    program_url = reverse("admin:loyalty_program_change", args=[shop.pk])
    assert client.post(program_url, {"support_job_limit": "999999"}).status_code == 403

    limits(shop, manager, support_daily_member_limit=300, support_job_limit=5000)

    [entry] = AuditEntry.objects.filter(action="program.update")
    assert entry.changes == {
        "support_daily_member_limit": [2000, 300],
        "support_job_limit": [20000, 5000],
    }
    with pytest.raises(LoyaltyError):
        program_update(program=shop, actor=manager, support_job_limit=-1)


def test_the_program_page_edits_the_limits(shop, staff_client):
    _manager, client = staff_client(shop, User.Role.MANAGER)
    page = client.get(reverse("admin:loyalty_program_change", args=[shop.pk])).content.decode()
    assert 'name="support_daily_member_limit"' in page
    assert 'name="support_job_limit"' in page


# the member's day: single grants and bulk rows together


def test_the_daily_limit_holds_across_single_grants_and_bulk_rows(
    shop, alice, support, staff_client, django_capture_on_commit_callbacks
):
    _user, client = staff_client(shop, User.Role.SUPPORT)
    url = reverse("admin:loyalty_member_points", args=[alice.pk])
    form = {"action": "grant", "points": "100", "reason": "Goodwill"}

    for _n in range(19):  # 1,900 of the day's 2,000 (100 a change in this shop)
        client.post(url, {**form, "idempotency_key": str(uuid.uuid4())})
    job = bulk_job_create(
        program=shop, kind=BulkJob.Kind.POINTS, data=rows("alice,100,x", "alice,100,y"),
        created_by=support,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=support, run=bulk_job_run_task.delay)
    refused = client.post(url, {**form, "idempotency_key": str(uuid.uuid4())})

    assert statuses(job) == [("done", ""), ("invalid", "support_daily_limit_exceeded")]
    assert balance(alice) == 2000
    assert refused.status_code == 200
    shown = texts(refused)
    assert any("at most 2000 points a day for one member" in text for text in shown), shown


def test_deductions_count_and_the_day_starts_at_the_programs_midnight(
    shop, alice, support, manager
):
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: its day is not UTC's
    limits(shop, manager, time_zone=zone.key, support_grant_limit=1000,
           support_daily_member_limit=1000)  # fmt: skip
    grant(shop, None, 5000)  # the shop's API: not support's
    grant(shop, manager, 3000)  # a manager's: not support's either
    midnight = datetime.combine(timezone.localdate(timezone=zone), time.min, tzinfo=zone)

    def support_entry(points: int, at: datetime) -> None:
        LedgerEntry.objects.create(
            program_id=alice.program_id, member=alice, kind=LedgerEntry.Kind.GRANT, points=points,
            balance_after=8000,
            reason="earlier", idempotency_key=str(uuid.uuid4()), created_by=support, created_at=at,
        )  # fmt: skip

    support_entry(900, midnight - timedelta(seconds=1))  # yesterday, there
    support_entry(100, midnight + timedelta(seconds=1))  # today, there
    grant(shop, support, -500)
    grant(shop, support, 400)  # 100 + 500 + 400: the day's 1,000
    with pytest.raises(LoyaltyError) as refused:
        grant(shop, support, 1)

    assert refused.value.code == "support_daily_limit_exceeded"
    assert refused.value.status == 403


def test_a_manager_has_no_daily_limit(shop, alice, manager):
    for _n in range(5):
        grant(shop, manager, 5000)
    assert balance(alice) == 25_000


# a job runs as the one who starts it


def test_support_cannot_start_a_job_a_manager_previewed_above_supports_limit(
    shop, alice, manager, staff_client, django_capture_on_commit_callbacks
):
    job = bulk_job_create(
        program=shop, kind=BulkJob.Kind.POINTS, data=rows("alice,500,Big"), created_by=manager
    )  # support's limit is 100 a change in this shop
    _support, client = staff_client(shop, User.Role.SUPPORT)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("backoffice:bulk-job", args=[job.pk]))

    assert response.status_code == 302
    assert BulkJob.objects.get(pk=job.pk).status == BulkJob.Status.PREVIEW
    assert balance(alice) == 0
    assert not LedgerEntry.objects.exists()
    page = client.get(response["Location"])
    assert any("at most 100 points at once" in text for text in texts(page))


def test_support_cannot_start_a_managers_job_above_the_job_limit(shop, manager, support):
    for n in range(30):
        MemberFactory(program=shop, external_id=f"m{n}")
    job = bulk_job_create(
        program=shop,
        kind=BulkJob.Kind.POINTS,
        data=rows(*[f"m{n},100,x" for n in range(30)]),
        created_by=manager,
    )
    limits(shop, manager, support_job_limit=2000)

    with pytest.raises(LoyaltyError) as refused:
        bulk_job_start(job=job, user=support, run=bulk_job_run_task.delay)

    assert refused.value.code == "support_job_limit_exceeded"
    assert BulkJob.objects.get(pk=job.pk).status == BulkJob.Status.PREVIEW


def test_a_job_runs_as_the_one_who_starts_it_and_both_are_audited(
    shop, alice, manager, support, django_capture_on_commit_callbacks
):
    job = bulk_job_create(
        program=shop, kind=BulkJob.Kind.POINTS, data=rows("alice,50,Goodwill"), created_by=manager
    )
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=support, run=bulk_job_run_task.delay)

    job.refresh_from_db()
    assert (job.created_by, job.started_by) == (manager, support)
    assert LedgerEntry.objects.get(member=alice).created_by == support
    assert AuditEntry.objects.get(action="points.grant").actor == support
    preview = AuditEntry.objects.get(action="bulk.preview")
    start = AuditEntry.objects.get(action="bulk.start")
    assert (preview.actor, preview.target_id) == (manager, str(job.pk))
    assert (start.actor, start.target_id) == (support, str(job.pk))
    assert start.changes["previewed_by"] == manager.username
    assert start.changes["points"] == 50
    assert start.changes["rows"] == 1


def test_running_a_managers_job_again_runs_it_as_the_one_who_clicks(
    shop, alice, manager, support, django_capture_on_commit_callbacks
):
    """A job a manager started and left unfinished (a worker died): support's "run again"
    runs the rows left as support, within support's limits, never as the manager."""
    big = bulk_job_create(
        program=shop, kind=BulkJob.Kind.POINTS, data=rows("alice,500,Big"), created_by=manager
    )
    small = bulk_job_create(
        program=shop, kind=BulkJob.Kind.POINTS, data=rows("alice,50,Small"), created_by=manager
    )
    for job in (big, small):
        BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.RUNNING, started_by=manager)

    with pytest.raises(LoyaltyError) as refused:
        bulk_job_start(job=big, user=support, run=bulk_job_run_task.delay)
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=small, user=support, run=bulk_job_run_task.delay)

    assert refused.value.code == "grant_limit_exceeded"
    assert BulkJob.objects.get(pk=big.pk).started_by == manager
    assert LedgerEntry.objects.get(member=alice).created_by == support
    assert balance(alice) == 50
    again = AuditEntry.objects.get(action="bulk.start")
    assert (again.actor, again.changes["again"]) == (support, True)


def test_the_starters_role_is_checked_when_the_rows_run(shop, alice, support):
    """Demoted between the start and the run: the rows are refused, one by one."""
    job = bulk_job_create(
        program=shop, kind=BulkJob.Kind.POINTS, data=rows("alice,50,x"), created_by=support
    )
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.QUEUED, started_by=support)
    User.objects.filter(pk=support.pk).update(role=User.Role.VIEWER)

    bulk_job_run(job_id=job.pk)

    assert statuses(BulkJob.objects.get(pk=job.pk)) == [("failed", "role_forbidden")]
    assert balance(alice) == 0


def test_an_import_runs_as_its_starter_and_audits_each_change(
    shop, alice, manager, django_capture_on_commit_callbacks
):
    other_manager = StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)
    job = bulk_job_create(
        program=shop,
        kind=BulkJob.Kind.MEMBERS,
        data=b"external_id,email,name,locale\nalice,new@x.io,Alice B,es\n",
        created_by=manager,
    )
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=other_manager, run=bulk_job_run_task.delay)

    change = AuditEntry.objects.get(action="member.email_change")
    assert change.actor == other_manager
    assert AuditEntry.objects.get(action="member.import").actor == other_manager


# other merchants, viewers


def test_another_merchants_staff_is_refused_by_the_services(shop, other_shop, alice, manager):
    stranger = StaffFactory(merchant=other_shop.merchant, role=User.Role.MANAGER)
    job = bulk_job_create(
        program=shop, kind=BulkJob.Kind.POINTS, data=rows("alice,50,x"), created_by=manager
    )

    with pytest.raises(RoleForbidden):
        bulk_job_start(job=job, user=stranger, run=bulk_job_run_task.delay)
    with pytest.raises(RoleForbidden):
        bulk_job_create(
            program=shop, kind=BulkJob.Kind.POINTS, data=rows("alice,5,x"), created_by=stranger
        )
    with pytest.raises(RoleForbidden):
        grant(shop, stranger, 5)

    assert BulkJob.objects.get().status == BulkJob.Status.PREVIEW
    assert balance(alice) == 0


def test_a_viewer_can_neither_preview_nor_start(shop, alice, manager):
    viewer = StaffFactory(merchant=shop.merchant, role=User.Role.VIEWER)
    job = bulk_job_create(
        program=shop, kind=BulkJob.Kind.POINTS, data=rows("alice,50,x"), created_by=manager
    )
    with pytest.raises(RoleForbidden):
        bulk_job_start(job=job, user=viewer, run=bulk_job_run_task.delay)
    with pytest.raises(RoleForbidden):
        bulk_job_create(
            program=shop, kind=BulkJob.Kind.POINTS, data=rows("alice,5,x"), created_by=viewer
        )
    assert not AuditEntry.objects.filter(action="bulk.start").exists()


def test_support_uploads_and_starts_its_own_job_through_the_pages(
    shop, alice, staff_client, django_capture_on_commit_callbacks
):
    support, client = staff_client(shop, User.Role.SUPPORT)
    client.post(
        reverse("backoffice:bulk"),
        {
            "kind": "points",
            "reason": "Goodwill",
            "file": SimpleUploadedFile("g.csv", rows("alice,100,", "alice,100,"), "text/csv"),
        },
    )
    job = BulkJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("backoffice:bulk-job", args=[job.pk]))

    page = client.get(reverse("backoffice:bulk-job", args=[job.pk])).content.decode()
    assert balance(alice) == 200
    assert f"Started by {support.username}" in page


# at once: two requests cannot pass a limit together


def no_worker(job_id):
    """Started jobs stay queued for the test's own threads to run (no eager task)."""


@pytest.mark.django_db(transaction=True)
def test_support_grants_sent_at_once_cannot_pass_the_daily_limit():
    program = ProgramFactory()  # 1,000 a change, 2,000 a member a day
    alice = MemberFactory(program=program, external_id="alice")
    support = StaffFactory(merchant=program.merchant, role=User.Role.SUPPORT)

    results = at_once([lambda: grant(program, support, 1000) for _n in range(4)])

    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 2
    assert {getattr(r, "code", r) for r in refused} == {"support_daily_limit_exceeded"}
    assert balance(alice) == 2000


@pytest.mark.django_db(transaction=True)
def test_two_support_jobs_run_at_once_cannot_pass_the_daily_limit():
    program = ProgramFactory()
    alice = MemberFactory(program=program, external_id="alice")
    support = StaffFactory(merchant=program.merchant, role=User.Role.SUPPORT)
    jobs = [
        bulk_job_create(
            program=program,
            kind=BulkJob.Kind.POINTS,
            data=rows("alice,1000,a", "alice,1000,b"),
            created_by=support,
        )
        for _n in range(2)
    ]
    for job in jobs:
        bulk_job_start(job=job, user=support, run=no_worker)  # the workers below run them

    at_once([lambda job=job: bulk_job_run(job_id=job.pk) for job in jobs])

    assert balance(alice) == 2000
    codes = [code for job in jobs for _s, code in statuses(job)]
    assert sorted(codes) == ["", "", "support_daily_limit_exceeded", "support_daily_limit_exceeded"]


@pytest.mark.django_db(transaction=True)
def test_a_grant_and_a_job_at_once_cannot_pass_the_daily_limit():
    program = ProgramFactory()
    alice = MemberFactory(program=program, external_id="alice")
    support = StaffFactory(merchant=program.merchant, role=User.Role.SUPPORT)
    job = bulk_job_create(
        program=program,
        kind=BulkJob.Kind.POINTS,
        data=rows("alice,1000,a", "alice,1000,b"),
        created_by=support,
    )
    bulk_job_start(job=job, user=support, run=no_worker)  # the worker below runs it

    results = at_once([lambda: bulk_job_run(job_id=job.pk), lambda: grant(program, support, 1000)])

    assert balance(alice) == 2000
    failed = [code for _s, code in statuses(job) if code]
    refused = [r for r in results if isinstance(r, LoyaltyError)]
    assert len(failed) + len(refused) == 1
