"""The rewards backoffice: templates, coupons and their history, voiding, coupons issued by
staff (to selected members and from a CSV), thresholds on the program page, coupons on the
member page; all scoped to the staff user's merchant."""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from loyalty.models import AuditEntry, LedgerEntry, Member, Program, User
from loyalty.services.orders import order_record
from rewards.models import Coupon, CouponEvent, CouponTemplate, RewardThreshold
from rewards.services import admin_ops
from rewards.services.checkout import coupon_redeem
from rewards.services.coupons import CouponTerms, coupon_issue_compensation
from rewards.services.thresholds import thresholds_describe, thresholds_replace
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.rewards.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db

D = Decimal
REWARD_AT_500 = {
    "points": 500,
    "coupon": {"kind": "fixed", "value": "5.00", "min_order_amount": "20.00", "valid_days": 30},
}


@dataclass
class Shop:
    """One merchant's world: staff, a program with a threshold at 500 points, two members,
    a reward coupon (paid with 500 points), a compensation coupon and a template."""

    staff: User
    program: Program
    member: Member
    other: Member
    reward: Coupon
    compensation: Coupon
    template: CouponTemplate


def make_shop(label: str) -> Shop:
    program = ProgramFactory()
    staff = StaffFactory(merchant=program.merchant)
    thresholds_replace(program=program, thresholds=[REWARD_AT_500])
    member = MemberFactory(program=program, external_id=f"{label}-1", name=f"{label} One")
    other = MemberFactory(program=program, external_id=f"{label}-2", name=f"{label} Two")
    order_record(
        program=program,
        external_id=f"{label}-order",
        member_external_id=member.external_id,
        amount=D("60.00"),  # 600 points: one coupon at 500, 100 left
        currency="EUR",
    )
    reward = Coupon.objects.get(member=member, source=Coupon.Source.REWARD)
    compensation = coupon_issue_compensation(
        program=program,
        member_external_id=other.external_id,
        terms=CouponTerms(kind="percent", value=D(10)),
        reason="Late parcel",
        issued_by=staff,
    )
    template = CouponTemplateFactory(program=program, name=f"{label} welcome", value=D(15))
    member.refresh_from_db()
    return Shop(staff, program, member, other, reward, compensation, template)


@pytest.fixture
def shop_a() -> Shop:
    return make_shop("alpha")


@pytest.fixture
def shop_b() -> Shop:
    return make_shop("bravo")


@pytest.fixture
def superuser() -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw")


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


def coupons_url() -> str:
    return url("rewards_coupon_changelist")


def coupon_url(coupon: Coupon) -> str:
    return url("rewards_coupon_change", coupon.pk)


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# Scoping


def test_staff_lists_only_their_coupons_and_templates(client, shop_a, shop_b):
    client.force_login(shop_a.staff)

    coupons = client.get(coupons_url())
    templates = client.get(url("rewards_coupontemplate_changelist"))

    assert coupons.status_code == templates.status_code == 200
    assert set(coupons.context["cl"].result_list) == {shop_a.reward, shop_a.compensation}
    assert shop_b.reward.display_code not in coupons.text
    assert shop_a.template.name in templates.text
    assert shop_b.template.name not in templates.text
    assert "Reward at 500 points" in templates.text  # the threshold's own template


def test_template_filter_offers_only_the_merchants_templates(client, shop_a, shop_b):
    client.force_login(shop_a.staff)

    response = client.get(coupons_url())

    assert shop_a.template.name in response.text
    assert shop_b.template.name not in response.text


@pytest.mark.parametrize("attr", ["reward", "compensation", "template"])
def test_staff_cannot_open_another_merchants_coupon_or_template(client, shop_a, shop_b, attr):
    client.force_login(shop_a.staff)
    theirs = getattr(shop_b, attr)

    response = client.get(url(f"rewards_{theirs._meta.model_name}_change", theirs.pk))

    assert response.status_code in (302, 403, 404)
    assert str(theirs) not in response.text


def test_staff_cannot_change_another_merchants_template(client, shop_a, shop_b):
    client.force_login(shop_a.staff)

    client.post(
        url("rewards_coupontemplate_change", shop_b.template.pk),
        {"name": "Mine", "kind": "percent", "value": "99", "valid_days": "30", "uses": "1"},
    )

    shop_b.template.refresh_from_db()
    assert (shop_b.template.name, shop_b.template.value) == ("bravo welcome", D(15))


def test_superuser_sees_every_merchants_coupons(client, shop_a, shop_b, superuser):
    client.force_login(superuser)

    response = client.get(coupons_url())

    assert {shop_a.reward, shop_b.reward} <= set(response.context["cl"].result_list)
    assert client.get(coupon_url(shop_b.reward)).status_code == 200


