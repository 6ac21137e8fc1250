"""Merchant content in the member's language (issue #20, point 2): tier names and benefits,
reward (coupon template) names, campaign names and a grant's reason, each with a value per
language and the merchant's base value as the fallback.

Given a program whose staff gave these texts in Spanish, Russian and Turkish, when a member
opens the profile page, is notified or is read through the API, then it reads them in its
language, and the base value wherever its language has none. Staff enter them in the admin
(audited); odd input is refused next to its field and changes nothing.
"""

import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from loyalty.audit import Action
from loyalty.content import localized, localized_attr, translations_clean
from loyalty.demo import demo_seed
from loyalty.models import AuditEntry, BulkJob, BulkRow, Campaign, LedgerEntry, Member, Tier
from loyalty.services.bulk import bulk_job_create, bulk_job_run, bulk_job_start
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from loyalty.services.tier_settings import tiers_seed_defaults
from loyalty.services.tiers import badge_card_set
from notifications.models import Event, Notification
from rewards.models import CouponTemplate, RewardThreshold
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.loyalty.test_tiers_admin import existing_rows, program_post
from tests.profile.conftest import deep_link_path
from tests.rewards.factories import CouponTemplateFactory, RewardThresholdFactory

pytestmark = pytest.mark.django_db

TIER_NAMES = {"es": "Oro", "ru": "Золото", "tr": "Altın"}
TIER_BENEFITS = {
    "es": ["Un 10 % más de puntos", "Envío gratis"],
    "ru": ["На 10 % больше баллов", "Бесплатная доставка"],
    "tr": ["%10 daha fazla puan", "Ücretsiz kargo"],
}
REWARD_NAMES = {"es": "Regalo de bienvenida", "ru": "Приветственный подарок", "tr": "Hoş geldin"}
REASONS = {
    "es": "Perdón por el retraso del envío",
    "ru": "Извините за задержку доставки",
    "tr": "Teslimat gecikmesi için özür dileriz",
}


# --- the resolver and the check ----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "language", "expected"),
    [
        ({"es": "Oro"}, "es", "Oro"),
        ({"es": "Oro"}, "es-MX", "Oro"),  # a regional variant reads its language
        ({"es": "Oro"}, "ru", "Gold"),  # missing: the base value
        ({"es": ""}, "es", "Gold"),  # empty: the base value
        ({}, "tr", "Gold"),
        (None, "es", "Gold"),
        ({"en": "Gold Club"}, "en", "Gold Club"),  # English is a language like the others
    ],
)
def test_localized_falls_back_to_the_base_value(values, language, expected):
    assert localized("Gold", values, language) == expected


def test_localized_attr_reads_objects_and_dicts_alike():
    tier = Tier(name="Gold", name_i18n={"ru": "Золото"}, benefits=["A"], benefits_i18n={})
    assert localized_attr(tier, "name", "ru") == "Золото"
    assert localized_attr(tier, "benefits", "ru") == ["A"]
    assert localized_attr({"name": "Gold", "name_i18n": {"tr": "Altın"}}, "name", "tr") == "Altın"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"de": "Gold"}, "Unknown language de"),
        ({"es": "x" * 101}, "es: At most 100 characters"),
        ({"es": 5}, "es: Give a text"),
        (["Oro"], "Give an object"),
    ],
)
def test_odd_translations_are_refused_with_the_problem_named(value, problem):
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        translations_clean(value, max_length=100)
    assert problem in " ".join(refused.value.messages)


def test_translations_are_kept_stripped_and_without_empty_values():
    assert translations_clean({"es": " Oro ", "ru": "", "tr": "  "}, max_length=100) == {
        "es": "Oro"
    }
    lines = translations_clean({"es": ["A", " ", "B"]}, max_length=10, lines=True)
    assert lines == {"es": ["A", "B"]}


# --- what the member reads ---------------------------------------------------------------


