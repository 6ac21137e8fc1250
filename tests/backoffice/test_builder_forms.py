"""The program builder's forms (issue #20, point 1): tiers as cards, earning rules one form
per kind, campaigns with tiers and named conditions; every refusal next to its field in
plain words (never "Constraint ... is violated"), nothing saved, writes through the
services (role checked, audited), scoped to the staff member's program."""

from decimal import Decimal

import pytest
from django import forms as django_forms
from django.test import Client
from django.urls import reverse

from loyalty.forms import PlainConstraintForm
from loyalty.models import AuditEntry, Campaign, EarningRule, Program, Tier
from loyalty.services.merchants import merchant_create
from tests.factories import StaffFactory
from tests.loyalty.test_tiers_admin import existing_rows, program_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    return merchant_create(slug="acme", name="Acme", currency="EUR").program


def staff(program, role="manager"):
    client = Client()
    client.force_login(StaffFactory(merchant=program.merchant, role=role))
    return client


def form_of(response):
    return response.context["adminform"].form


def tier_errors(response):
    return [form.errors for form in response.context["inline_admin_formsets"][0].formset.forms]


# --- the program page: settings and tier cards ------------------------------------------


def test_a_negative_earn_rate_is_refused_next_to_its_field_in_plain_words(program):
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    data = {**program_post(program, existing_rows(program)), "earn_rate": "-1"}

    response = staff(program).post(url, data)

    assert response.status_code == 200
    assert form_of(response).errors == {"earn_rate": ["Give points per 1.00 between 0 and 100000."]}
    assert "is violated" not in response.text
    program.refresh_from_db()
    assert program.earn_rate == Decimal(10)


def test_two_cards_with_one_name_are_refused_on_the_card_that_repeats_it(program):
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    rows = existing_rows(program)
    rows[2]["name"] = "gold"

    response = staff(program).post(url, program_post(program, rows))

    assert response.status_code == 200
    assert tier_errors(response)[2] == {"name": ["Two tiers with one name."]}
    assert "is violated" not in response.text
    assert Tier.objects.filter(program=program, name="Diamond").exists()


def test_a_card_below_the_multiplier_floor_is_refused_next_to_the_multiplier(program):
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    rows = existing_rows(program)
    rows[1]["earn_multiplier"] = "0.5"
    rows[1]["window_days"] = "0"

    response = staff(program).post(url, program_post(program, rows))

    errors = tier_errors(response)[1]
    assert errors["earn_multiplier"] == ["Give a multiplier from 1 to 100 (1: no extra points)."]
    assert errors["window_days"] == ["Give a window from 1 to 3650 days."]
    assert "is violated" not in response.text


def test_swapping_two_tiers_names_is_fine(program):
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    rows = existing_rows(program)
    rows[0]["name"], rows[1]["name"] = "Platinum", "Gold"

    response = staff(program).post(url, program_post(program, rows))

    assert response.status_code == 302
    names = list(Tier.objects.filter(program=program).values_list("name", flat=True))
    assert names == ["Platinum", "Gold", "Diamond"]


def test_a_colour_that_is_not_a_colour_is_refused(program):
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    rows = existing_rows(program)
    rows[0]["badge"] = "red; background:url(x)"

    response = staff(program).post(url, program_post(program, rows))

    assert tier_errors(response)[0] == {"badge": ["Pick a colour."]}


def test_the_cards_show_a_colour_picker_and_the_perks_as_checkboxes(program):
    page = staff(program).get(reverse("admin:loyalty_program_change", args=[program.pk]))

    assert 'type="color" name="tiers-0-badge" value="#c9a227"' in page.text
    assert 'name="tiers-2-flags" value="early_access"' in page.text
    assert 'id="earning-example"' in page.text


def test_a_card_asks_the_name_in_english_once_and_the_other_languages_by_name(program):
    page = staff(program).get(reverse("admin:loyalty_program_change", args=[program.pk]))

    # English is the base name: no second English input beside it.
    assert 'name="tiers-0-name_i18n_en"' not in page.text
    assert 'name="tiers-0-benefits_i18n_en"' not in page.text
    assert 'name="tiers-0-name_i18n_es"' in page.text
    assert "Name (English)" in page.text
    assert "Name in other languages" in page.text
    assert "Benefits in other languages" in page.text
    assert "name per language" not in page.text
    assert "benefits per language" not in page.text