def test_staff_without_a_merchant_sees_no_coupons(client, shop_a):
    client.force_login(StaffFactory(merchant=None))

    assert client.get(coupons_url()).status_code == 403
    assert client.get(url("rewards_coupon_issue_csv")).status_code == 403


# Coupon templates


def test_staff_adds_a_template_to_their_program(client, shop_a):
    client.force_login(shop_a.staff)

    response = client.post(
        url("rewards_coupontemplate_add"),
        {
            "name": "Spring",
            "kind": "fixed",
            "value": "7.50",
            "min_order_amount": "30",
            "valid_days": "14",
            "uses": "1",
        },
    )

    assert response.status_code == 302
    template = CouponTemplate.objects.get(name="Spring")
    assert template.program == shop_a.program
    assert (template.value, template.min_order_amount) == (D("7.5"), D(30))


def test_staff_add_a_free_product_and_a_scoped_perk_template(client, shop_a):
    client.force_login(shop_a.staff)
    base = {"valid_days": "30", "uses": "1"}

    mug = client.post(
        url("rewards_coupontemplate_add"),
        {**base, "name": "Mug", "kind": "free_product", "product_sku": "MUG-1",
         "product_quantity": "2", "max_discount": "12"},
    )  # fmt: skip
    perk = client.post(
        url("rewards_coupontemplate_add"),
        {**base, "name": "Perk", "kind": "free_shipping", "uses": "8", "allowance_uses": "2",
         "allowance_period": "quarter", "include_categories": "shoes, boots",
         "exclude_skus": "SALE-1"},
    )  # fmt: skip

    assert (mug.status_code, perk.status_code) == (302, 302)
    mug_template = CouponTemplate.objects.get(name="Mug")
    assert (mug_template.kind, mug_template.value) == ("free_product", 0)
    assert (mug_template.product_sku, mug_template.product_quantity) == ("MUG-1", 2)
    perk_template = CouponTemplate.objects.get(name="Perk")
    assert perk_template.scope == {"include_categories": ["shoes", "boots"],
                                   "exclude_skus": ["SALE-1"]}  # fmt: skip
    assert (perk_template.allowance_uses, perk_template.allowance_period) == (2, "quarter")
    page = client.get(url("rewards_coupontemplate_change", perk_template.pk)).text
    assert ">\nshoes\nboots</textarea>" in page  # one per line


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"kind": "free_product"}, "product_sku",
         "Give the free product's SKU or its category (one)."),
        ({"kind": "free_product", "product_sku": "A", "include_skus": "B"}, "include_skus",
         "A free product applies to its product: leave the scope empty."),
        ({"uses": "2", "uses_per_member": "3"}, "uses_per_member",
         "Give 1 to 2 uses (at most the coupon's uses)."),
        ({"uses": "4", "allowance_uses": "2"}, "allowance_period",
         "Give both the uses per period and the period."),
        ({"kind": "fixed", "value": "5.001"}, "value", "Too many decimals for EUR."),
        ({"valid_days": "0"}, "valid_days", "Give 1 to 3650 days."),
        ({"max_discount": "-1"}, "max_discount", "Give an amount of zero or more."),
    ],
)  # fmt: skip
def test_template_terms_are_checked_by_the_service(client, shop_a, changes, field, message):
    client.force_login(shop_a.staff)
    data = {"name": "Bad", "kind": "percent", "value": "10", "valid_days": "30", "uses": "1"}

    response = client.post(url("rewards_coupontemplate_add"), {**data, **changes})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field or "__all__"] == [message]
    assert not CouponTemplate.objects.filter(name="Bad").exists()


def test_editing_a_template_leaves_issued_coupons_alone(client, shop_a):
    client.force_login(shop_a.staff)
    template = shop_a.reward.template

    response = client.post(
        url("rewards_coupontemplate_change", template.pk),
        {"name": "Bigger", "kind": "fixed", "value": "8", "valid_days": "30", "uses": "1"},
    )

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.value == D(8)
    shop_a.reward.refresh_from_db()
    assert shop_a.reward.value == D(5)


# Coupons: list, search, detail


def test_coupon_list_shows_code_member_terms_status_and_uses(client, shop_a):
    client.force_login(shop_a.staff)

    response = client.get(coupons_url())

    html = response.text
    assert shop_a.reward.display_code in html
    assert 'title="alpha One">alpha-1<' in html  # the member's name in the tooltip
    # The discount in the list, the conditions in its tooltip (and on the coupon's page).
    assert 'title="5.00\xa0EUR off orders of at least 20.00\xa0EUR">5.00\xa0EUR off …<' in html
    assert "10% off" in html
    assert "0 / 1" in html


