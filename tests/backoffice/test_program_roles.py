"""Who may change a program's earning rules, campaigns, thresholds and tiers: managers of its
merchant (and superusers) only, in the admin and in the services alike; viewers and support
staff read them. Every change by a person is in the audit trail with before and after."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from loyalty.models import AuditEntry, Campaign, EarningRule, Program, Tier, User
from loyalty.roles import MerchantForbidden, RoleForbidden
from loyalty.services.earning_config import (
    campaign_delete,
    campaign_save,
    campaigns_replace,
    earning_rule_delete,
    earning_rule_save,
    rules_replace,
)
from loyalty.services.program_config import program_configure
from loyalty.services.tier_settings import tiers_replace
from rewards.models import RewardThreshold
from rewards.services.thresholds import thresholds_replace
from tests.factories import StaffFactory, api_key_for

pytestmark = pytest.mark.django_db

READ_ONLY_ROLES = [User.Role.VIEWER, User.Role.SUPPORT]

RULE_FORM = {"name": "Welcome", "active": "on", "points": "100000"}  # a sign-up bonus
CAMPAIGN_FORM = {
    "name": "x100",
    "active": "on",
    "start_date": "2026-01-01",
    "end_date": "2036-12-31",
    "multiplier": "100",
    "fixed_bonus": "0",
    "min_order_amount": "0",
}
RULES = [{"kind": "signup", "name": "Welcome", "parameters": {"points": 100000}}]
CAMPAIGNS = [
    {"name": "x100", "start_date": date(2026, 1, 1), "end_date": date(2036, 12, 31),
     "multiplier": "100"},
]  # fmt: skip
THRESHOLDS = [{"points": 1, "coupon": {"kind": "fixed", "value": "500.00"}}]
TIERS = [{"name": "Gold", "min_points": 1}]


@pytest.fixture
def rule(shop: Program) -> EarningRule:
    return EarningRule.objects.create(
        program=shop, kind="signup", name="Signup gift", parameters={"points": 50}
    )


@pytest.fixture
def campaign(shop: Program) -> Campaign:
    return Campaign.objects.create(
        program=shop, name="Weekend", start_date=date(2026, 12, 5), end_date=date(2026, 12, 6)
    )


def url(name: str, *args: object) -> str:
    return reverse(f"admin:loyalty_{name}", args=args)


# The admin, attacked with each read-only role


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_cannot_add_rules_or_campaigns_in_the_admin(shop, staff_client, role):
    _user, client = staff_client(shop, role)

    assert client.get(url("earningrule_add")).status_code == 403
    assert client.post(url("earningrule_add") + "?kind=signup", RULE_FORM).status_code == 403
    assert client.get(url("earningrule_add")).status_code == 403
    assert client.get(url("campaign_add")).status_code == 403
    assert client.post(url("campaign_add"), CAMPAIGN_FORM).status_code == 403

    assert not EarningRule.objects.exists()
    assert not Campaign.objects.exists()
    listing = client.get(url("earningrule_changelist"))
    assert listing.status_code == 200  # they still read them
    assert url("earningrule_add") not in listing.content.decode()


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_cannot_change_or_delete_rules_or_campaigns_in_the_admin(
    shop, staff_client, rule, campaign, role
):
    _user, client = staff_client(shop, role)

    changed = client.post(url("earningrule_change", rule.pk), {**RULE_FORM, "name": "Hacked"})
    deleted = client.post(url("earningrule_delete", rule.pk), {"post": "yes"})
    deleted_campaign = client.post(url("campaign_delete", campaign.pk), {"post": "yes"})
    bulk = client.post(
        url("campaign_changelist"),
        {"action": "delete_selected", "_selected_action": [campaign.pk], "post": "yes"},
    )

    assert (changed.status_code, deleted.status_code, deleted_campaign.status_code) == (
        403,
        403,
        403,
    )
    assert bulk.status_code in (200, 302, 403)
    rule.refresh_from_db()
    assert (rule.name, rule.parameters) == ("Signup gift", {"points": 50})
    assert Campaign.objects.filter(pk=campaign.pk).exists()
    assert not AuditEntry.objects.exists()


def test_a_manager_of_another_merchant_cannot_reach_the_rules(
    shop, other_shop, staff_client, rule, campaign
):
    _user, client = staff_client(other_shop, User.Role.MANAGER)

    assert client.get(url("earningrule_change", rule.pk)).status_code == 302  # "not found"
    client.post(url("earningrule_change", rule.pk), {**RULE_FORM, "name": "Hacked"})
    client.post(url("earningrule_delete", rule.pk), {"post": "yes"})
    client.post(
        url("campaign_changelist"),
        {"action": "delete_selected", "_selected_action": [campaign.pk], "post": "yes"},
    )

    rule.refresh_from_db()
    assert rule.name == "Signup gift"
    assert Campaign.objects.filter(pk=campaign.pk).exists()
    assert "Signup gift" not in client.get(url("earningrule_changelist")).content.decode()


# The services, called directly


def _writes(program: Program, actor: User) -> list:
    """Every way to change a program's configuration, as ``actor``."""
    new_rule = EarningRule(program=program, kind="signup", name="Big", parameters={"points": 1})
    new_campaign = Campaign(
        program=program, name="x100", start_date=date(2026, 1, 1), end_date=date(2026, 2, 1),
        multiplier=Decimal(100),
    )  # fmt: skip
    rule = EarningRule.objects.create(
        program=program, kind="birthday", name="Birthday", parameters={"points": 5}
    )
    campaign = Campaign.objects.create(
        program=program, name="Old", start_date=date(2026, 1, 1), end_date=date(2026, 1, 2)
    )
    rule.parameters = {"points": 100000}
    return [
        lambda: earning_rule_save(rule=new_rule, actor=actor),
        lambda: earning_rule_save(rule=rule, actor=actor),
        lambda: earning_rule_delete(rule=rule, actor=actor),
        lambda: campaign_save(campaign=new_campaign, actor=actor),
        lambda: campaign_delete(campaign=campaign, actor=actor),
        lambda: rules_replace(program=program, rules=RULES, actor=actor),
        lambda: campaigns_replace(program=program, campaigns=CAMPAIGNS, actor=actor),
        lambda: thresholds_replace(program=program, thresholds=THRESHOLDS, actor=actor),
        lambda: tiers_replace(program=program, tiers=TIERS, actor=actor),
        lambda: program_configure(program=program, earning_rules=RULES, actor=actor),
        lambda: program_configure(program=program, campaigns=CAMPAIGNS, actor=actor),
    ]


