"""The management commands: what an operator types and what a script reads back."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from loyalty import demo, demo_plan
from loyalty.models import ApiKey, LedgerEntry, Member, Merchant, Order, User
from loyalty.services.api_keys import api_key_authenticate
from loyalty.services.orders import order_record
from rewards.models import Coupon, CouponEvent, Redemption
from tests.factories import MemberFactory, MerchantFactory


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# create_merchant


@pytest.mark.django_db
def test_create_merchant_makes_merchant_with_default_program():
    out, _ = run("create_merchant", "acme", "--name", "Acme Shop", "--currency", "usd")

    merchant = Merchant.objects.get(slug="acme")
    assert merchant.name == "Acme Shop"
    assert merchant.program.currency == "USD"
    assert merchant.program.earn_rate == Decimal("10")
    assert "Created merchant 'acme' (Acme Shop)" in out
    assert "USD, 10 points per 1.00, points valid 365 days" in out


@pytest.mark.django_db
def test_create_merchant_refuses_a_duplicate_slug():
    MerchantFactory(slug="acme")

    with pytest.raises(CommandError, match="slug: A merchant with this slug exists already"):
        run("create_merchant", "acme", "--name", "Other")

    assert Merchant.objects.filter(slug="acme").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["EURO", "EU", "E1R", ""])
def test_create_merchant_refuses_a_bad_currency(currency):
    with pytest.raises(CommandError, match="3-letter ISO 4217 code"):
        run("create_merchant", "acme", "--name", "Acme", "--currency", currency)

    assert not Merchant.objects.filter(slug="acme").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Not a slug!", "--name", "X"], "is not a slug"),
        (["acme"], "--name"),
        (["acme", "--name", "  "], "--name must not be empty"),
    ],
)
def test_create_merchant_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        run("create_merchant", *args)

    assert not Merchant.objects.exists()


# create_api_key


@pytest.mark.django_db
def test_create_api_key_prints_a_working_key_alone_on_the_last_line():
    merchant = MerchantFactory(slug="acme")

    out, _ = run("create_api_key", "acme", "--scopes", "orders,checkout", "--name", "Shopify")

    lines = out.splitlines()
    assert len(lines) > 1, "an explanation comes before the key"
    raw_key = lines[-1]
    assert raw_key.startswith("lk_")
    assert raw_key.strip() == raw_key
    key = api_key_authenticate(raw_key)
    assert key is not None
    assert key.merchant == merchant
    assert key.name == "Shopify"
    assert key.scopes == ["checkout", "orders"]
    assert raw_key not in "\n".join(lines[:-1])


@pytest.mark.django_db
def test_create_api_key_refuses_an_unknown_merchant():
    with pytest.raises(CommandError, match="No merchant with slug 'nope'"):
        run("create_api_key", "nope", "--scopes", "orders")

    assert not ApiKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("scopes", ["orders,admin", "", ",", "everything"])
def test_create_api_key_refuses_a_bad_scope(scopes):
    MerchantFactory(slug="acme")

    with pytest.raises(CommandError, match="scopes: Choose among: checkout, manage, orders"):
        run("create_api_key", "acme", "--scopes", scopes)

    assert not ApiKey.objects.exists()


# check_ledger


@pytest.mark.django_db
def test_check_ledger_passes_on_a_consistent_ledger(program):
    for n in range(3):
        order_record(
            program=program,
            external_id=f"A-{n}",
            member_external_id=f"c{n % 2}",
            amount=Decimal("10.00"),
            currency="EUR",
        )

    out, err = run("check_ledger")

    assert out.strip() == "ledger ok: 2 members, 3 entries checked"
    assert err == ""


@pytest.mark.django_db
def test_check_ledger_names_a_member_whose_balance_drifted(program):
    order_record(
        program=program,
        external_id="A-1",
        member_external_id="good",
        amount=Decimal("10.00"),
        currency="EUR",
    )
    order_record(
        program=program,
        external_id="A-2",
        member_external_id="drifted",
        amount=Decimal("10.00"),
        currency="EUR",
    )
    Member.objects.filter(external_id="drifted").update(balance=999)

    err = StringIO()
    with pytest.raises(CommandError, match=r"ledger mismatch: 1 member\(s\)"):
        call_command("check_ledger", stdout=StringIO(), stderr=err)

    assert "member drifted" in err.getvalue()
    assert "balance 999 but entries sum to 100" in err.getvalue()
    assert "good" not in err.getvalue()


@pytest.mark.django_db
def test_check_ledger_names_a_member_whose_chain_is_broken(member):
    # An entry whose balance_after skips ahead, with the cached balance matching the sum.
    LedgerEntry.objects.create(
        program_id=member.program_id,
        member=member,
        kind="grant",
        points=50,
        balance_after=80,
        reason="bad",
        idempotency_key="x",
    )
    Member.objects.filter(pk=member.pk).update(balance=50)

    err = StringIO()
    with pytest.raises(CommandError, match="ledger mismatch"):
        call_command("check_ledger", stdout=StringIO(), stderr=err)

    assert f"member {member.external_id}" in err.getvalue()
    assert "says balance 80 but the entries up to it sum to 50" in err.getvalue()


# seed_demo


def demo_counts() -> dict[str, int]:
    program = Merchant.objects.get(slug=demo.DEMO_SLUG).program
    return {
        "members": Member.objects.filter(program=program).count(),
        "orders": Order.objects.filter(program=program).count(),
        "refunded": Order.objects.filter(program=program, refunded_amount__gt=0).count(),
        "entries": LedgerEntry.objects.filter(member__program=program).count(),
        "grants": LedgerEntry.objects.filter(member__program=program, kind="grant").count(),
        "coupons": Coupon.objects.filter(program=program).count(),
        "redemptions": Redemption.objects.filter(coupon__program=program).count(),
        "coupon_events": CouponEvent.objects.filter(coupon__program=program).count(),
        "users": User.objects.count(),
        "keys": ApiKey.objects.count(),
    }


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="--force"):
        run("seed_demo", "--members", "5")

    assert not Merchant.objects.exists()


@pytest.mark.django_db
def test_seed_demo_twice_gives_the_same_data_and_a_sound_ledger(settings):
    settings.DEBUG = True
    settings.SITE_URL = "http://demo.test"

    out, _ = run("seed_demo", "--members", "30")
    first = demo_counts()
    again, _ = run("seed_demo", "--members", "30")

    assert demo_counts() == first
    assert first["members"] == 30
    assert first["orders"] >= 60
    assert first["refunded"] > 0
    assert first["entries"] > first["orders"]
    assert first["coupons"] > 0  # orders crossed the demo's reward thresholds
    assert "already present; nothing to do" in again
    expected = [
        "http://demo.test/admin/",
        "admin / admin",
        "staff / staff",
        "http://demo.test/api/docs/",
        "lk_demo_key_for_local_use_only",
    ]
    for text in expected:
        assert text in out
        assert text in again
    ledger, _ = run("check_ledger")
    assert ledger.startswith("ledger ok: 30 members")


@pytest.mark.django_db
def test_seed_demo_logins_and_api_key_work():
    call_command("seed_demo", "--members", "3", "--force", stdout=StringIO())

    merchant = Merchant.objects.get(slug="demo")
    assert merchant.name == "Demo Shop"
    assert merchant.program.currency == "EUR"
    admin = User.objects.get(username="admin")
    assert admin.is_staff
    assert admin.is_superuser
    assert admin.check_password("admin")
    staff = User.objects.get(username="staff")
    assert staff.is_staff
    assert not staff.is_superuser
    assert staff.merchant == merchant
    assert staff.check_password("staff")
    key = api_key_authenticate("lk_demo_key_for_local_use_only")
    assert key is not None
    assert key.merchant == merchant
    assert sorted(key.scopes) == ["checkout", "manage", "orders"]


@pytest.mark.django_db
def test_seed_demo_data_is_varied_and_realistic():
    call_command("seed_demo", "--members", "60", "--force", stdout=StringIO())

    program = Merchant.objects.get(slug="demo").program
    members = Member.objects.filter(program=program)
    assert set(members.values_list("locale", flat=True)) == {"en", "es", "ru", "tr"}
    assert all(member.email.endswith(tuple(demo_plan.EMAIL_DOMAINS)) for member in members)
    assert members.filter(consent_email=True).exists()
    assert members.filter(consent_email=False).exists()
    orders = Order.objects.filter(program=program)
    assert all(Decimal(5) <= order.amount <= Decimal(400) for order in orders)
    assert orders.filter(tax__gt=0).exists()
    assert orders.filter(shipping__gt=0).exists()
    assert orders.filter(status=Order.Status.REFUNDED).exists()
    assert orders.filter(status=Order.Status.PARTIALLY_REFUNDED).exists()
    staff = User.objects.get(username="staff")
    adjustments = LedgerEntry.objects.filter(member__program=program, kind__in=["grant", "deduct"])
    assert adjustments.exists()
    assert all(entry.created_by == staff and entry.reason for entry in adjustments)
    placed = sorted(orders.values_list("placed_at", flat=True))
    created = Merchant.objects.get(slug="demo").created_at
    assert placed[-1] < created
    assert placed[0] > created - timedelta(days=366)


@pytest.mark.django_db
def test_seed_demo_replayed_through_the_services_changes_nothing():
    """Even without the quick skip, every write replays onto the rows it made."""
    call_command("seed_demo", "--members", "10", "--force", stdout=StringIO())
    before = demo_counts()
    merchant = Merchant.objects.select_related("program").get(slug="demo")

    demo.demo_members_write(
        program=merchant.program,
        batch=demo_plan.demo_plan(members=10, now=merchant.created_at),
        staff=User.objects.get(username="staff"),
    )

    assert demo_counts() == before


def test_demo_plan_is_deterministic_and_a_bigger_plan_extends_a_smaller_one():
    now = Merchant(slug="x").created_at

    small = demo_plan.demo_plan(members=5, now=now)

    assert demo_plan.demo_plan(members=5, now=now) == small
    assert demo_plan.demo_plan(members=12, now=now)[:5] == small


@pytest.mark.django_db
def test_seed_demo_leaves_an_existing_admin_password_alone():
    User.objects.create_superuser("admin", "a@example.com", "my-own-password")

    out, _ = run("seed_demo", "--members", "1", "--force")

    assert User.objects.get(username="admin").check_password("my-own-password")
    assert "admin existed before the demo: its password was left alone" in out


@pytest.mark.django_db
def test_seed_demo_does_not_touch_other_merchants(program):
    MemberFactory(program=program, external_id="cus_00001")

    call_command("seed_demo", "--members", "2", "--force", stdout=StringIO())

    assert program.members.count() == 1
    assert not Order.objects.filter(program=program).exists()


# the schedule


@pytest.mark.django_db
def test_every_scheduled_task_is_a_registered_task_that_runs():
    from config.celery import app

    app.loader.import_default_modules()  # as a worker does at start: the apps' tasks
    assert settings.CELERY_BEAT_SCHEDULE, "the schedule lives in settings"
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        task = app.tasks.get(entry["task"])
        assert task is not None, f"{name}: no task {entry['task']}"
        result = task.apply()
        assert result.successful(), f"{name}: {result.result!r}"
