"""Compensation and void reasons per language (issue #20, point 2): staff (and integrators)
give the customer-facing reason of a compensation coupon or of a void in each language, the
base reason the fallback; the member reads it in its language on the profile page (the
coupon's card, the history line of points that came back)."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.demo import demo_seed
from loyalty.errors import IdempotencyConflict, InvalidInput
from loyalty.models import BulkJob, BulkRow, LedgerEntry, Member
from loyalty.services.bulk import bulk_job_create, bulk_job_run, bulk_job_start
from loyalty.services.coupon_voids import coupon_void
from loyalty.services.orders import order_record
from loyalty.services.refunds import refund_record
from rewards.models import Coupon, CouponEvent
from rewards.services.admin_ops import CsvRow, coupons_issue
from rewards.services.coupons import CouponTerms, coupon_issue_compensation
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.profile.conftest import deep_link_path
from tests.rewards.factories import CouponTemplateFactory, RewardThresholdFactory

pytestmark = pytest.mark.django_db

VOID = "Sent by mistake"
VOID_I18N = {"es": "Enviado por error", "ru": "Отправлен по ошибке"}
GIFT = "Sorry for the late parcel"
GIFT_I18N = {"es": "Perdón por el paquete tardío", "tr": "Geciken paket için özür dileriz"}
TERMS = CouponTerms(kind="fixed", value=Decimal(5), min_order_amount=Decimal(0), valid_days=30)


@pytest.fixture
def shop():
    program = ProgramFactory(earn_rate=Decimal(10))
    RewardThresholdFactory(program=program, points=100)
    return program


def rewarded(program, locale: str) -> tuple[Member, Coupon]:
    """A member whose order of 10.00 turned 100 points into a reward coupon."""
    member = MemberFactory(program=program, locale=locale)
    order_record(
        program=program,
        external_id=f"O-{member.external_id}",
        member_external_id=member.external_id,
        amount=Decimal(10),
        currency="EUR",
    )
    return member, Coupon.objects.get(member=member, source=Coupon.Source.REWARD)


def profile(client, member) -> str:
    assert client.get(deep_link_path(member)).status_code == 302
    return client.get("/profile/").content.decode()


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("es", "(Enviado por error): sus puntos han vuelto"),
        ("ru", "(Отправлен по ошибке)"),
        ("tr", f"({VOID})"),  # no Turkish reason: the base one, in a Turkish line
        ("en", f"was cancelled ({VOID}): its points are back"),
    ],
)
def test_a_void_reason_reads_in_the_members_language_in_its_history(client, shop, locale, words):
    member, coupon = rewarded(shop, locale)
    coupon_void(
        program=shop,
        code=coupon.code,
        reason=VOID,
        reason_i18n=VOID_I18N,
        by=StaffFactory(merchant=shop.merchant),
    )

    page = profile(client, member)

    assert words in page
    assert "come back" not in page  # not the English line kept for staff
    assert coupon.display_code in page


def test_a_refunds_void_reads_in_the_members_language(client, shop):
    shop.refund_after_conversion = shop.RefundAfterConversion.VOID_COUPON
    shop.save(update_fields=["refund_after_conversion"])
    member, coupon = rewarded(shop, "es")

    refund_record(
        program=shop,
        order_external_id=f"O-{member.external_id}",
        external_id="RF-1",
        amount=Decimal(10),
        currency="EUR",
    )

    page = profile(client, member)
    assert Coupon.objects.get(pk=coupon.pk).status == Coupon.Status.VOID
    assert f"{coupon.display_code} se anuló tras el reembolso del pedido #O-" in page
    assert "took its points back" not in page


def test_the_void_keeps_its_reasons_for_staff(shop):
    member, coupon = rewarded(shop, "es")

    coupon_void(program=shop, code=coupon.code, reason=VOID, reason_i18n=VOID_I18N)

    event = CouponEvent.objects.get(coupon=coupon, kind=CouponEvent.Kind.VOIDED)
    assert (event.reason, event.reason_i18n) == (VOID, VOID_I18N)
    entry = LedgerEntry.objects.get(member=member, kind=LedgerEntry.Kind.ADJUSTMENT)
    assert entry.reason.startswith(f"Coupon {coupon.display_code} voided ({VOID})")
    assert entry.details["void"]["reason_i18n"] == VOID_I18N


def test_an_unknown_language_is_refused_and_nothing_is_voided(shop):
    _member, coupon = rewarded(shop, "es")

    with pytest.raises(InvalidInput) as refused:
        coupon_void(program=shop, code=coupon.code, reason=VOID, reason_i18n={"fr": "Erreur"})

    assert "reason_i18n" in refused.value.fields
    assert Coupon.objects.get(pk=coupon.pk).status == Coupon.Status.ACTIVE


@pytest.mark.parametrize(
    ("locale", "shown"),
    [("es", GIFT_I18N["es"]), ("tr", GIFT_I18N["tr"]), ("ru", GIFT), ("en", GIFT)],
)
def test_a_compensation_coupon_tells_its_member_why_in_its_language(client, shop, locale, shown):
    member = MemberFactory(program=shop, locale=locale)
    coupon_issue_compensation(
        program=shop,
        member_external_id=member.external_id,
        terms=TERMS,
        reason=GIFT,
        reason_i18n=GIFT_I18N,
    )

    page = profile(client, member)

    assert 'data-testid="coupon-reason">' in page
    assert shown in page
    for other in {GIFT, *GIFT_I18N.values()} - {shown}:
        assert other not in page


def test_the_void_form_takes_the_reason_per_language(client, shop):
    member, coupon = rewarded(shop, "es")
    client.force_login(StaffFactory(merchant=shop.merchant))
    url = reverse("admin:rewards_coupon_changelist")
    action = {"action": "void", "_selected_action": [coupon.pk]}

    asked = client.post(url, action)
    done = client.post(
        url,
        {**action, "apply": "yes", "reason": VOID, "return_points": "on",
         "reason_i18n_es": VOID_I18N["es"], "reason_i18n_ru": VOID_I18N["ru"]},
    )  # fmt: skip

    assert 'name="reason_i18n_tr"' in asked.content.decode()
    assert done.status_code == 302
    event = CouponEvent.objects.get(coupon=coupon, kind=CouponEvent.Kind.VOIDED)
    assert event.reason_i18n == VOID_I18N


def test_the_compensation_action_takes_the_reason_per_language(client, shop):
    members = [MemberFactory(program=shop), MemberFactory(program=shop)]
    client.force_login(StaffFactory(merchant=shop.merchant))
    data = {
        "action": "issue_coupon",
        "_selected_action": [m.pk for m in members],
        "apply": "yes",
        "key": "6f1f0d2a-4b1e-4f36-8c77-5b2d2f6a0009",
        "kind": "fixed",
        "value": "10",
        "valid_days": "30",
        "uses": "1",
        "source": "compensation",
        "reason": GIFT,
        "reason_i18n_es": GIFT_I18N["es"],
        "reason_i18n_tr": GIFT_I18N["tr"],
    }

    done = client.post(reverse("admin:loyalty_member_changelist"), data)

    assert done.status_code == 302
    issued = Coupon.objects.filter(member__in=members)
    assert [c.reason_i18n for c in issued] == [GIFT_I18N, GIFT_I18N]


def test_a_batch_sent_again_with_other_translations_is_a_conflict(shop):
    member = MemberFactory(program=shop)
    batch = {"program": shop, "rows": [CsvRow(1, member.external_id)], "terms": TERMS,
             "reason": GIFT, "key": "k-1"}  # fmt: skip
    coupons_issue(**batch, reason_i18n=GIFT_I18N)

    with pytest.raises(IdempotencyConflict):
        coupons_issue(**batch, reason_i18n={"es": "Otro motivo"})


def test_the_api_takes_the_reason_per_language_and_refuses_an_unknown_one(api_for, shop):
    member = MemberFactory(program=shop)
    url = f"/api/v1/members/{member.external_id}/coupons"
    body = {"reason": GIFT, "coupon": {"kind": "fixed", "value": "5.00"}}
    api = api_for(shop)

    created = api.post(url, {**body, "reason_i18n": GIFT_I18N}, format="json")
    refused = api.post(url, {**body, "reason_i18n": {"xx": "?"}}, format="json")

    assert created.status_code == 201, created.content
    assert Coupon.objects.get(member=member).reason_i18n == GIFT_I18N
    assert refused.status_code == 400
    assert "reason_i18n" in refused.json()["fields"]


def test_bulk_coupons_take_the_reason_per_language_from_the_file(
    shop, django_capture_on_commit_callbacks
):
    alice = MemberFactory(program=shop, external_id="alice")
    MemberFactory(program=shop, external_id="bob")
    template = CouponTemplateFactory(program=shop)
    data = (
        "external_id,reason,reason_es,reason_ru\n"
        f"alice,{GIFT},{GIFT_I18N['es']},\n"
        f"bob,{GIFT},,{'x' * 501}\n"
    ).encode()

    job = bulk_job_create(
        program=shop, kind=BulkJob.Kind.COUPONS, data=data, params={"template": template.pk}
    )
    rows = {row.external_id: row for row in job.rows.all()}
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=job, user=None, run=lambda job_id: bulk_job_run(job_id=job_id))

    assert rows["bob"].status == BulkRow.Status.INVALID
    assert "ru: At most 500 characters" in rows["bob"].detail
    assert Coupon.objects.get(member=alice).reason_i18n == {"es": GIFT_I18N["es"]}
    assert not Coupon.objects.filter(member__external_id="bob").exists()


def test_the_demo_carries_its_compensation_and_void_reasons_in_all_four_languages():
    program = demo_seed(members=150).merchant.program  # 5 compensations, 13 voids planned

    compensations = Coupon.objects.filter(program=program, source=Coupon.Source.COMPENSATION)
    voids = CouponEvent.objects.filter(
        coupon__program=program, kind=CouponEvent.Kind.VOIDED, by__isnull=False
    )
    assert compensations.exists()
    assert voids.exists()
    for item in [*compensations, *voids]:
        assert set(item.reason_i18n) == {"es", "ru", "tr"}, item.reason


def test_the_coupon_csv_page_carries_the_reason_per_language_from_preview_to_issue(client, shop):
    member = MemberFactory(program=shop, external_id="alpha-1")
    client.force_login(StaffFactory(merchant=shop.merchant))
    page = reverse("admin:rewards_coupon_issue_csv")
    upload = SimpleUploadedFile("m.csv", b"external_id\nalpha-1\n", content_type="text/csv")
    fields = {
        **{"kind": "fixed", "value": "10", "valid_days": "30", "uses": "1"},
        **{"source": "compensation", "reason": GIFT, "reason_i18n_es": GIFT_I18N["es"]},
    }

    preview = client.post(page, {**fields, "file": upload})
    payload = preview.context["confirm"]["payload"].value()
    done = client.post(page, {"payload": payload, "confirm": "1"})

    assert done.status_code == 302
    assert Coupon.objects.get(member=member).reason_i18n == {"es": GIFT_I18N["es"]}


@pytest.mark.parametrize(
    ("locale", "shown"), [("es", "Cancelado: Enviado por error"), ("tr", f"İptal edildi: {VOID}")]
)
def test_a_cancelled_coupons_card_says_why_in_the_members_language(client, shop, locale, shown):
    member = MemberFactory(program=shop, locale=locale)
    coupon = coupon_issue_compensation(
        program=shop, member_external_id=member.external_id, terms=TERMS, reason=GIFT
    )
    coupon_void(
        program=shop,
        code=coupon.code,
        reason=VOID,
        reason_i18n=VOID_I18N,
        by=StaffFactory(merchant=shop.merchant),
    )

    page = profile(client, member)

    assert 'data-testid="coupon-void-reason"' in page
    assert shown in page
