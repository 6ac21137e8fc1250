"""Coupon templates in the builder: written through ``coupon_template_save`` (a manager of the
template's merchant only, audited with before and after), refusals next to their field."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.models import AuditEntry
from loyalty.services.merchants import merchant_create
from rewards.models import CouponTemplate
from rewards.services.coupon_templates import coupon_template_save
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

TEMPLATE = {"name": "Spring", "kind": "fixed", "value": "7.50", "min_order_amount": "30",
            "valid_days": "14", "uses": "1"}  # fmt: skip


@pytest.fixture
def program():
    return merchant_create(slug="acme", name="Acme", currency="EUR").program


def staff(program, role="manager"):
    user = StaffFactory(merchant=program.merchant, role=role)
    client = Client()
    client.force_login(user)
    return user, client


def test_adding_and_changing_a_template_is_audited(program):
    user, client = staff(program)

    added = client.post(reverse("admin:rewards_coupontemplate_add"), TEMPLATE)
    template = CouponTemplate.objects.get(name="Spring")
    changed = client.post(
        reverse("admin:rewards_coupontemplate_change", args=[template.pk]),
        {**TEMPLATE, "value": "9"},
    )

    assert (added.status_code, changed.status_code) == (302, 302)
    create, update = AuditEntry.objects.filter(action__startswith="coupon_template").order_by("pk")
    assert (create.action, create.actor, create.merchant_id) == (
        "coupon_template.create", user, program.merchant_id,
    )  # fmt: skip
    assert create.changes["value"] == [None, "7.500"]
    assert update.changes == {"value": ["7.500", "9.000"]}


def test_a_template_refused_by_the_database_rule_reads_plainly(program):
    _user, client = staff(program)

    response = client.post(reverse("admin:rewards_coupontemplate_add"),
                           {**TEMPLATE, "uses": "0"})  # fmt: skip

    assert response.status_code == 200
    assert "is violated" not in response.text
    assert response.context["adminform"].form.errors["uses"]
    assert not CouponTemplate.objects.filter(name="Spring").exists()


def test_a_support_user_or_another_merchant_cannot_write_a_template(program):
    template = CouponTemplate.objects.create(program=program, name="T", kind="fixed",
                                             value=Decimal(5), valid_days=30)  # fmt: skip
    support, _client = staff(program, "support")
    other = merchant_create(slug="other", name="Other", currency="EUR").program
    outsider, _client = staff(other)

    template.value = Decimal(50)
    with pytest.raises(LoyaltyError):
        coupon_template_save(template=template, actor=support)
    with pytest.raises(LoyaltyError):
        coupon_template_save(template=template, actor=outsider)
    template.program = other  # moved into the outsider's own program: still refused
    with pytest.raises(LoyaltyError):
        coupon_template_save(template=template, actor=outsider)

    template.refresh_from_db()
    assert template.value == Decimal(5)
    assert not AuditEntry.objects.exists()


def test_a_template_never_moves_to_another_program(program):
    template = CouponTemplate.objects.create(program=program, name="T", kind="fixed",
                                             value=Decimal(5), valid_days=30)  # fmt: skip
    template.program = merchant_create(slug="other", name="Other", currency="USD").program

    with pytest.raises(InvalidInput) as refused:
        coupon_template_save(template=template, actor=None)

    assert "program" in refused.value.fields