def _configuration(program: Program) -> tuple:
    return (
        sorted(EarningRule.objects.filter(program=program).values_list("name", "parameters")),
        sorted(Campaign.objects.filter(program=program).values_list("name", "multiplier")),
        list(RewardThreshold.objects.filter(program=program).values_list("points")),
        list(Tier.objects.filter(program=program).values_list("name")),
    )


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_are_refused_by_every_configuration_service(shop, role):
    user = StaffFactory(merchant=shop.merchant, role=role)
    writes = _writes(shop, user)
    before = _configuration(shop)

    for write in writes:
        with pytest.raises(RoleForbidden) as refused:
            write()
        assert refused.value.code == "role_forbidden"
        assert refused.value.status == 403

    assert _configuration(shop) == before
    assert not AuditEntry.objects.exists()


def test_a_manager_of_another_merchant_is_refused_by_every_configuration_service(shop, other_shop):
    stranger = StaffFactory(merchant=other_shop.merchant, role=User.Role.MANAGER)
    writes = _writes(shop, stranger)
    before = _configuration(shop)

    for write in writes:
        with pytest.raises(MerchantForbidden) as refused:
            write()
        assert refused.value.code == "merchant_forbidden"

    assert _configuration(shop) == before
    assert not AuditEntry.objects.exists()


def test_a_rule_cannot_be_moved_into_or_out_of_another_merchants_program(shop, other_shop):
    manager = StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)
    theirs = EarningRule.objects.create(
        program=other_shop, kind="signup", name="Theirs", parameters={"points": 1}
    )

    theirs.program = shop  # take it over
    with pytest.raises(MerchantForbidden):
        earning_rule_save(rule=theirs, actor=manager)
    mine = EarningRule.objects.create(
        program=shop, kind="signup", name="Mine", parameters={"points": 1}
    )
    mine.program = other_shop  # give it away
    with pytest.raises(MerchantForbidden):
        earning_rule_save(rule=mine, actor=manager)

    assert EarningRule.objects.get(pk=theirs.pk).program_id == other_shop.pk
    assert EarningRule.objects.get(pk=mine.pk).program_id == shop.pk


def test_managers_and_superusers_may_configure_the_program(shop):
    manager = StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)
    root = User.objects.create_superuser("root", "root@example.com", "pw")

    for actor in (manager, root):
        for write in _writes(shop, actor):
            write()

    assert EarningRule.objects.filter(program=shop, name="Welcome").exists()


# The audit trail