@pytest.mark.parametrize(
    "typed",
    [
        lambda c: c.display_code.lower(),
        lambda c: c.display_code.lower().replace("-", " "),
        lambda c: c.code.lower(),
        lambda c: f"  {c.display_code.replace('-', '.')}  ",
    ],
)
def test_search_finds_a_coupon_by_code_typed_any_way(client, shop_a, typed):
    client.force_login(shop_a.staff)

    response = client.get(coupons_url(), {"q": typed(shop_a.reward)})

    assert list(response.context["cl"].result_list) == [shop_a.reward]


def test_search_by_member_external_id_and_not_across_merchants(client, shop_a, shop_b):
    client.force_login(shop_a.staff)

    mine = client.get(coupons_url(), {"q": shop_a.other.external_id})
    theirs = client.get(coupons_url(), {"q": shop_b.reward.display_code})

    assert list(mine.context["cl"].result_list) == [shop_a.compensation]
    assert list(theirs.context["cl"].result_list) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status__exact": "active"}, {"reward", "compensation"}),
        ({"source__exact": "reward"}, {"reward"}),
        ({"template__isnull": "True"}, {"compensation"}),
        ({"status__exact": "void"}, set()),
    ],
)
def test_coupon_list_filters(client, shop_a, params, expected):
    client.force_login(shop_a.staff)

    response = client.get(coupons_url(), params)

    found = {c.pk for c in response.context["cl"].result_list}
    assert found == {getattr(shop_a, name).pk for name in expected}


def test_coupon_list_filters_by_template_and_dates(client, shop_a):
    client.force_login(shop_a.staff)
    template = shop_a.reward.template

    by_template = client.get(coupons_url(), {"template__id__exact": template.pk})
    midnight = timezone.localtime(shop_a.reward.created_at).replace(hour=0, minute=0, second=0)
    today = client.get(coupons_url(), {"created_at__gte": str(midnight)})

    assert list(by_template.context["cl"].result_list) == [shop_a.reward]
    assert len(today.context["cl"].result_list) == 2


def test_coupon_page_is_read_only_with_its_history_and_redemptions(client, shop_a):
    coupon_redeem(
        program=shop_a.program,
        code=shop_a.compensation.code,
        order_reference="web-1001",
        order_amount=D("40.00"),
        currency="EUR",
    )
    client.force_login(shop_a.staff)

    response = client.get(coupon_url(shop_a.compensation))

    assert response.status_code == 200
    html = response.text
    assert shop_a.compensation.display_code in html
    assert "Late parcel" in html  # the reason, on the coupon and its 'issued' event
    assert shop_a.staff.username in html  # issued by
    assert "web-1001" in html  # the redemption and its event
    assert "4.00 EUR off 40.00 EUR" in html
    events = response.context["inline_admin_formsets"][0]
    assert [form.original.kind for form in events] == ["issued", "redeemed"]
    assert 'name="reason"' not in html
    assert 'name="_save"' not in html


def test_coupons_cannot_be_added_changed_or_deleted(client, shop_a, superuser):
    for user in (shop_a.staff, superuser):
        client.force_login(user)

        add = client.get(url("rewards_coupon_add"))
        change = client.post(coupon_url(shop_a.reward), {"value": "99", "status": "active"})
        delete = client.post(url("rewards_coupon_delete", shop_a.reward.pk), {"post": "yes"})

        assert add.status_code == 403
        assert change.status_code == 403
        assert delete.status_code == 403
    shop_a.reward.refresh_from_db()
    assert shop_a.reward.value == D(5)


# Void


def void_post(client, coupons, **data):
    return client.post(
        coupons_url(),
        {"action": "void", "_selected_action": [c.pk for c in coupons], **data},
    )


def test_void_asks_for_a_reason_then_gives_the_points_back(client, shop_a):
    client.force_login(shop_a.staff)
    balance = shop_a.member.balance

    asked = void_post(client, [shop_a.reward])
    refused = void_post(client, [shop_a.reward], apply="yes", reason=" ", return_points="on")
    done = void_post(
        client, [shop_a.reward], apply="yes", reason="Customer asked", return_points="on"
    )

    assert asked.status_code == 200
    assert 'name="return_points"' in asked.text
    assert shop_a.reward.display_code in asked.text
    assert refused.status_code == 200
    assert "A reason is required" in refused.text
    assert done.status_code == 302
    shop_a.reward.refresh_from_db()
    assert shop_a.reward.status == Coupon.Status.VOID
    event = CouponEvent.objects.get(coupon=shop_a.reward, kind="voided")
    assert (event.reason, event.by) == ("Customer asked", shop_a.staff)
    entry = LedgerEntry.objects.get(coupon=shop_a.reward, kind="adjustment")
    assert (entry.points, entry.created_by) == (500, shop_a.staff)
    shop_a.member.refresh_from_db()
    assert shop_a.member.balance == balance + 500
    assert any("500 points went back to alpha-1" in text for text in message_texts(done))