@pytest.fixture
def shop():
    """A program with the default tiers and a reward at 200 points, its texts given in
    Spanish, Russian and Turkish for Gold and the reward (Platinum: Spanish only)."""
    program = ProgramFactory(earn_rate=Decimal(1))
    tiers_seed_defaults(program=program)
    Tier.objects.filter(program=program, name="Gold").update(
        name_i18n=TIER_NAMES, benefits_i18n=TIER_BENEFITS
    )
    Tier.objects.filter(program=program, name="Platinum").update(name_i18n={"es": "Platino"})
    template = CouponTemplateFactory(program=program, name="Welcome gift", name_i18n=REWARD_NAMES)
    RewardThresholdFactory(program=program, points=200, template=template)
    return program


def gold_member(program, *, locale: str, reason_i18n=None) -> Member:
    """A member at Gold with a reward coupon and a grant with a reason."""
    member = MemberFactory(program=program, locale=locale)
    order_record(
        program=program,
        external_id=f"{member.external_id}-A",
        member_external_id=member.external_id,
        amount=Decimal(250),
        currency="EUR",
    )
    points_grant(
        program=program,
        member_external_id=member.external_id,
        points=15,
        reason="Sorry for the late delivery",
        reason_i18n=reason_i18n if reason_i18n is not None else REASONS,
    )
    return Member.objects.get(pk=member.pk)


