"""Odd values in the address of a staff page get a clamp or a clear message, never a 500:
page numbers past bigint, dates past year 9999, digits that are not ASCII, NUL characters."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from loyalty.backoffice.dashboard import EARLIEST_DAY, FUTURE_DAYS, MAX_DAYS, dashboard_range
from loyalty.backoffice.params import BIGINT_MAX, id_param, int_param
from loyalty.models import BulkJob, LedgerEntry, Member, Program, User
from tests.backoffice.conftest import entry_at
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

HUGE = "1000000000000000000000"
ODD = [
    HUGE,
    "-" + HUGE,
    "9" * 5000,  # past the length Python turns into an int
    "-1",
    "0",
    "abc",
    "",
    "²",  # a digit to str.isdigit, not to int()
    "٣",  # an Arabic-Indic three: int() reads it
    "1e9",
    "9999",
    "9999-12-31",
    "0001-01-01",
    "10000-01-01",
    "2026-13-45",
    "\x00",
    "a\x00b",
]
# For the admin's lists (Django's own filters among them): fewer values, the ones that broke.
ODD_FILTERS = [HUGE, "-1", "²", "9999", "9999-12-31", "a\x00b"]


def _get_each(
    client: Client, url: str, param: str, base: dict[str, str], values: list[str] = ODD
) -> list[str]:
    """GET ``url`` once per odd value of ``param``; the answers that were server errors."""
    errors = []
    for value in values:
        try:
            # Each in a savepoint: a database error must not hide the requests after it.
            with transaction.atomic():
                response = client.get(url, {**base, param: value})
                if response.streaming:
                    b"".join(response.streaming_content)
        except Exception as error:
            errors.append(f"{param}={value[:30]!r}: {error!r}"[:200])
        else:
            if response.status_code >= 500:
                errors.append(f"{param}={value[:30]!r}: {response.status_code}")
    return errors


@pytest.fixture
def world(shop: Program) -> SimpleNamespace:
    """A member with a ledger entry, a bulk job, and a superuser's client (a superuser sees
    every page, and says which merchant with ``?merchant=``)."""
    member = MemberFactory(program=shop)
    entry_at(member, LedgerEntry.Kind.GRANT, 10, timezone.now())
    superuser = User.objects.create_superuser("root", "root@example.com", "pw")
    job = BulkJob.objects.create(
        program=shop, merchant=shop.merchant, kind=BulkJob.Kind.POINTS, created_by=superuser
    )
    client = Client()
    client.force_login(superuser)
    return SimpleNamespace(
        member=member, job=job, user=superuser, client=client, merchant=str(shop.merchant_id)
    )


# (page, its own query parameters); a superuser also says which merchant (``merchant``).
PAGES = [
    ("admin:index", (), ["start", "end", "merchant"]),
    ("backoffice:dashboard-csv", (), ["start", "end", "merchant"]),
    ("backoffice:export", ("members",), ["start", "end", "merchant"]),
    ("backoffice:export", ("ledger",), ["start", "end"]),
    ("backoffice:export", ("coupons",), ["start", "end"]),
    ("backoffice:bulk", (), ["merchant"]),
    ("admin:loyalty_member_change", ("member",), ["ledger_page"]),
    (
        "admin:loyalty_member_changelist",
        (),
        ["balance_range", "expiring_within", "last_order", "tier", "q", "p", "o"],
    ),
    ("admin:rewards_coupon_issue_csv", (), ["program"]),
    ("admin:notifications_notificationtemplate_add", (), ["event", "channel", "language"]),
]


@pytest.mark.parametrize(
    ("name", "args", "param"),
    [(name, args, param) for name, args, params in PAGES for param in params],
)
def test_backoffice_pages_answer_odd_values_without_a_server_error(world, name, args, param):
    ids = {"member": world.member.pk, "job": world.job.pk}
    url = reverse(name, args=[ids.get(arg, arg) for arg in args])
    base = {} if param == "merchant" else {"merchant": world.merchant}

    assert _get_each(world.client, url, param, base) == []


def _list_params(model_admin: admin.ModelAdmin, user: User) -> list[str]:
    """The parameters a model's list reads: its filters', the date drill-down's, the search."""
    request = RequestFactory().get("/")
    request.user = user
    changelist = model_admin.get_changelist_instance(request)
    params = ["q"]
    for spec in changelist.filter_specs:
        params += spec.expected_parameters()
    if model_admin.date_hierarchy:
        params += [f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day")]
    return params


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda model: model._meta.label)
def test_every_admin_list_answers_odd_filters_without_a_server_error(world, model):
    model_admin = admin.site._registry[model]
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    errors = [
        error
        for param in _list_params(model_admin, world.user)
        for error in _get_each(world.client, url, param, {}, ODD_FILTERS)
    ]

    assert errors == []