@pytest.mark.parametrize("page", ["admin:loyalty_campaign_add", "admin:rewards_coupontemplate_add"])
def test_campaigns_and_rewards_ask_the_name_in_english_once_too(program, page):
    text = staff(program).get(reverse(page)).text

    assert 'name="name_i18n_en"' not in text
    assert 'name="name_i18n_es"' in text
    assert "Name (English)" in text
    assert "Name in other languages" in text


def test_a_card_saves_the_other_languages_and_english_stays_the_base_name(program):
    gold = program.tiers.get(name="Gold")
    Tier.objects.filter(pk=gold.pk).update(name_i18n={"en": "Old gold", "es": "Oro"})
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    rows = existing_rows(program)
    data = program_post(program, rows)
    data.update({"tiers-0-name_i18n_es": "Oro", "tiers-0-name_i18n_ru": "Золото",
                 "tiers-0-name_i18n_en": "Ignored"})  # fmt: skip

    response = staff(program).post(url, data)

    assert response.status_code == 302, tier_errors(response)
    gold.refresh_from_db()
    assert gold.name == "Gold"
    assert gold.name_i18n == {"es": "Oro", "ru": "Золото"}


def test_a_viewer_cannot_save_tiers(program):
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    rows = existing_rows(program)
    rows[0]["name"] = "Bronze"

    response = staff(program, "viewer").post(url, program_post(program, rows))

    assert response.status_code == 403
    assert Tier.objects.filter(program=program, name="Gold").exists()


# --- earning rules: one form per kind --------------------------------------------------


def add_rule(client, kind, data):
    return client.post(reverse("admin:loyalty_earningrule_add") + f"?kind={kind}", data)


def test_adding_a_rule_asks_the_kind_first_then_shows_only_its_fields(program):
    client = staff(program)

    chooser = client.get(reverse("admin:loyalty_earningrule_add"))
    referral = client.get(reverse("admin:loyalty_earningrule_add") + "?kind=referral")

    assert 'href="?kind=product_bonus"' in chooser.text
    assert set(form_of(referral).fields) == {"name", "active", "referrer_points",
                                              "referred_points"}  # fmt: skip
    assert "parameters" not in referral.text


@pytest.mark.parametrize(
    ("kind", "data", "parameters"),
    [
        ("referral", {"referrer_points": "50", "referred_points": "25"},
         {"referrer_points": 50, "referred_points": 25}),
        ("product_bonus", {"sku": "MUG-1", "multiplier": "2"}, {"sku": "MUG-1", "multiplier": "2"}),
        ("category_bonus", {"category": "tea", "points_per_unit": "5"},
         {"category": "tea", "points_per_unit": 5}),
        ("exclusion", {"category": "gift-cards"}, {"category": "gift-cards"}),
        ("cap_month", {"points": "5000"}, {"points": 5000}),
    ],
)  # fmt: skip
def test_each_kind_saves_its_own_parameters_audited(program, kind, data, parameters):
    response = add_rule(staff(program), kind, {"name": "Rule", "active": "on", **data})

    assert response.status_code == 302, form_of(response).errors
    rule = EarningRule.objects.get(program=program)
    assert (rule.kind, rule.parameters) == (kind, parameters)
    assert AuditEntry.objects.get(action="earning_rule.create").changes["kind"] == [None, kind]


@pytest.mark.parametrize(
    ("kind", "data", "field", "message"),
    [
        ("exclusion", {"sku": "A", "category": "b"}, "sku", "Give a product SKU or a category"),
        ("exclusion", {}, "sku", "Give a product SKU or a category"),
        ("product_bonus", {"sku": "A"}, "points_per_unit", "Give extra points per unit"),
        ("product_bonus", {"sku": "A", "multiplier": "1"}, "multiplier", "greater than or equal"),
        ("signup", {"points": "2000000"}, "points", "less than or equal to 1000000"),
    ],
)
def test_a_rule_refused_shows_why_next_to_the_field(program, kind, data, field, message):
    response = add_rule(staff(program), kind, {"name": "Rule", **data})

    assert response.status_code == 200
    assert message in " ".join(form_of(response).errors[field])
    assert not EarningRule.objects.exists()


def test_an_unknown_kind_gets_the_chooser_and_a_support_user_gets_nothing(program):
    assert (
        'href="?kind=signup"'
        in staff(program).get(reverse("admin:loyalty_earningrule_add") + "?kind=drop_table").text
    )
    refused = add_rule(staff(program, "support"), "signup", {"name": "x", "points": "5"})
    assert refused.status_code == 403
    assert not EarningRule.objects.exists()