def profile_page(client, member) -> str:
    assert client.get(deep_link_path(member)).status_code == 302
    response = client.get("/profile/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("language", ["es", "ru", "tr"])
def test_profile_page_shows_the_merchant_texts_in_the_members_language(client, shop, language):
    member = gold_member(shop, locale=language)

    page = profile_page(client, member)

    assert f'data-testid="tier">{TIER_NAMES[language]}</span>' in page
    for benefit in TIER_BENEFITS[language]:
        assert f"<li>{benefit}</li>" in page
    assert f'data-testid="coupon-name">{REWARD_NAMES[language]}</strong>' in page
    assert REASONS[language] in page
    assert "Sorry for the late delivery" not in page
    assert "10% more points on every order" not in page  # the base benefit


def test_profile_page_in_english_shows_the_base_texts(client, shop):
    member = gold_member(shop, locale="en")

    page = profile_page(client, member)

    assert 'data-testid="tier">Gold</span>' in page
    assert "<li>10% more points on every order</li>" in page
    assert 'data-testid="coupon-name">Welcome gift</strong>' in page
    assert "Sorry for the late delivery" in page


def test_a_language_without_its_own_value_shows_the_base_value(client, shop):
    Tier.objects.filter(program=shop, name="Gold").update(name_i18n={"es": "Oro"}, benefits_i18n={})
    CouponTemplate.objects.filter(program=shop).update(name_i18n={"es": "Regalo"})
    member = gold_member(shop, locale="tr", reason_i18n={"es": "Perdón"})

    page = profile_page(client, member)

    assert 'data-testid="tier">Gold</span>' in page
    assert "<li>10% more points on every order</li>" in page
    assert 'data-testid="coupon-name">Welcome gift</strong>' in page
    assert "Sorry for the late delivery" in page
    # Platinum, the next tier, has only Spanish: the base name in Turkish.
    assert "Platinum" in page


def test_next_tier_reads_in_the_members_language(client, shop):
    member = gold_member(shop, locale="es")

    page = profile_page(client, member)

    assert "Platino" in page


def test_grant_notification_and_tier_change_notification_are_in_the_members_language(shop):
    member = gold_member(shop, locale="ru")

    granted = Notification.objects.get(member=member, event=Event.POINTS_GRANTED)
    changed = Notification.objects.get(member=member, event=Event.TIER_CHANGED)

    assert granted.context["reason"] == REASONS["ru"]
    assert changed.context["tier_name"] == TIER_NAMES["ru"]
    assert TIER_NAMES["ru"] in changed.content["subject"]


def test_api_keeps_its_fields_and_adds_the_values_per_language(api_for, shop):
    member = gold_member(shop, locale="es")
    api = api_for(shop)

    body = api.get(f"/api/v1/members/{member.external_id}").json()
    ledger = api.get(f"/api/v1/members/{member.external_id}/ledger").json()["results"]

    assert body["tier"] == "Gold"  # the contract's field, as it was
    assert body["tier_benefits"] == ["10% more points on every order"]
    assert body["tier_name_i18n"] == TIER_NAMES
    assert body["tier_benefits_i18n"] == TIER_BENEFITS
    assert body["next_tier"]["name"] == "Platinum"
    assert body["next_tier"]["name_i18n"] == {"es": "Platino"}
    grant = next(e for e in ledger if e["kind"] == "grant")
    assert (grant["reason"], grant["reason_i18n"]) == ("Sorry for the late delivery", REASONS)


def test_api_grant_takes_the_reason_per_language_and_refuses_an_unknown_language(api_for, program):
    member = MemberFactory(program=program)
    api = api_for(program)
    url = f"/api/v1/members/{member.external_id}/grants"

    refused = api.post(
        url, {"points": 5, "reason": "Gift", "reason_i18n": {"xx": "?"}}, format="json"
    )
    granted = api.post(
        url, {"points": 5, "reason": "Gift", "reason_i18n": {"tr": "Hediye"}}, format="json"
    )

    assert refused.status_code == 400, refused.json()
    assert "reason_i18n" in refused.json()["fields"]
    assert granted.status_code == 201, granted.json()
    assert granted.json()["entry"]["reason_i18n"] == {"tr": "Hediye"}
    assert LedgerEntry.objects.filter(member=member).count() == 1


def test_put_program_without_translations_keeps_them(api_for, shop):
    api = api_for(shop)
    tiers = api.get("/api/v1/program").json()["tiers"]
    for tier in tiers:
        tier.pop("name_i18n"), tier.pop("benefits_i18n")

    response = api.put("/api/v1/program", {"tiers": tiers}, format="json")

    assert response.status_code == 200, response.json()
    assert Tier.objects.get(program=shop, name="Gold").name_i18n == TIER_NAMES


def test_put_program_refuses_an_unknown_language_by_field(api_for, shop):
    api = api_for(shop)
    tiers = api.get("/api/v1/program").json()["tiers"]
    tiers[0]["name_i18n"] = {"de": "Gold"}

    response = api.put("/api/v1/program", {"tiers": tiers}, format="json")

    assert response.status_code == 400, response.json()
    assert "tiers.0.name_i18n" in response.json()["fields"]
    assert Tier.objects.get(program=shop, name="Gold").name_i18n == TIER_NAMES


# --- staff enter them in the admin -------------------------------------------------------


@pytest.fixture
def staff_shop():
    program = ProgramFactory(earn_rate=Decimal(1))
    tiers_seed_defaults(program=program)
    return program, StaffFactory(merchant=program.merchant)


def test_tier_texts_per_language_are_saved_from_the_program_page_and_audited(client, staff_shop):
    program, staff = staff_shop
    client.force_login(staff)
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    page = client.get(url).content.decode()
    assert 'name="tiers-0-name_i18n_es"' in page
    assert ">Spanish</label>" in page
    rows = existing_rows(program)
    rows[0].update(
        {"name_i18n_es": "Oro", "name_i18n_ru": "Золото", "benefits_i18n_tr": "Kargo\nHediye"}
    )

    response = client.post(url, program_post(program, rows))

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    gold = Tier.objects.get(program=program, name="Gold")
    assert gold.name_i18n == {"es": "Oro", "ru": "Золото"}
    assert gold.benefits_i18n == {"tr": ["Kargo", "Hediye"]}
    audit = AuditEntry.objects.get(action=Action.TIERS_REPLACE)
    before, after = audit.changes["tiers"]
    assert after[0]["name_i18n"] == {"es": "Oro", "ru": "Золото"}
    assert before[0]["name_i18n"] == {"es": "Oro", "ru": "Золото", "tr": "Altın"}  # the default


def test_an_overlong_tier_name_is_refused_next_to_its_field(client, staff_shop):
    program, staff = staff_shop
    client.force_login(staff)
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    rows = existing_rows(program)
    rows[0]["name_i18n_ru"] = "З" * 101

    response = client.post(url, program_post(program, rows))

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.forms[0].errors
    assert "ru: At most 100 characters" in str(errors["name_i18n"])
    assert Tier.objects.get(program=program, name="Gold").name_i18n["ru"] == "Золото"
    assert not AuditEntry.objects.filter(action=Action.TIERS_REPLACE).exists()


CAMPAIGN = {
    "name": "Weekend",
    "active": "on",
    "start_date": "2026-12-05",
    "end_date": "2026-12-06",
    "multiplier": "2",
    "fixed_bonus": "0",
    "min_order_amount": "0",
}


def test_campaign_name_per_language_is_saved_and_audited(client, staff_shop):
    program, staff = staff_shop
    client.force_login(staff)

    response = client.post(
        reverse("admin:loyalty_campaign_add"),
        {**CAMPAIGN, "name_i18n_es": "Fin de semana", "name_i18n_tr": "Hafta sonu"},
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get(program=program)
    assert campaign.name_i18n == {"es": "Fin de semana", "tr": "Hafta sonu"}
    audit = AuditEntry.objects.get(action=Action.CAMPAIGN_CREATE)
    assert audit.changes["name_i18n"] == [None, {"es": "Fin de semana", "tr": "Hafta sonu"}]


def test_an_overlong_campaign_name_is_refused_and_nothing_is_saved(client, staff_shop):
    _program, staff = staff_shop
    client.force_login(staff)

    response = client.post(
        reverse("admin:loyalty_campaign_add"), {**CAMPAIGN, "name_i18n_es": "x" * 101}
    )

    assert response.status_code == 200
    assert "es: At most 100 characters" in str(response.context["adminform"].form.errors)
    assert not Campaign.objects.exists()


TEMPLATE = {"name": "Welcome gift", "kind": "percent", "value": "10", "min_order_amount": "0",
            "valid_days": "30", "uses": "1"}  # fmt: skip


def test_reward_name_per_language_is_saved_and_audited(client, staff_shop):
    program, staff = staff_shop
    template = CouponTemplateFactory(program=program, name="Welcome gift")
    client.force_login(staff)
    url = reverse("admin:rewards_coupontemplate_change", args=[template.pk])
    assert 'name="name_i18n_ru"' in client.get(url).content.decode()

    response = client.post(url, {**TEMPLATE, "name_i18n_ru": "Подарок", "name_i18n_es": ""})

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.name_i18n == {"ru": "Подарок"}
    audit = AuditEntry.objects.get(action=Action.COUPON_TEMPLATE_UPDATE)
    assert audit.changes == {"name_i18n": [{}, {"ru": "Подарок"}]}
    assert audit.actor == staff


def test_another_merchants_reward_name_cannot_be_changed(client, staff_shop):
    _program, staff = staff_shop
    foreign = CouponTemplateFactory(name="Theirs")
    client.force_login(staff)
    url = reverse("admin:rewards_coupontemplate_change", args=[foreign.pk])

    response = client.post(url, {**TEMPLATE, "name_i18n_es": "Mío"})

    assert response.status_code in (302, 404)
    foreign.refresh_from_db()
    assert foreign.name_i18n == {}
    assert not AuditEntry.objects.exists()


def test_a_viewer_cannot_change_a_reward_name(client, staff_shop):
    program, _staff = staff_shop
    viewer = StaffFactory(merchant=program.merchant, role="viewer")
    template = CouponTemplateFactory(program=program, name="Welcome gift")
    client.force_login(viewer)
    url = reverse("admin:rewards_coupontemplate_change", args=[template.pk])

    response = client.post(url, {**TEMPLATE, "name_i18n_es": "Regalo"})

    assert response.status_code == 403
    template.refresh_from_db()
    assert template.name_i18n == {}


def points_form(**values):
    return {"action": "grant", "points": "20", "reason": "Sorry for the late delivery",
            "idempotency_key": "6f1c6f55-5e0a-4c3e-9a55-1f0b2c3d4e5f", **values}  # fmt: skip


def test_grant_form_takes_the_customer_facing_reason_per_language(client, staff_shop):
    program, staff = staff_shop
    member = MemberFactory(program=program, locale="es")
    client.force_login(staff)
    change_url = reverse("admin:loyalty_member_change", args=[member.pk])
    assert 'name="reason_i18n_tr"' in client.get(change_url).content.decode()

    response = client.post(
        reverse("admin:loyalty_member_points", args=[member.pk]),
        points_form(reason_i18n_es="Perdón por el retraso", reason_i18n_ru="Извините"),
    )

    assert response.status_code == 302
    entry = LedgerEntry.objects.get(member=member)
    assert entry.details["reason_i18n"] == {"es": "Perdón por el retraso", "ru": "Извините"}
    audit = AuditEntry.objects.get(action=Action.POINTS_GRANT)
    assert audit.changes["reason_i18n"] == {"es": "Perdón por el retraso", "ru": "Извините"}
    assert audit.reason == "Sorry for the late delivery"


def test_grant_form_refuses_an_overlong_reason_and_grants_nothing(client, staff_shop):
    program, staff = staff_shop
    member = MemberFactory(program=program)
    client.force_login(staff)

    response = client.post(
        reverse("admin:loyalty_member_points", args=[member.pk]),
        points_form(reason_i18n_tr="x" * 501),
    )

    assert response.status_code == 200
    assert "tr: At most 500 characters" in response.content.decode()
    assert not LedgerEntry.objects.filter(member=member).exists()


# --- the demo -----------------------------------------------------------------------------


def test_demo_carries_its_texts_in_all_four_languages():
    program = demo_seed(members=40).merchant.program

    for tier in Tier.objects.filter(program=program):
        assert set(tier.name_i18n) == set(tier.benefits_i18n) == {"es", "ru", "tr"}
        assert all(len(lines) == len(tier.benefits) for lines in tier.benefits_i18n.values())
    for threshold in RewardThreshold.objects.filter(program=program).select_related("template"):
        assert set(threshold.template.name_i18n) == {"es", "ru", "tr"}
    adjustments = LedgerEntry.objects.filter(program=program, kind__in=["grant", "deduct"])
    assert adjustments.exists()
    for entry in adjustments:
        assert set(entry.details["reason_i18n"]) == {"es", "ru", "tr"}
    names = {t.pk: t.name_i18n for t in CouponTemplate.objects.filter(program=program)}
    demo_seed(members=40)  # a rerun keeps them as they are
    assert {t.pk: t.name_i18n for t in CouponTemplate.objects.filter(program=program)} == names


def test_history_names_the_orders_campaign_in_the_members_language(client, program):
    today = timezone.localdate()
    Campaign.objects.create(
        program=program, name="Weekend", start_date=today, end_date=today,
        multiplier=Decimal(2), name_i18n={"es": "Fin de semana"},
    )  # fmt: skip
    spanish = MemberFactory(program=program, locale="es")
    turkish = MemberFactory(program=program, locale="tr")
    for member in (spanish, turkish):
        order_record(program=program, external_id=f"{member.external_id}-A",
                     member_external_id=member.external_id, amount=Decimal(10),
                     currency="EUR")  # fmt: skip

    spanish_line = _history_line(profile_page(client, spanish), f"#{spanish.external_id}-A")
    assert "Fin de semana" in spanish_line
    assert "Weekend" not in spanish_line
    client.logout()
    turkish_line = _history_line(profile_page(client, turkish), f"#{turkish.external_id}-A")
    assert "Weekend" in turkish_line  # no Turkish name: the base one


def _history_line(page: str, order: str) -> str:
    """The text of the history line that names ``order`` (its calculation and campaigns)."""
    found = re.search(
        rf"<li[^>]*>(?:(?!</li>).)*{re.escape(order)}(?:(?!</li>).)*</li>", page, re.S
    )
    assert found, f"no history line names {order}"
    return found.group(0)


def test_reward_notification_names_the_reward_in_the_members_language(shop):
    member = gold_member(shop, locale="tr")

    issued = Notification.objects.get(member=member, event=Event.REWARD_ISSUED)

    assert issued.context["reward_name"] == REWARD_NAMES["tr"]


def test_public_badge_card_shows_the_tier_in_the_readers_language(client, shop):
    member = gold_member(shop, locale="en")
    badge_card_set(member=member, enabled=True)
    member.refresh_from_db()

    spanish = client.get(f"/badge/{member.badge_token}/", HTTP_ACCEPT_LANGUAGE="es")
    english = client.get(f"/badge/{member.badge_token}/", HTTP_ACCEPT_LANGUAGE="en")

    assert '<p class="tier">Oro</p>' in spanish.content.decode()
    assert '<p class="tier">Gold</p>' in english.content.decode()


def test_put_program_campaigns_keep_their_translations_unless_sent(api_for, program):
    api = api_for(program)
    campaign = {"name": "Weekend", "start_date": "2026-12-05", "end_date": "2026-12-06",
                "multiplier": "2", "name_i18n": {"es": "Fin de semana"}}  # fmt: skip
    assert api.put("/api/v1/program", {"campaigns": [campaign]}, format="json").status_code == 200
    shown = api.get("/api/v1/program").json()["campaigns"][0]
    assert shown["name_i18n"] == {"es": "Fin de semana"}

    del campaign["name_i18n"]
    kept = api.put("/api/v1/program", {"campaigns": [campaign]}, format="json")
    assert Campaign.objects.get(program=program).name_i18n == {"es": "Fin de semana"}
    changed = api.put(
        "/api/v1/program",
        {"campaigns": [{**campaign, "name_i18n": {"ru": "Выходные"}}]},
        format="json",
    )

    assert kept.status_code == changed.status_code == 200
    assert Campaign.objects.get(program=program).name_i18n == {"ru": "Выходные"}
    audit = AuditEntry.objects.filter(action=Action.CAMPAIGNS_REPLACE).order_by("-id").first()
    assert audit is not None
    before, after = audit.changes["campaigns"]
    assert (before[0]["name_i18n"], after[0]["name_i18n"]) == (
        {"es": "Fin de semana"},
        {"ru": "Выходные"},
    )


def test_bulk_points_take_the_reason_per_language_from_the_file(
    program, django_capture_on_commit_callbacks
):
    alice = MemberFactory(program=program, external_id="alice", locale="es")
    MemberFactory(program=program, external_id="bob")
    long_reason = "x" * 501
    data = (
        "external_id,points,reason,reason_es,reason_ru\n"
        "alice,50,Sorry for the delay,Perdón por el retraso,\n"
        f"bob,20,Gift,,{long_reason}\n"
    ).encode()

    job = bulk_job_create(program=program, kind=BulkJob.Kind.POINTS, data=data)
    rows = {row.external_id: row for row in job.rows.all()}
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=None, run=lambda job_id: bulk_job_run(job_id=job_id))

    assert rows["alice"].data["reason_i18n"] == {"es": "Perdón por el retraso"}
    assert rows["bob"].status == BulkRow.Status.INVALID
    assert "ru: At most 500 characters" in rows["bob"].detail
    entry = LedgerEntry.objects.get(member=alice)
    assert entry.details["reason_i18n"] == {"es": "Perdón por el retraso"}
    assert not LedgerEntry.objects.filter(member__external_id="bob").exists()