def test_void_can_keep_the_points(client, shop_a):
    client.force_login(shop_a.staff)
    balance = shop_a.member.balance

    void_post(client, [shop_a.reward], apply="yes", reason="Fraud")

    shop_a.reward.refresh_from_db()
    assert shop_a.reward.status == Coupon.Status.VOID
    assert not LedgerEntry.objects.filter(coupon=shop_a.reward, kind="adjustment").exists()
    shop_a.member.refresh_from_db()
    assert shop_a.member.balance == balance


def test_void_refuses_a_redeemed_coupon_and_voids_the_others(client, shop_a):
    coupon_redeem(
        program=shop_a.program,
        code=shop_a.compensation.code,
        order_reference="web-7",
        order_amount=D("40.00"),
        currency="EUR",
    )
    client.force_login(shop_a.staff)

    response = void_post(
        client, [shop_a.compensation, shop_a.reward], apply="yes", reason="Clean-up"
    )

    assert response.status_code == 302
    shop_a.compensation.refresh_from_db()
    shop_a.reward.refresh_from_db()
    assert shop_a.compensation.status == Coupon.Status.REDEEMED
    assert shop_a.reward.status == Coupon.Status.VOID
    texts = message_texts(response)
    assert any(
        f"{shop_a.compensation.display_code} was not voided" in text
        and "only an active or expired coupon can be voided" in text
        for text in texts
    )
    assert any(f"{shop_a.reward.display_code} voided" in text for text in texts)


def test_void_does_not_reach_another_merchants_coupon(client, shop_a, shop_b):
    client.force_login(shop_a.staff)

    void_post(client, [shop_b.reward], apply="yes", reason="Mine now")

    shop_b.reward.refresh_from_db()
    assert shop_b.reward.status == Coupon.Status.ACTIVE


# Compensation coupons for selected members


def issue_post(client, members, **data):
    return client.post(
        url("loyalty_member_changelist"),
        {"action": "issue_coupon", "_selected_action": [m.pk for m in members], **data},
    )


def issue_data(**changes) -> dict:
    return {
        "apply": "yes",
        "key": "6f1f0d2a-4b1e-4f36-8c77-5b2d2f6a0001",
        "kind": "fixed",
        "value": "10",
        "valid_days": "30",
        "uses": "1",
        "source": "compensation",
        "reason": "Warehouse fire delayed every order",
        "skip_already_issued": "on",
        **changes,
    }


def test_compensation_action_issues_one_coupon_per_member_with_reason_and_staff(client, shop_a):
    client.force_login(shop_a.staff)
    members = [shop_a.member, shop_a.other]

    form = issue_post(client, members)
    done = issue_post(client, members, **issue_data())

    assert form.status_code == 200
    assert "alpha-1" in form.text
    assert 'name="reason"' in form.text
    assert done.status_code == 302
    issued = Coupon.objects.filter(reason="Warehouse fire delayed every order")
    assert sorted(c.member.external_id for c in issued) == ["alpha-1", "alpha-2"]
    for coupon in issued:
        assert (coupon.source, coupon.issued_by, coupon.value) == ("compensation", shop_a.staff, 10)
        assert coupon.events.get().by == shop_a.staff
    texts = message_texts(done)
    assert any("2 coupons issued" in text for text in texts)
    for coupon in issued:
        assert any(
            f"{coupon.member.external_id}: coupon {coupon.display_code} issued" in t for t in texts
        )


def test_compensation_action_sent_twice_issues_once(client, shop_a):
    client.force_login(shop_a.staff)
    data = issue_data(skip_already_issued="")

    issue_post(client, [shop_a.member], **data)
    again = issue_post(client, [shop_a.member], **data)

    assert Coupon.objects.filter(reason=data["reason"]).count() == 1
    assert any("sent before" in text for text in message_texts(again))


def test_compensation_form_reused_with_other_values_asks_for_a_new_one(client, shop_a):
    client.force_login(shop_a.staff)
    issue_post(client, [shop_a.member], **issue_data())

    other = issue_post(client, [shop_a.member], **issue_data(reason="Another reason"))

    assert other.status_code == 200
    assert "already sent with other values" in other.text
    assert other.context["form"]["key"].value() != issue_data()["key"]
    assert not Coupon.objects.filter(reason="Another reason").exists()


def test_compensation_action_copies_a_templates_terms(client, shop_a):
    client.force_login(shop_a.staff)

    issue_post(
        client,
        [shop_a.other],
        **issue_data(template=shop_a.template.pk, value="", kind="", source="promotion"),
    )

    coupon = Coupon.objects.get(reason="Warehouse fire delayed every order")
    assert (coupon.template, coupon.kind, coupon.value) == (shop_a.template, "percent", D(15))
    assert coupon.source == "promotion"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"reason": "  "}, "reason", "A reason is required"),
        ({"value": ""}, "value", "Give the coupon's value"),
        ({"kind": "percent", "value": "120"}, "value", "A percentage is at most 100."),
    ],
)
def test_compensation_action_refusals_are_shown_on_the_form(
    client, shop_a, changes, field, message
):
    client.force_login(shop_a.staff)

    response = issue_post(client, [shop_a.member], **issue_data(**changes))

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Coupon.objects.filter(source="compensation", member=shop_a.member).exists()


