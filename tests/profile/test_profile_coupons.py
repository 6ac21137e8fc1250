"""The profile page shows the member's newest coupons and links to all of them; the coupons
page lists every usable (or used and expired) coupon a keyset page at a time, in a fixed
number of queries, and only the signed-in member's own."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.profile.selectors import ACTIVE_COUPONS_SHOWN, COUPONS_PAGE_SIZE, PAST_COUPONS_SHOWN
from rewards.models import Coupon
from tests.factories import MemberFactory
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db

CODE = re.compile(r'data-testid="coupon-code">([^<]+)<')
OLDER = re.compile(r'href="\?([^"]*before=\d+)" rel="next"')
NEWER = re.compile(r'href="\?([^"]*after=\d+)" rel="prev"')


def coupons(member, n, **fields):
    return [CouponFactory(program=member.program, member=member, **fields) for _ in range(n)]


def get(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_shows_the_newest_coupons_and_links_to_all(signed_in, member):
    made = coupons(member, ACTIVE_COUPONS_SHOWN + 1)
    html = get(signed_in(member), "/profile/")
    shown = CODE.findall(html)
    assert shown == [c.display_code for c in reversed(made)][:ACTIVE_COUPONS_SHOWN]
    assert 'data-testid="all-coupons"' in html


def test_no_link_when_the_page_shows_them_all(signed_in, member):
    coupons(member, ACTIVE_COUPONS_SHOWN)
    coupons(member, PAST_COUPONS_SHOWN, status=Coupon.Status.REDEEMED)
    html = get(signed_in(member), "/profile/")
    assert len(CODE.findall(html)) == ACTIVE_COUPONS_SHOWN
    assert 'data-testid="all-coupons"' not in html


def test_more_past_coupons_than_shown_link_to_all_too(signed_in, member):
    coupons(member, PAST_COUPONS_SHOWN + 1, status=Coupon.Status.REDEEMED)
    assert 'data-testid="all-coupons"' in get(signed_in(member), "/profile/")


def test_the_coupons_page_pages_through_every_usable_coupon(signed_in, member):
    made = coupons(member, COUPONS_PAGE_SIZE * 2 + 3)
    expired = coupons(
        member,
        2,
        valid_from=timezone.now() - timedelta(days=31),
        valid_until=timezone.now() - timedelta(days=1),
    )
    client = signed_in(member)
    seen, path, pages = [], "/profile/coupons/", 0
    while path:
        html = get(client, path)
        seen += CODE.findall(html)
        pages += 1
        older = OLDER.search(html)
        path = f"/profile/coupons/?{older.group(1)}" if older else None
    assert pages == 3
    assert seen == [c.display_code for c in reversed(made)]
    assert not {c.display_code for c in expired} & set(seen)
    # The last page links back to newer ones, and "Newer" from there is the one before.
    newer = NEWER.search(html)
    assert newer
    before_last = get(client, f"/profile/coupons/?{newer.group(1)}")
    assert CODE.findall(before_last) == seen[COUPONS_PAGE_SIZE : COUPONS_PAGE_SIZE * 2]


def test_the_past_tab_lists_used_and_expired_coupons(signed_in, member):
    usable = coupons(member, 1)
    used = coupons(member, 1, status=Coupon.Status.REDEEMED)
    expired = coupons(
        member,
        1,
        valid_from=timezone.now() - timedelta(days=31),
        valid_until=timezone.now() - timedelta(days=1),
    )
    html = get(signed_in(member), "/profile/coupons/?past=1")
    assert usable[0].display_code not in html
    assert used[0].display_code in html
    assert expired[0].display_code in html
    assert 'aria-current="page">Used and expired' in html


def test_the_coupons_page_costs_the_same_for_3_or_60_coupons_first_page_or_deep(signed_in):
    few, many = MemberFactory(), MemberFactory()
    coupons(few, 3)
    made = coupons(many, 60)

    def queries(member, path):
        client = signed_in(member)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    assert (
        queries(few, "/profile/coupons/")
        == queries(many, "/profile/coupons/")
        == queries(many, f"/profile/coupons/?before={made[30].pk}")
    )


def test_only_the_members_own_coupons_whatever_the_cursor(signed_in, member):
    mine = coupons(member, 1)
    theirs = coupons(MemberFactory(), 3)
    client = signed_in(member)
    html = get(client, f"/profile/coupons/?before={theirs[-1].pk + 1}")
    assert CODE.findall(html) == [mine[0].display_code]
    for path in ("/profile/coupons/?before=abc", "/profile/coupons/?after=-4&past=yes"):
        assert CODE.findall(get(client, path)) == [mine[0].display_code]


def test_the_coupons_page_needs_a_signed_in_member(client):
    response = client.get("/profile/coupons/")
    assert response.status_code == 302
    assert response["Location"] == "/profile/"


@pytest.mark.parametrize(
    ("locale", "title"), [("es", "Tus cupones"), ("ru", "Ваши купоны"), ("tr", "Kuponlarınız")]
)
def test_the_coupons_page_speaks_the_members_language(signed_in, program, locale, title):
    member = MemberFactory(program=program, locale=locale)
    coupons(member, 1)
    assert f"<h1>{title}</h1>" in get(signed_in(member), "/profile/coupons/")


def test_the_past_tab_pages_within_the_past(signed_in, member):
    coupons(member, COUPONS_PAGE_SIZE + 1, status=Coupon.Status.REDEEMED)
    client = signed_in(member)
    html = get(client, "/profile/coupons/?past=1")
    older = OLDER.search(html)
    assert older
    assert older.group(1).startswith("past=1&amp;before=")
    last = get(client, "/profile/coupons/?" + older.group(1).replace("&amp;", "&"))
    assert 'aria-current="page">Used and expired' in last
    assert last.count('class="coupon past"') == 1
