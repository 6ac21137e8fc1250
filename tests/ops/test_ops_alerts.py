"""The hourly check watches the program: ledger mismatches and stuck outboxes become alerts
on the dashboard and an email to the merchant's staff, once per occurrence."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from loyalty.models import Member, OpsAlert
from loyalty.selectors import ops_alerts
from loyalty.services.ops import ops_check
from loyalty.services.orders import order_record
from loyalty.tasks import ledger_check
from notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from tests.factories import MemberFactory, ProgramFactory, StaffFactory

pytestmark = pytest.mark.django_db


def _break_balance(member: Member, points: int = 7) -> None:
    # The cached balance is not protected by the ledger trigger: a bug could drift it.
    Member.objects.filter(pk=member.pk).update(balance=member.balance + points)


def _stale_notification(member: Member, minutes: int = 60) -> Notification:
    return Notification.objects.create(
        member=member,
        event="reward_issued",
        channel="email",
        dedupe_key=f"stale:{member.pk}:{minutes}",
        language="en",
        next_attempt_at=timezone.now() - timedelta(minutes=minutes),
    )


def test_a_ledger_mismatch_opens_an_alert_and_emails_the_merchants_managers(program):
    manager = StaffFactory(merchant=program.merchant, email="boss@shop.example")
    StaffFactory(merchant=program.merchant, email="gone@shop.example", is_active=False)
    StaffFactory(merchant=program.merchant, email="desk@shop.example", role="support")
    StaffFactory(email="other@shop.example")  # another merchant's staff hears nothing
    order_record(program=program, external_id="o-1", member_external_id="ann",
                 amount=Decimal("10"), currency="EUR")  # fmt: skip
    _break_balance(Member.objects.get(external_id="ann"))

    result = ops_check()

    assert result.mismatches == 1
    alert = OpsAlert.objects.get(merchant=program.merchant)
    assert alert.kind == OpsAlert.Kind.LEDGER_MISMATCH
    assert alert.count == 1
    assert "member ann: balance 107 but entries sum to 100" in alert.detail
    assert alert.notified_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [manager.email]
    assert "ledger mismatch" in mail.outbox[0].subject
    assert "member ann" in mail.outbox[0].body


def test_a_problem_seen_again_updates_the_alert_without_a_second_email(program):
    StaffFactory(merchant=program.merchant)
    member = MemberFactory(program=program)
    _break_balance(member)
    ops_check()
    _break_balance(MemberFactory(program=program))

    ops_check()

    alert = OpsAlert.objects.get(merchant=program.merchant)
    assert alert.count == 2
    assert len(mail.outbox) == 1


def test_the_alert_closes_when_the_problem_is_gone_and_a_new_one_emails_again(program):
    StaffFactory(merchant=program.merchant)
    member = MemberFactory(program=program)
    _break_balance(member)
    ops_check()
    Member.objects.filter(pk=member.pk).update(balance=0)

    result = ops_check()

    assert result.resolved == 1
    assert not ops_alerts(merchant=program.merchant).exists()
    _break_balance(member)
    ops_check()
    assert OpsAlert.objects.filter(merchant=program.merchant).count() == 2
    assert len(mail.outbox) == 2


def test_overdue_outbox_rows_raise_a_backlog_alert_but_fresh_or_retrying_rows_do_not(
    program, settings
):
    settings.OPS_OUTBOX_STALE_MINUTES = 15
    member = MemberFactory(program=program)
    _stale_notification(member, minutes=5)  # due recently: the worker may simply be busy
    Notification.objects.create(
        member=member, event="reward_issued", channel="email", dedupe_key="retry",
        language="en", next_attempt_at=timezone.now() + timedelta(minutes=30),
    )  # fmt: skip
    assert ops_check().backlog == 0

    _stale_notification(member, minutes=60)
    endpoint = WebhookEndpoint.objects.create(
        merchant=program.merchant, url="https://hooks.example/x", events=["order_recorded"]
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint, event="order_recorded", dedupe_key="k",
        next_attempt_at=timezone.now() - timedelta(hours=2),
    )  # fmt: skip

    result = ops_check()

    assert result.backlog == 2
    alert = ops_alerts(merchant=program.merchant).get()
    assert alert.kind == OpsAlert.Kind.OUTBOX_BACKLOG
    assert alert.count == 2


def test_ops_alerts_shows_only_the_merchants_own_open_alerts(program):
    other = ProgramFactory()
    _break_balance(MemberFactory(program=program))
    _break_balance(MemberFactory(program=other))
    ops_check()

    mine = list(ops_alerts(merchant=program.merchant))
    everything = list(ops_alerts(merchant=None))

    assert [a.merchant_id for a in mine] == [program.merchant_id]
    assert {a.merchant_id for a in everything} == {program.merchant_id, other.merchant_id}


def test_the_scheduled_ledger_check_runs_the_ops_check(program):
    StaffFactory(merchant=program.merchant)
    _break_balance(MemberFactory(program=program))

    assert ledger_check.apply().get() == 1

    assert ops_alerts(merchant=program.merchant).count() == 1
    assert len(mail.outbox) == 1


def test_an_open_alert_shows_on_the_admin_dashboard(program, client):
    OpsAlert.objects.create(
        merchant=program.merchant, kind=OpsAlert.Kind.OUTBOX_BACKLOG, count=7,
        detail="7 notifications overdue",
    )  # fmt: skip
    client.force_login(StaffFactory(merchant=program.merchant, role="viewer"))

    page = client.get("/admin/").content.decode()

    assert 'id="ops-alerts"' in page
    assert "7 notifications overdue" in page