def test_compensation_action_cannot_use_another_merchants_template(client, shop_a, shop_b):
    client.force_login(shop_a.staff)

    response = issue_post(
        client, [shop_a.member], **issue_data(template=shop_b.template.pk, value="")
    )

    assert response.status_code == 200
    assert "template" in response.context["form"].errors
    assert not Coupon.objects.filter(template=shop_b.template, member=shop_a.member).exists()


def test_a_coupon_from_the_members_page(client, shop_a):
    client.force_login(shop_a.staff)
    page = url("loyalty_member_coupon", shop_a.member.pk)

    shown = client.get(page)
    done = client.post(page, issue_data(reason="Birthday"))

    assert shown.status_code == 200
    assert done.status_code == 302
    assert done.url.endswith("#coupons")
    assert Coupon.objects.get(reason="Birthday").member == shop_a.member


# Coupons from a CSV of external ids


def csv_post(client, content: str, **data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("members.csv", content.encode(), content_type="text/csv")
    fields = {k: v for k, v in issue_data(**data).items() if k not in ("apply", "key")}
    return client.post(url("rewards_coupon_issue_csv"), {**fields, "file": upload})


def test_csv_upload_previews_then_issues_and_reports_every_row(client, shop_a, shop_b):
    client.force_login(shop_a.staff)
    content = "external_id\nalpha-1\nnobody\n\nalpha-2\nalpha-1\nbravo-1\n"

    preview = csv_post(client, content, reason="Outage on 3 March")

    assert preview.status_code == 200
    assert not Coupon.objects.filter(reason="Outage on 3 March").exists()
    assert preview.context["ready_count"] == 2
    problems = {row.line: row.detail for row in preview.context["other_rows"]}
    assert "No member with external id 'nobody'" in problems[3]
    assert "Repeats line 2" in problems[6]
    assert "No member with external id 'bravo-1'" in problems[7]  # another merchant's

    payload = preview.context["confirm"]["payload"].value()
    done = client.post(url("rewards_coupon_issue_csv"), {"payload": payload, "confirm": "1"})

    assert done.status_code == 302
    issued = Coupon.objects.filter(reason="Outage on 3 March")
    assert sorted(c.member.external_id for c in issued) == ["alpha-1", "alpha-2"]
    assert all(c.issued_by == shop_a.staff for c in issued)
    report = client.get(done.url)
    assert report.status_code == 200
    for coupon in issued:
        assert coupon.display_code in report.text
    assert "No member with external id" in report.text
    assert "Repeats line 2" in report.text
    assert "2 coupons issued, 3 failed." in report.text
    download = client.get(done.url, {"format": "csv"})
    assert download["Content-Type"].startswith("text/csv")
    assert "nobody,failed" in download.content.decode()

    # Confirming again (a reload, a double click) issues nothing more.
    again = client.post(url("rewards_coupon_issue_csv"), {"payload": payload, "confirm": "1"})
    assert again.url == done.url
    assert issued.count() == 2

    # The same file again: the members served are skipped.
    rerun = csv_post(client, content, reason="Outage on 3 March")
    assert rerun.context["ready_count"] == 0
    assert any("Already received coupon" in row.detail for row in rerun.context["other_rows"])

    # Another merchant's staff cannot read the report.
    client.force_login(shop_b.staff)
    assert client.get(done.url).status_code == 404


def test_csv_without_header_and_with_semicolons(client, shop_a):
    client.force_login(shop_a.staff)

    preview = csv_post(client, "alpha-1;x\nalpha-2;y\n", reason="Promo")

    assert preview.context["ready_count"] == 2


def test_csv_with_too_many_rows_is_refused_with_a_clear_message(client, shop_a, monkeypatch):
    monkeypatch.setattr(admin_ops, "MAX_ROWS", 3)
    client.force_login(shop_a.staff)

    response = csv_post(client, "a\nb\nc\nd\n", reason="Promo")

    assert response.status_code == 200
    assert "There are more than 3 rows" in " ".join(response.context["form"].errors["file"])


def test_csv_preview_that_was_altered_is_refused(client, shop_a):
    client.force_login(shop_a.staff)

    response = client.post(
        url("rewards_coupon_issue_csv"), {"payload": "forged:payload", "confirm": "1"}, follow=True
    )

    assert any("altered" in text for text in message_texts(response))
    assert not Coupon.objects.filter(source="compensation", member=shop_a.member).exists()


def test_coupon_list_links_to_the_csv_page(client, shop_a):
    client.force_login(shop_a.staff)

    response = client.get(coupons_url())

    assert url("rewards_coupon_issue_csv") in response.text
    assert client.get(url("rewards_coupon_issue_csv")).status_code == 200


# The program page: conversion settings and thresholds


def program_url(program: Program) -> str:
    return url("loyalty_program_change", program.pk)


def program_data(program: Program, rows: list[dict] | None = None, initial: int = 0, **changes):
    values = {
        "name": program.name,
        "currency": program.currency,
        "earn_rate": str(program.earn_rate),
        "points_validity_days": program.points_validity_days or "",
        "reset_validity_on_order": "on",
        "reminder_offsets_days": "60, 30, 14, 7",
        "earn_on_tax": "on",
        "conversion_mode": program.conversion_mode,
        "refund_after_conversion": program.refund_after_conversion,
        **changes,
    }
    if rows is not None:
        values.update(
            {
                "thresholds-TOTAL_FORMS": str(len(rows)),
                "thresholds-INITIAL_FORMS": str(initial),
                "thresholds-MIN_NUM_FORMS": "0",
                "thresholds-MAX_NUM_FORMS": "50",
            }
        )
        for index, row in enumerate(rows):
            values.update({f"thresholds-{index}-{name}": v for name, v in row.items()})
    return values


def row(points, kind="fixed", value="5", **more) -> dict:
    return {"points": points, "kind": kind, "value": value, "valid_days": 30, "uses": 1, **more}


def test_program_page_shows_the_thresholds_and_conversion_settings(client, shop_a):
    client.force_login(shop_a.staff)

    response = client.get(program_url(shop_a.program))

    html = response.text
    assert 'name="conversion_mode"' in html
    assert 'name="refund_after_conversion"' in html
    assert 'name="thresholds-0-points" value="500"' in html
    assert 'name="thresholds-0-value" value="5"' in html
    assert 'name="thresholds-0-min_order_amount" value="20"' in html


def test_thresholds_and_settings_are_saved_through_the_services(client, shop_a, monkeypatch):
    import loyalty.admin.program

    calls = []
    real = loyalty.admin.program.thresholds_replace

    def spy(**kwargs):
        calls.append(kwargs["thresholds"])
        return real(**kwargs)

    monkeypatch.setattr(loyalty.admin.program, "thresholds_replace", spy)
    client.force_login(shop_a.staff)
    template_id = shop_a.reward.template_id
    rows = [
        row(500, value="6", min_order_amount="20"),
        row(1000, kind="percent", value="12.5", max_discount="40"),
        {"kind": "percent", "valid_days": 30, "uses": 1},  # an untouched extra row
    ]

    response = client.post(
        program_url(shop_a.program),
        program_data(
            shop_a.program,
            rows,
            initial=1,
            conversion_mode="choice",
            refund_after_conversion="void_coupon",
        ),
    )

    assert response.status_code == 302
    assert len(calls) == 1
    described = thresholds_describe(program=shop_a.program)
    assert [(t["points"], t["coupon"]["value"]) for t in described] == [
        (500, D(6)),
        (1000, D("12.5")),
    ]
    assert described[1]["coupon"]["max_discount"] == D(40)
    # Kept at the same points: the same template, with the new terms.
    assert RewardThreshold.objects.get(program=shop_a.program, points=500).template_id == (
        template_id
    )
    program = Program.objects.get(pk=shop_a.program.pk)
    assert (program.conversion_mode, program.refund_after_conversion) == (
        "choice",
        "void_coupon",
    )


def test_a_threshold_is_deleted_with_its_checkbox(client, shop_a):
    client.force_login(shop_a.staff)

    client.post(
        program_url(shop_a.program),
        program_data(shop_a.program, [row(500, DELETE="on"), row(800)], initial=1),
    )

    assert [t["points"] for t in thresholds_describe(program=shop_a.program)] == [800]


@pytest.mark.parametrize(
    ("rows", "index", "field", "message"),
    [
        ([row(500, kind="percent", value="150")], 0, "value", "A percentage is at most 100."),
        ([row(500), row(600, value="5.001")], 1, "value", "Too many decimals for EUR."),
        ([row(500), row(0)], 1, "points", "Give whole points above zero."),
        ([row(500), row(500)], 1, "points", "Two thresholds at the same points."),
        ([row(500, valid_days=0)], 0, "valid_days", "Give 1 to 3650 days."),
    ],
)
def test_refused_thresholds_show_the_error_on_their_row_and_save_nothing(
    client, shop_a, rows, index, field, message
):
    client.force_login(shop_a.staff)
    before = thresholds_describe(program=shop_a.program)

    response = client.post(
        program_url(shop_a.program),
        program_data(shop_a.program, rows, initial=1, name="Renamed"),
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.thresholds.forms[index].errors[field] == [message]
    assert "Correct the reward thresholds below." in form.non_field_errors()
    assert message in response.text
    assert thresholds_describe(program=shop_a.program) == before
    assert Program.objects.get(pk=shop_a.program.pk).name != "Renamed"  # one transaction


def test_a_post_without_thresholds_leaves_them_alone(client, shop_a):
    client.force_login(shop_a.staff)
    before = thresholds_describe(program=shop_a.program)

    response = client.post(program_url(shop_a.program), program_data(shop_a.program, name="New"))

    assert response.status_code == 302
    assert thresholds_describe(program=shop_a.program) == before
    assert Program.objects.get(pk=shop_a.program.pk).name == "New"


# The member page


def test_member_page_lists_the_members_coupons_newest_first(client, shop_a):
    newer = coupon_issue_compensation(
        program=shop_a.program,
        member_external_id=shop_a.member.external_id,
        terms=CouponTerms(kind="fixed", value=D(3)),
        reason="Gift",
    )
    client.force_login(shop_a.staff)

    response = client.get(url("loyalty_member_change", shop_a.member.pk))

    coupons = [coupon for coupon, _terms in response.context["member_coupons"]]
    assert coupons == [newer, shop_a.reward]
    html = response.text
    assert html.index('id="ledger"') < html.index('id="coupons"')
    assert newer.display_code in html
    assert "5.00 EUR off orders of at least 20.00 EUR" in html
    assert url("loyalty_member_coupon", shop_a.member.pk) in html


# Query counts


def count_queries(client, page: str) -> int:
    client.get(page)  # warm per-process caches (content types), which only the first request fills
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page)
    assert response.status_code == 200
    return len(queries)


def more_coupons(shop: Shop, n: int) -> None:
    for i in range(n):
        coupon_issue_compensation(
            program=shop.program,
            member_external_id=shop.member.external_id if i % 2 else shop.other.external_id,
            terms=CouponTerms(kind="fixed", value=D(1)),
            reason=f"gift {i}",
            issued_by=shop.staff,
        )
        CouponTemplateFactory(program=shop.program)


@pytest.mark.parametrize(
    "page",
    [
        lambda s: reverse("admin:rewards_coupon_changelist"),
        lambda s: reverse("admin:rewards_coupontemplate_changelist"),
        lambda s: reverse("admin:loyalty_member_change", args=[s.member.pk]),
        lambda s: reverse("admin:rewards_coupon_change", args=[s.reward.pk]),
    ],
)
def test_coupon_pages_run_a_constant_number_of_queries(client, page):
    small, large = make_shop("small"), make_shop("large")
    more_coupons(small, 2)
    more_coupons(large, 40)

    client.force_login(small.staff)
    few = count_queries(client, page(small))
    client.force_login(large.staff)
    many = count_queries(client, page(large))

    assert few == many


# Superusers


def test_superuser_picks_the_program_before_uploading_a_csv(client, shop_a, shop_b, superuser):
    client.force_login(superuser)

    chooser = client.get(url("rewards_coupon_issue_csv"))
    form = client.get(url("rewards_coupon_issue_csv"), {"program": shop_b.program.pk})

    assert f"?program={shop_a.program.pk}" in chooser.text
    assert f"?program={shop_b.program.pk}" in chooser.text
    assert form.context["program"] == shop_b.program
    templates = form.context["form"].fields["template"].queryset
    assert shop_b.template in templates
    assert shop_a.template not in templates


def test_members_of_two_programs_cannot_get_a_coupon_in_one_go(client, shop_a, shop_b, superuser):
    client.force_login(superuser)

    response = issue_post(client, [shop_a.member, shop_b.member], **issue_data())

    assert response.status_code == 302
    assert any("one program at a time" in text for text in message_texts(response))
    assert not Coupon.objects.filter(reason="Warehouse fire delayed every order").exists()


def test_a_free_product_threshold_is_added_on_the_program_page_and_a_scope_is_kept(client, shop_a):
    # given the shop's reward, scoped through the API to shoes
    thresholds_replace(
        program=shop_a.program,
        thresholds=[{"points": 500, "coupon": {"kind": "fixed", "value": "5",
                                               "scope": {"include_categories": ["shoes"]}}}],
    )  # fmt: skip
    client.force_login(shop_a.staff)
    page = client.get(program_url(shop_a.program)).text
    assert "Free product: SKU" in page
    assert '<textarea name="thresholds-0-include_categories"' in page  # shown, editable
    kept = {"include_categories": "shoes"}

    # when staff add a free mug at 2,000 points (no value) and save the page
    rows = [
        row(500, value="5", **kept),
        row(2000, kind="free_product", value="", product_sku="MUG-1", max_discount="12"),
    ]
    response = client.post(program_url(shop_a.program), program_data(shop_a.program, rows, 1))

    # then the mug is a threshold, and the shoes' scope is still there
    assert response.status_code == 302, response.context["adminform"].form.errors
    described = {t["points"]: t["coupon"] for t in thresholds_describe(program=shop_a.program)}
    assert described[500]["scope"] == {"include_categories": ["shoes"]}
    assert (described[2000]["kind"], described[2000]["product_sku"]) == ("free_product", "MUG-1")
    assert described[2000]["value"] == 0


def test_a_threshold_scope_and_uses_are_set_on_the_program_page_audited(client, shop_a):
    client.force_login(shop_a.staff)
    rows = [
        row(500, value="5"),
        row(800, kind="percent", value="10", include_skus="A-1\nA-2, A-3",
            exclude_categories="gift cards", uses="8", uses_per_member="2",
            allowance_uses="2", allowance_period="quarter"),
        row(1500, kind="free_shipping", value="", max_discount="9", include_categories="shoes"),
    ]  # fmt: skip

    response = client.post(program_url(shop_a.program), program_data(shop_a.program, rows, 1))

    assert response.status_code == 302, response.context["adminform"].form.thresholds.errors
    described = {t["points"]: t["coupon"] for t in thresholds_describe(program=shop_a.program)}
    assert described[800]["scope"] == {"include_skus": ["A-1", "A-2", "A-3"],
                                       "exclude_categories": ["gift cards"]}  # fmt: skip
    assert (described[800]["uses_per_member"], described[800]["allowance_uses"],
            described[800]["allowance_period"]) == (2, 2, "quarter")  # fmt: skip
    assert (described[1500]["kind"], described[1500]["scope"]) == (
        "free_shipping", {"include_categories": ["shoes"]},
    )  # fmt: skip
    audit = AuditEntry.objects.filter(action="thresholds.replace").latest("pk")
    assert "A-3" in str(audit.changes)
    page = client.get(program_url(shop_a.program)).text
    assert ">\nA-1\nA-2\nA-3</textarea>" in page


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"kind": "free_product", "value": "", "product_sku": "MUG", "include_skus": "B"},
         "include_skus", "A free product applies to its product: leave the scope empty."),
        ({"include_skus": "x" * 101}, "include_skus", "Give 1 to 100 characters"),
        ({"kind": "percent", "value": "10", "product_sku": "MUG"}, "product_sku",
         "Only a free product names a product"),
        ({"uses": "2", "uses_per_member": "3"}, "uses_per_member", "Give 1 to 2 uses"),
        ({"uses": "4", "allowance_uses": "2"}, "allowance_period",
         "Give both the uses per period and the period."),
    ],
)  # fmt: skip
def test_a_threshold_refused_shows_why_next_to_its_field_and_nothing_changes(
    client, shop_a, extra, field, message
):
    client.force_login(shop_a.staff)
    before = thresholds_describe(program=shop_a.program)
    rows = [row(500, value="5"), {**row(900, kind="fixed", value="5"), **extra}]

    response = client.post(program_url(shop_a.program), program_data(shop_a.program, rows, 1))

    assert response.status_code == 200
    errors = response.context["adminform"].form.thresholds.forms[1].errors
    assert any(message in error for error in errors.get(field, [])), errors
    assert f'class="threshold-field field-{field} errors"' in response.text
    assert thresholds_describe(program=shop_a.program) == before


