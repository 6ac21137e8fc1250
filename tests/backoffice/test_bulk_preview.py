"""A bulk job's preview as staff read it: each row as uploaded, the refused column and why,
totals before running (valid and refused rows, points, members touched), and no "run
again" once nothing is left to run."""

import re

import pytest
from django.urls import reverse

from loyalty.models import BulkJob, BulkRow, User
from loyalty.selectors.bulk import bulk_job_totals
from loyalty.services.bulk import bulk_job_create, bulk_job_run
from tests.backoffice.test_bulk import POINTS_CSV
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def members(shop):
    return [MemberFactory(program=shop, external_id=name) for name in ("alice", "bob", "carol")]


def job_page(client, job: BulkJob) -> str:
    return client.get(reverse("backoffice:bulk-job", args=[job.pk])).content.decode()


def refused_rows(html: str) -> dict[str, str]:
    """The refused rows' table: line -> the row's HTML."""
    table = re.search(r'<table id="bulk-invalid">.*?</table>', html, re.S).group(0)
    return {
        re.match(r"<tr><td>(\d+)</td>", row).group(1): row
        for row in re.findall(r"<tr><td>\d+</td>.*?</tr>", table, re.S)
    }


def test_each_refused_row_shows_its_cells_as_uploaded_and_the_refused_column(
    shop, members, staff_client
):
    user, client = staff_client(shop)
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=POINTS_CSV, created_by=user)

    rows = refused_rows(job_page(client, job))

    assert sorted(rows, key=int) == ["4", "5", "6", "7"]  # the file's lines (header is 1)
    not_a_number = rows["5"]
    assert '<td class="">alice</td>' in not_a_number
    assert '<td class="refused-cell">abc</td>' in not_a_number
    assert "Not a number" in not_a_number
    assert '<strong class="refused-column">points</strong>:' in not_a_number
    assert "whole number of points" in not_a_number
    assert '<td class="refused-cell">ghost</td>' in rows["4"]
    assert '<strong class="refused-column">external_id</strong>:' in rows["4"]
    assert '<td class="refused-cell empty-cell">(empty)</td>' in rows["7"]  # carol's reason
    assert '<strong class="refused-column">reason</strong>:' in rows["7"]


def test_no_python_values_on_the_page(shop, members, staff_client):
    user, client = staff_client(shop)
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=POINTS_CSV, created_by=user)

    html = job_page(client, job)

    assert "{}" not in html
    assert "{&#x27;" not in html
    assert "&#x27;points&#x27;:" not in html


def test_the_cells_stored_are_the_files_own(shop, members):
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=POINTS_CSV)

    row = job.rows.get(line=5)

    assert row.values == {"external_id": "alice", "points": "abc", "reason": "Not a number"}
    assert (row.status, row.field) == (BulkRow.Status.INVALID, "points")
    assert job.rows.get(line=2).field == ""


def test_totals_before_running(shop, members, staff_client):
    user, client = staff_client(shop)
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=POINTS_CSV, created_by=user)

    totals = bulk_job_totals(job=job)
    html = job_page(client, job)

    # alice +50, bob -5, alice +500 run; ghost, abc, 0 and carol without reason are refused.
    assert (totals.rows, totals.valid, totals.refused) == (7, 3, 4)
    assert (totals.granted, totals.deducted, totals.members) == (550, 5, 2)
    assert '<span class="figure" id="total-rows">7</span>' in html
    assert '<span class="figure" id="total-valid">3</span>' in html
    assert '<span class="figure" id="total-refused">4</span>' in html
    assert '<span class="figure" id="total-points">+550 / &minus;5</span>' in html
    assert '<span class="figure" id="total-members">2</span>' in html
    assert "grants 550 points and deducts 5 points, for 2 members" in html
    assert 'value="Run the 3 ready rows"' in html


def test_support_sees_its_limit_on_the_points_column(shop, members, staff_client):
    user, client = staff_client(shop, User.Role.SUPPORT)
    data = b"external_id,points,reason\nalice,50,ok\nbob,500,too much\n"
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=data, created_by=user)

    rows = refused_rows(job_page(client, job))

    assert list(rows) == ["3"]
    assert '<td class="refused-cell">500</td>' in rows["3"]
    assert bulk_job_totals(job=job).granted == 50


def test_a_file_with_nothing_to_run_says_so_and_offers_no_button(shop, members, staff_client):
    user, client = staff_client(shop)
    data = b"external_id,points,reason\nghost,5,x\nalice,zero,y\n"
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=data, created_by=user)

    html = job_page(client, job)

    assert 'id="bulk-confirm"' not in html
    assert "No row can run" in html


def test_a_finished_job_offers_no_run_again(shop, members, staff_client):
    user, client = staff_client(shop)
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=POINTS_CSV, created_by=user)
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.QUEUED, started_by=user)
    bulk_job_run(job_id=job.pk)

    html = job_page(client, job)

    assert BulkJob.objects.get(pk=job.pk).status == BulkJob.Status.DONE
    assert 'id="bulk-rerun"' not in html
    assert 'id="bulk-confirm"' not in html
    assert "Run again" not in html
    # bob's deduction failed when run (no points to take): counted with the refused rows.
    assert job.rows.get(line=3).status == BulkRow.Status.FAILED
    assert '<span class="figure" id="total-valid">2</span>' in html  # done rows count
    assert '<span class="figure" id="total-refused">5</span>' in html


def test_a_stopped_job_offers_to_run_what_is_left(shop, members, staff_client):
    user, client = staff_client(shop)
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=POINTS_CSV, created_by=user)
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.RUNNING, started_by=user)
    job.rows.filter(line=2).update(status=BulkRow.Status.DONE)  # a run stopped after one row

    html = job_page(client, job)

    assert 'id="bulk-rerun"' in html
    assert 'value="Run the 2 rows not done yet"' in html


def test_a_cell_is_shown_as_text_not_markup(shop, members, staff_client):
    user, client = staff_client(shop)
    data = b"external_id,points,reason\n<b>x</b>,5,<script>alert(1)</script>\n"
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.POINTS, data=data, created_by=user)

    html = job_page(client, job)

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_members_and_coupon_files_show_their_own_columns(shop, members, staff_client):
    user, client = staff_client(shop)
    data = b"external_id,email,name,locale\ndave,d@example.com,Dave,xx\neve,,Eve,es\n"
    job = bulk_job_create(program=shop, kind=BulkJob.Kind.MEMBERS, data=data, created_by=user)

    html = job_page(client, job)

    assert "<th>email</th><th>name</th><th>locale</th>" in html
    assert '<td class="refused-cell">xx</td>' in refused_rows(html)["2"]
    assert "creates or updates 1 member." in html