def test_each_rule_change_in_the_admin_is_audited_with_before_and_after(shop, staff_client):
    user, client = staff_client(shop, User.Role.MANAGER)

    added = client.post(url("earningrule_add") + "?kind=signup", {**RULE_FORM, "points": "100"})
    rule = EarningRule.objects.get()
    changed = client.post(url("earningrule_change", rule.pk), {**RULE_FORM, "points": "250"})
    deleted = client.post(url("earningrule_delete", rule.pk), {"post": "yes"})

    assert (added.status_code, changed.status_code, deleted.status_code) == (302, 302, 302)
    create, update, delete = AuditEntry.objects.order_by("pk")
    assert [e.action for e in (create, update, delete)] == [
        "earning_rule.create",
        "earning_rule.update",
        "earning_rule.delete",
    ]
    assert {(e.actor, e.merchant_id) for e in (create, update, delete)} == {
        (user, shop.merchant_id)
    }
    assert create.changes["parameters"] == [None, {"points": 100}]
    assert create.changes["kind"] == [None, "signup"]
    assert update.changes == {"parameters": [{"points": 100}, {"points": 250}]}
    assert delete.changes["parameters"] == [{"points": 250}, None]
    assert delete.changes["name"] == ["Welcome", None]
    assert delete.target_id == str(rule.pk)
    assert not EarningRule.objects.exists()


def test_each_campaign_change_in_the_admin_is_audited_with_before_and_after(shop, staff_client):
    user, client = staff_client(shop, User.Role.MANAGER)

    client.post(url("campaign_add"), {**CAMPAIGN_FORM, "multiplier": "2"})
    campaign = Campaign.objects.get()
    client.post(url("campaign_change", campaign.pk), {**CAMPAIGN_FORM, "multiplier": "3"})
    client.post(
        url("campaign_changelist"),
        {"action": "delete_selected", "_selected_action": [campaign.pk], "post": "yes"},
    )

    assert not Campaign.objects.exists()
    create, update, delete = AuditEntry.objects.order_by("pk")
    assert (create.action, update.action, delete.action) == (
        "campaign.create",
        "campaign.update",
        "campaign.delete",
    )
    assert create.changes["multiplier"] == [None, "2.00"]
    assert update.changes == {"multiplier": ["2.00", "3.00"]}
    assert delete.changes["multiplier"] == ["3.00", None]
    assert delete.changes["end_date"] == ["2036-12-31", None]
    assert {e.actor for e in (create, update, delete)} == {user}


def test_an_unchanged_save_leaves_no_entry(shop, rule):
    manager = StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)

    earning_rule_save(rule=rule, actor=manager)

    assert not AuditEntry.objects.exists()


def test_rules_and_campaigns_replaced_by_the_api_are_audited_with_the_key(client, shop, rule):
    raw_key = api_key_for(shop)

    response = client.put(
        "/api/v1/program",
        {"earning_rules": RULES, "campaigns": [{**CAMPAIGNS[0], "start_date": "2026-01-01",
                                                "end_date": "2036-12-31"}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw_key}",
    )  # fmt: skip

    assert response.status_code == 200, response.content
    rules = AuditEntry.objects.get(action="earning_rules.replace")
    campaigns = AuditEntry.objects.get(action="campaigns.replace")
    prefix = shop.merchant.api_keys.get().prefix
    assert (rules.actor, rules.actor_name) == (None, f"API key {prefix}")
    assert rules.merchant_id == shop.merchant_id
    [before], [after] = rules.changes["earning_rules"]
    assert (before["name"], before["parameters"]) == ("Signup gift", {"points": 50})
    assert after["parameters"] == {"points": 100000}
    assert campaigns.changes["campaigns"][0] == []
    assert campaigns.changes["campaigns"][1][0]["multiplier"] == "100.00"


def test_thresholds_and_tiers_changed_by_a_manager_are_audited(shop):
    manager = StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)

    program_configure(program=shop, thresholds=THRESHOLDS, tiers=TIERS, actor=manager)

    thresholds = AuditEntry.objects.get(action="thresholds.replace")
    tiers = AuditEntry.objects.get(action="tiers.replace")
    assert thresholds.actor == tiers.actor == manager
    assert thresholds.changes["thresholds"][1][0]["coupon"]["value"] == "500.000"
    assert tiers.changes["tiers"][1][0]["name"] == "Gold"


def test_a_superuser_adds_and_deletes_a_rule_for_any_program_in_the_admin(shop, superuser_client):
    root, client = superuser_client

    added = client.post(url("earningrule_add") + "?kind=signup", {**RULE_FORM, "program": shop.pk})
    rule = EarningRule.objects.get()
    deleted = client.post(url("earningrule_delete", rule.pk), {"post": "yes"})

    assert (added.status_code, deleted.status_code) == (302, 302)
    assert not EarningRule.objects.exists()
    assert [(e.action, e.actor, e.merchant_id) for e in AuditEntry.objects.order_by("pk")] == [
        ("earning_rule.create", root, shop.merchant_id),
        ("earning_rule.delete", root, shop.merchant_id),
    ]