def test_a_rule_keeps_its_kind_when_changed(program):
    client = staff(program)
    add_rule(client, "signup", {"name": "Welcome", "active": "on", "points": "100"})
    rule = EarningRule.objects.get()

    response = client.post(
        reverse("admin:loyalty_earningrule_change", args=[rule.pk]) + "?kind=referral",
        {"name": "Welcome", "active": "on", "points": "150"},
    )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.kind, rule.parameters) == ("signup", {"points": 150})
    listing = client.get(reverse("admin:loyalty_earningrule_changelist"))
    assert "150 points" in listing.text


# --- campaigns: tiers as checkboxes, named conditions ------------------------------------

CAMPAIGN = {
    "name": "Weekend",
    "active": "on",
    "start_date": "2026-12-05",
    "end_date": "2026-12-06",
    "multiplier": "2",
    "fixed_bonus": "0",
    "min_order_amount": "50",
}


def test_a_campaign_is_made_of_tiers_and_named_conditions(program):
    response = staff(program).post(
        reverse("admin:loyalty_campaign_add"),
        {
            **CAMPAIGN,
            "tiers": ["Platinum", "Diamond"],
            "segment_email_endswith": "@acme.com",
            "segment_since_from": "2026-01-01",
            "segment_locales": ["es", "tr"],
            "segment_consent_email": "yes",
        },
    )

    assert response.status_code == 302, form_of(response).errors
    campaign = Campaign.objects.get(program=program)
    assert campaign.tiers == ["Platinum", "Diamond"]
    assert campaign.segment == {
        "email__endswith": "@acme.com",
        "created_at__gte": "2026-01-01",
        "locale__in": ["es", "tr"],
        "consent_email": True,
    }
    assert campaign.min_order_amount == Decimal(50)


def test_a_campaign_offers_only_its_programs_tiers(program):
    other = merchant_create(slug="other", name="Other", currency="EUR").program
    Tier.objects.filter(program=other, name="Gold").update(name="Secret")

    page = staff(program).get(reverse("admin:loyalty_campaign_add"))
    refused = staff(program).post(reverse("admin:loyalty_campaign_add"),
                                  {**CAMPAIGN, "tiers": ["Secret"]})  # fmt: skip

    assert "Secret" not in page.text
    assert "Select a valid choice" in form_of(refused).errors["tiers"][0]


def test_conditions_set_through_the_api_are_kept_and_named(program):
    campaign = Campaign.objects.create(
        program=program, name="API", start_date="2026-01-01", end_date="2026-01-31",
        multiplier=2, segment={"external_id__startswith": "vip-", "email__endswith": "@a.com"},
    )  # fmt: skip
    client = staff(program)
    url = reverse("admin:loyalty_campaign_change", args=[campaign.pk])

    page = client.get(url)
    response = client.post(url, {**CAMPAIGN, "name": "API", "segment_email_endswith": "@b.com"})

    assert "external_id__startswith = vip-" in page.text
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.segment == {"external_id__startswith": "vip-", "email__endswith": "@b.com"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"end_date": "2026-12-01"}, "end_date",
         "The campaign must end on or after its first day."),
        ({"multiplier": "1"}, "multiplier", "Give a multiplier above 1, a fixed bonus, or both."),
        ({"multiplier": "0.5"}, "multiplier", "A multiplier is from 1 to 100."),
        ({"segment_since_from": "2026-02-01", "segment_since_until": "2026-01-01"},
         "segment_since_until", "Give a day on or after the first one."),
    ],
)  # fmt: skip
def test_a_campaign_refused_shows_why_next_to_the_field(program, change, field, message):
    response = staff(program).post(reverse("admin:loyalty_campaign_add"), {**CAMPAIGN, **change})

    assert response.status_code == 200
    assert form_of(response).errors == {field: [message]}
    assert "is violated" not in response.text
    assert not Campaign.objects.exists()


# --- the database's guarantees, should a value reach them ---------------------------------


def test_a_constraint_the_form_reaches_reads_as_plain_words_next_to_its_field(program):
    class Bare(PlainConstraintForm):  # no check of its own: only the database's
        class Meta:
            model = Program
            fields = ("earn_rate",)

    assert isinstance(Bare.base_fields["earn_rate"], django_forms.DecimalField)
    form = Bare({"earn_rate": "-1"}, instance=program)

    assert form.errors == {"earn_rate": ["Give points per 1.00 from 0."]}