@pytest.mark.parametrize("value", [HUGE, "-5", "0"])
def test_odd_ids_in_paths_are_not_found(world, value):
    client = world.client

    for url in (
        f"/admin/loyalty/member/{value}/change/",
        f"/admin/loyalty/ledgerentry/{value}/change/",
        f"/admin/backoffice/bulk/{value}/",
        f"/admin/backoffice/bulk/{value}/status",
        f"/admin/backoffice/bulk/{value}/report.csv",
    ):
        assert client.get(url).status_code in (302, 404), url


def test_a_ledger_page_past_bigint_is_the_last_page_there_can_be(shop, staff_client):
    member = MemberFactory(program=shop)
    entry_at(member, LedgerEntry.Kind.GRANT, 10, timezone.now())
    _user, client = staff_client(shop, "viewer")
    url = reverse("admin:loyalty_member_change", args=[member.pk])

    response = client.get(url, {"ledger_page": HUGE})

    assert response.status_code == 200
    assert response.context["ledger_page"] == 100_000
    assert "No entries on this page." in response.text
    assert client.get(url, {"ledger_page": "-3"}).context["ledger_page"] == 1


@pytest.mark.parametrize("page", ["admin:index", "backoffice:dashboard-csv", "ledger-export"])
def test_dashboard_and_exports_clamp_a_range_past_the_calendar(shop, staff_client, page):
    member = MemberFactory(program=shop)
    entry_at(member, LedgerEntry.Kind.GRANT, 10, timezone.now())
    _user, client = staff_client(shop, "viewer")
    url = (
        reverse("backoffice:export", args=["ledger"]) if page == "ledger-export" else reverse(page)
    )
    latest = timezone.localdate() + timedelta(days=FUTURE_DAYS)

    response = client.get(url, {"start": "2026-01-01", "end": "9999-12-31"})

    assert response.status_code == 200
    if page == "admin:index":
        assert f'value="{latest.isoformat()}"' in response.text
    else:
        assert f"-{latest.isoformat()}.csv" in response["Content-Disposition"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-31", "9999-12-31"),
        ("0001-01-01", "0001-01-01"),
        ("0001-01-01", "9999-12-31"),
        ("9999-12-31", "0001-01-01"),
        ("0001-01-01", None),
        (None, "0001-01-02"),
        ("x", "y"),
    ],
)
def test_dashboard_range_stays_in_the_calendar_it_can_count(start, end):
    first, last = dashboard_range(start, end)

    assert EARLIEST_DAY <= first <= last <= timezone.localdate() + timedelta(days=FUTURE_DAYS)
    assert (last - first).days <= MAX_DAYS


def test_dashboard_range_keeps_a_sane_range_as_asked():
    assert dashboard_range("2026-01-05", "2026-01-18") == (date(2026, 1, 5), date(2026, 1, 18))


def test_a_date_drill_down_past_year_9999_shows_the_whole_list_with_a_message(world):
    client = world.client
    url = reverse("admin:loyalty_ledgerentry_changelist")

    response = client.get(url, {"created_at__year": "9999"})

    assert response.status_code == 302
    assert response["Location"].endswith(f"?{ERROR_FLAG}=1")
    shown = client.get(response["Location"])
    assert shown.status_code == 200
    assert "A filter in the address could not be used" in shown.text


def test_a_nul_character_in_a_list_filter_shows_the_whole_list_with_a_message(shop, staff_client):
    MemberFactory(program=shop, locale="es")
    _user, client = staff_client(shop, "viewer")
    url = reverse("admin:loyalty_member_changelist")

    response = client.get(url, {"locale": "es\x00"}, follow=True)

    assert response.status_code == 200
    assert "A filter in the address could not be used" in response.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 7),
        ("", 7),
        ("abc", 7),
        ("-3", 7),
        ("²", 7),
        ("0", 1),
        ("5", 5),
        (" 5 ", 5),
        ("٣", 3),
        ("0005", 5),
        ("99", 50),
        (HUGE, 50),
        ("9" * 5000, 50),
    ],
)
def test_int_param_clamps_numbers_and_defaults_the_rest(value, expected):
    assert int_param(value, default=7, low=1, high=50) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        ("0", None),
        ("-1", None),
        ("²", None),
        (str(BIGINT_MAX), BIGINT_MAX),
        (str(BIGINT_MAX + 1), None),
        (HUGE, None),
        (None, None),
    ],
)
def test_id_param_is_an_id_postgresql_can_hold_or_none(value, expected):
    assert id_param(value) == expected


def test_member_filters_read_days_and_balances_as_clamped_numbers(shop, staff_client):
    rich = MemberFactory(program=shop, balance=5_000)
    _user, client = staff_client(shop, "viewer")
    url = reverse("admin:loyalty_member_changelist")

    def shown(**params: str) -> set[int]:
        response = client.get(url, params)
        assert response.status_code == 200
        return {member.pk for member in response.context["cl"].result_list}

    assert shown(balance_range=f"100-{HUGE}") == {rich.pk}
    assert shown(last_order=HUGE) == set()  # nobody ordered: nobody in the last century
    assert shown(expiring_within="²") == {rich.pk}  # not a number: no filter
    assert Member.objects.filter(program=shop).count() == 1