def test_a_viewer_cannot_change_a_threshold_scope(client, shop_a):
    viewer = StaffFactory(merchant=shop_a.program.merchant, role="viewer")
    client.force_login(viewer)
    before = thresholds_describe(program=shop_a.program)
    rows = [row(500, value="5", include_skus="A-1")]

    response = client.post(program_url(shop_a.program), program_data(shop_a.program, rows, 1))

    assert response.status_code == 403
    assert thresholds_describe(program=shop_a.program) == before


def test_a_post_without_the_scope_fields_keeps_the_scope(client, shop_a):
    thresholds_replace(
        program=shop_a.program,
        thresholds=[{"points": 500, "coupon": {"kind": "fixed", "value": "5", "uses": 4,
                                               "uses_per_member": 2,
                                               "scope": {"exclude_skus": ["GIFT"]}}}],
    )  # fmt: skip
    client.force_login(shop_a.staff)

    response = client.post(
        program_url(shop_a.program), program_data(shop_a.program, [row(500, value="6", uses=4)], 1)
    )

    assert response.status_code == 302
    (coupon,) = [t["coupon"] for t in thresholds_describe(program=shop_a.program)]
    assert (coupon["value"], coupon["scope"], coupon["uses_per_member"]) == (
        6,
        {"exclude_skus": ["GIFT"]},
        2,
    )
