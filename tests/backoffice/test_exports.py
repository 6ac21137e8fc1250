"""Exports of members, the ledger and coupons: streamed for a date range, constant queries
and memory, one merchant's rows only."""

import csv
import io
import tracemalloc
from datetime import timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from loyalty.models import LedgerEntry, Member, Program
from tests.backoffice.conftest import entry_at
from tests.factories import MemberFactory
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db


def many_members(program: Program, n: int, prefix: str = "m") -> list[Member]:
    return Member.objects.bulk_create(
        Member(program=program, external_id=f"{prefix}-{i}", email=f"{prefix}{i}@x.io")
        for i in range(n)
    )


def read(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def stream_peak(client, kind: str) -> tuple[int, int, int]:
    """Lines sent, queries run and peak memory (bytes) while the export streams."""
    response = client.get(reverse("backoffice:export", args=[kind]))
    assert isinstance(response, StreamingHttpResponse)
    tracemalloc.start()
    with CaptureQueriesContext(connection) as queries:
        lines = sum(1 for _chunk in response.streaming_content)
    _size, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return lines, len(queries), peak


def test_members_export_is_streamed_with_constant_queries_and_memory(shop, staff_client):
    _user, client = staff_client(shop, "viewer")
    many_members(shop, 5000, "a")
    lines, queries, peak = stream_peak(client, "members")
    many_members(shop, 5000, "b")
    lines_twice, queries_twice, peak_twice = stream_peak(client, "members")

    assert (lines, lines_twice) == (5001, 10001)  # a header, then a line per member
    # One server-side cursor: DECLARE, a FETCH per 2,000 rows, CLOSE; never one per row.
    assert queries <= 8
    assert queries_twice <= queries + 3
    # Twice the rows, about the same memory: rows are never held together.
    assert peak_twice < peak * 1.4, (peak, peak_twice)


def test_ledger_export_holds_the_range_and_the_merchant_only(shop, other_shop, staff_client):
    member = MemberFactory(program=shop, external_id="alice")
    stranger = MemberFactory(program=other_shop, external_id="mallory")
    now = timezone.now()
    entry_at(member, LedgerEntry.Kind.EARN, 10, now - timedelta(days=2))
    entry_at(member, LedgerEntry.Kind.GRANT, 7, now)
    entry_at(member, LedgerEntry.Kind.EARN, 99, now - timedelta(days=40))
    entry_at(stranger, LedgerEntry.Kind.EARN, 55, now)
    _user, client = staff_client(shop)
    today = timezone.localdate()

    rows = read(
        client.get(
            reverse("backoffice:export", args=["ledger"]),
            {"start": today - timedelta(days=7), "end": today, "merchant": other_shop.merchant_id},
        )
    )

    assert rows[0][:5] == ["id", "created_at", "member", "kind", "points"]
    assert [(r[2], r[3], r[4]) for r in rows[1:]] == [
        ("alice", "earn", "10"),
        ("alice", "grant", "7"),
    ]


def test_coupons_export(shop, staff_client):
    member = MemberFactory(program=shop, external_id="alice")
    coupon = CouponFactory(program=shop, member=member)
    _user, client = staff_client(shop)

    rows = read(client.get(reverse("backoffice:export", args=["coupons"])))

    assert rows[1][0] == coupon.code
    assert rows[1][1] == "alice"


def test_unknown_export_is_not_found(shop, staff_client):
    _user, client = staff_client(shop)
    assert client.get(reverse("backoffice:export", args=["secrets"])).status_code == 404


def test_exports_need_a_login(client, shop):
    response = client.get(reverse("backoffice:export", args=["members"]))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
