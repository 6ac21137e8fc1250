"""The audit trail: every staff change of money-like data is recorded with who, when, what
changed and why; searchable in the admin, never editable (the database refuses it)."""

import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from loyalty.audit import audit_record
from loyalty.models import AuditEntry, Member, Program, User
from loyalty.services.merchants import program_update
from notifications.models import NotificationTemplate
from rewards.models import Coupon
from tests.factories import MemberFactory, StaffFactory
from tests.loyalty.test_admin import program_data
from tests.notifications.test_admin import template_data
from tests.rewards.factories import CouponFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(shop: Program) -> Member:
    return MemberFactory(program=shop, external_id="alice")


def only_entry(**filters) -> AuditEntry:
    [entry] = AuditEntry.objects.filter(**filters)
    return entry


def test_a_grant_from_the_admin_is_recorded(shop, alice, staff_client):
    user, client = staff_client(shop)

    client.post(
        reverse("admin:loyalty_member_points", args=[alice.pk]),
        {"action": "deduct", "points": "0", "reason": "x", "idempotency_key": str(uuid.uuid4())},
    )  # refused (zero): nothing recorded
    client.post(
        reverse("admin:loyalty_member_points", args=[alice.pk]),
        {
            "action": "grant",
            "points": "40",
            "reason": "Late parcel",
            "idempotency_key": str(uuid.uuid4()),
        },
    )

    entry = only_entry(action="points.grant")
    assert (entry.actor, entry.actor_name, entry.merchant_id) == (
        user,
        user.username,
        shop.merchant_id,
    )
    assert (entry.target_type, entry.target_id) == ("loyalty.member", str(alice.pk))
    assert entry.changes == {"points": 40, "balance": [0, 40]}
    assert entry.reason == "Late parcel"
    assert entry.created_at is not None


def test_a_void_from_the_admin_is_recorded(shop, alice, staff_client):
    _user, client = staff_client(shop)
    coupon = CouponFactory(program=shop, member=alice)

    client.post(
        reverse("admin:rewards_coupon_changelist"),
        {"action": "void", "_selected_action": [coupon.pk], "apply": "1", "reason": "Fraud"},
    )

    entry = only_entry(action="coupon.void")
    assert entry.changes["status"] == ["active", "void"]
    assert (entry.reason, entry.target_id) == ("Fraud", str(coupon.pk))


def test_compensation_coupons_from_the_admin_are_recorded(shop, alice, staff_client):
    _user, client = staff_client(shop, User.Role.SUPPORT)

    client.post(
        reverse("admin:loyalty_member_coupon", args=[alice.pk]),
        {"apply": "1", "key": str(uuid.uuid4()), "kind": "fixed", "value": "5",
         "min_order_amount": "0", "valid_days": "30", "uses": "1", "reason": "Parcel lost",
         "source": "compensation"},
    )  # fmt: skip

    entry = only_entry(action="coupon.issue_batch")
    coupon = Coupon.objects.get(member=alice)
    assert entry.changes["issued"] == [coupon.display_code]
    assert entry.changes["count"] == 1
    assert entry.reason == "Parcel lost"


def test_program_edits_record_old_and_new_values(shop, staff_client):
    user, client = staff_client(shop)

    response = client.post(
        reverse("admin:loyalty_program_change", args=[shop.pk]),
        program_data(shop, earn_rate="12.5", points_validity_days=400),
    )

    assert response.status_code == 302
    entry = only_entry(action="program.update")
    assert entry.actor == user
    assert entry.changes == {"earn_rate": ["10.0000", "12.5"], "points_validity_days": [365, 400]}


def test_program_edits_through_the_service_without_an_actor_are_not_staff_actions(shop):
    program_update(program=shop, name="From the API")
    assert not AuditEntry.objects.exists()


def test_template_edits_are_recorded(shop, staff_client):
    user, client = staff_client(shop)
    client.post(reverse("admin:notifications_notificationtemplate_add"), template_data())
    template = NotificationTemplate.objects.get()
    client.post(
        reverse("admin:notifications_notificationtemplate_change", args=[template.pk]),
        template_data(subject="New subject {{ points }}"),
    )

    created = only_entry(action="template.create")
    updated = only_entry(action="template.update")
    assert created.changes["subject"] == [None, "{{ points }} points for you"]
    assert updated.changes == {
        "subject": ["{{ points }} points for you", "New subject {{ points }}"]
    }
    assert updated.actor == user


def test_entries_are_never_updated_nor_deleted_by_the_database(shop):
    entry = audit_record(
        merchant=shop.merchant, actor=None, action="points.grant", target=shop, changes={}
    )
    for statement in (
        "UPDATE loyalty_auditentry SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM loyalty_auditentry WHERE id = %s",
    ):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement, [entry.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(reason="rewritten")
    entry.refresh_from_db()
    assert entry.reason == ""


def test_the_trail_is_searchable_and_read_only_in_the_admin(shop, other_shop, alice, staff_client):
    manager = StaffFactory(merchant=shop.merchant)
    mine = audit_record(merchant=shop.merchant, actor=manager, action="points.grant",
                        target=alice, changes={"points": 5}, reason="Birthday gift")  # fmt: skip
    audit_record(merchant=shop.merchant, actor=manager, action="coupon.void", target=alice,
                 changes={}, reason="Fraud")  # fmt: skip
    audit_record(merchant=other_shop.merchant, actor=None, action="points.grant", target=None,
                 changes={}, reason="Birthday of another shop")  # fmt: skip
    _user, client = staff_client(shop, User.Role.MANAGER)
    changelist = reverse("admin:loyalty_auditentry_changelist")

    found = client.get(changelist, {"q": "birthday"})
    assert list(found.context["cl"].result_list) == [mine]
    assert client.get(changelist, {"q": manager.username}).context["cl"].result_count == 2

    detail = reverse("admin:loyalty_auditentry_change", args=[mine.pk])
    assert client.get(detail).status_code == 200
    assert client.post(detail, {"reason": "rewritten"}).status_code == 403
    assert client.get(reverse("admin:loyalty_auditentry_add")).status_code == 403
    delete = reverse("admin:loyalty_auditentry_delete", args=[mine.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    mine.refresh_from_db()
    assert mine.reason == "Birthday gift"


def test_superusers_cannot_edit_the_trail_either(shop, superuser_client):
    entry = audit_record(merchant=shop.merchant, actor=None, action="x", target=None, changes={})
    _user, client = superuser_client
    detail = reverse("admin:loyalty_auditentry_change", args=[entry.pk])
    assert client.post(detail, {"reason": "rewritten"}).status_code == 403


def test_only_values_that_really_change_are_recorded(shop):
    manager = StaffFactory(merchant=shop.merchant)
    program_update(program=shop, actor=manager, earn_rate="10", name=shop.name)
    assert not AuditEntry.objects.exists()
    program_update(program=shop, actor=manager, earn_rate="10", name="Renamed", reason="Rebrand")
    entry = only_entry(action="program.update")
    assert entry.changes == {"name": [f"{shop.name}", "Renamed"]}
    assert entry.reason == "Rebrand"
