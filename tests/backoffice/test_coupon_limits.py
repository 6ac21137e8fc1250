"""Support staff issue compensation coupons within the program's limits for support (what a
coupon may take off in all, its percentage, how long it is valid); above them a manager
does. The limits hold on every path: a member's page, the member list's action, the CSV
page, bulk jobs and the services themselves."""

import uuid
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.errors import InvalidInput
from loyalty.models import AuditEntry, BulkJob, BulkRow, Member, Program, User
from loyalty.roles import MerchantForbidden, RoleForbidden
from loyalty.services.bulk import bulk_job_create, bulk_job_run, bulk_job_start
from loyalty.services.merchants import program_update
from loyalty.tasks import bulk_job_run_task
from rewards.errors import CouponLimitExceeded
from rewards.models import Coupon
from rewards.services.admin_ops import CsvRow, coupons_issue
from rewards.services.coupon_jobs import coupons_issue_job
from rewards.services.coupons import CouponTerms, coupon_issue_compensation
from tests.factories import MemberFactory, StaffFactory
from tests.rewards.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db

# What the review's support user issued: 9,999 EUR, 100 uses, 10 years.
ATTACK = {"kind": "fixed", "value": "9999", "uses": "100", "valid_days": "3650"}


@pytest.fixture
def alice(shop: Program) -> Member:
    return MemberFactory(program=shop, external_id="alice")


@pytest.fixture
def support(shop: Program) -> User:
    return StaffFactory(merchant=shop.merchant, role=User.Role.SUPPORT)


@pytest.fixture
def manager(shop: Program) -> User:
    return StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)


def coupon_form(**terms: str) -> dict[str, str]:
    return {
        "apply": "1",
        "key": str(uuid.uuid4()),
        "kind": "fixed",
        "value": "5",
        "min_order_amount": "0",
        "valid_days": "30",
        "uses": "1",
        "reason": "Parcel lost",
        "source": "compensation",
        **terms,
    }


def terms(kind: str = "fixed", value: str = "10", max_discount: str | None = None,
          valid_days: int = 30, uses: int = 1) -> CouponTerms:  # fmt: skip
    return CouponTerms(
        kind=kind,
        value=Decimal(value),
        max_discount=None if max_discount is None else Decimal(max_discount),
        valid_days=valid_days,
        uses=uses,
    )


def issue(program: Program, user: User | None, coupon_terms) -> Coupon:
    return coupon_issue_compensation(
        program=program,
        member_external_id="alice",
        terms=coupon_terms,
        reason="Parcel lost",
        issued_by=user,
    )


def test_the_defaults_are_sane(shop):
    assert shop.support_coupon_max_amount == Decimal(50)
    assert shop.support_coupon_max_percent == Decimal(20)
    assert shop.support_coupon_max_days == 90


# The review's attack, through the admin


def test_support_cannot_issue_the_reviews_coupon_from_a_members_page(shop, alice, staff_client):
    _user, client = staff_client(shop, User.Role.SUPPORT)

    response = client.post(
        reverse("admin:loyalty_member_coupon", args=[alice.pk]), coupon_form(**ATTACK)
    )

    assert response.status_code == 200  # the form again, with the refusal
    page = response.content.decode()
    assert "Your role (support) may not issue this coupon" in page
    assert "above the limit of 50.00" in page
    assert "3650 days, above the limit of 90 days" in page
    assert not Coupon.objects.exists()
    assert not AuditEntry.objects.exists()


def test_support_cannot_issue_above_the_limits_from_the_member_list(shop, alice, staff_client):
    _user, client = staff_client(shop, User.Role.SUPPORT)

    response = client.post(
        reverse("admin:loyalty_member_changelist"),
        {
            "action": "issue_coupon",
            "_selected_action": [alice.pk],
            **coupon_form(kind="percent", value="50", max_discount="10"),
        },
    )

    assert response.status_code == 200
    assert "it takes off 50%, above the limit of 20%." in response.content.decode()
    assert not Coupon.objects.exists()


def test_support_cannot_issue_above_the_limits_from_a_csv(shop, alice, staff_client):
    _user, client = staff_client(shop, User.Role.SUPPORT)
    upload = SimpleUploadedFile("m.csv", b"external_id\nalice\n", content_type="text/csv")

    preview = client.post(
        reverse("admin:rewards_coupon_issue_csv"),
        {**coupon_form(**ATTACK), "file": upload},
    )

    assert preview.status_code == 200
    assert "confirm" not in preview.context
    assert "Your role (support) may not issue this coupon" in preview.content.decode()
    assert not Coupon.objects.exists()


def test_a_manager_issues_what_support_may_not(shop, alice, staff_client):
    _user, client = staff_client(shop, User.Role.MANAGER)

    response = client.post(
        reverse("admin:loyalty_member_coupon", args=[alice.pk]), coupon_form(**ATTACK)
    )

    assert response.status_code == 302
    coupon = Coupon.objects.get()
    assert (coupon.value, coupon.uses_allowed) == (Decimal(9999), 100)


# The services, called directly


@pytest.mark.parametrize(
    ("coupon_terms", "problem"),
    [
        (terms(value="50.01"), "50.01"),
        (terms(value="10", uses=6), "10.00 EUR x 6 uses"),
        (terms(valid_days=91), "91 days, above the limit of 90 days"),
        (terms(kind="percent", value="25", max_discount="5"), "25%, above the limit of 20%"),
        (terms(kind="percent", value="10"), "a percent coupon needs a maximum discount"),
        (terms(kind="percent", value="10", max_discount="30", uses=2), "30.00 EUR x 2 uses"),
    ],
)
def test_the_service_refuses_support_above_each_limit(shop, alice, support, coupon_terms, problem):
    with pytest.raises(CouponLimitExceeded) as refused:
        issue(shop, support, coupon_terms)

    assert refused.value.code == "coupon_limit_exceeded"
    assert refused.value.status == 403
    detail = refused.value.detail.replace("\N{NO-BREAK SPACE}", " ")
    assert problem in detail
    assert "ask a manager of your shop" in detail
    assert not Coupon.objects.exists()


@pytest.mark.parametrize(
    "coupon_terms",
    [
        terms(value="50", valid_days=90),
        terms(value="10", uses=5),
        terms(kind="percent", value="20", max_discount="25", uses=2),
    ],
)
def test_support_issues_up_to_the_limits(shop, alice, support, coupon_terms):
    coupon = issue(shop, support, coupon_terms)

    assert coupon.issued_by == support


def test_a_template_counts_like_typed_terms(shop, alice, support, manager):
    generous = CouponTemplateFactory(program=shop, kind="fixed", value=Decimal(500))

    with pytest.raises(CouponLimitExceeded):
        issue(shop, support, generous)
    assert issue(shop, manager, generous).value == Decimal(500)


def test_managers_superusers_and_integrators_are_not_limited(shop, alice, manager):
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    big = terms(value="9999", uses=100, valid_days=3650)

    for user in (manager, root, None):
        issue(shop, user, big)

    assert Coupon.objects.count() == 3


def test_other_roles_and_merchants_are_refused_before_the_limits(shop, other_shop, alice):
    viewer = StaffFactory(merchant=shop.merchant, role=User.Role.VIEWER)
    stranger = StaffFactory(merchant=other_shop.merchant, role=User.Role.MANAGER)

    with pytest.raises(RoleForbidden):
        issue(shop, viewer, terms())
    with pytest.raises(MerchantForbidden):
        issue(shop, stranger, terms())
    assert not Coupon.objects.exists()


def test_a_batch_above_the_limits_issues_nothing(shop, alice, support):
    with pytest.raises(CouponLimitExceeded):
        coupons_issue(
            program=shop,
            rows=[CsvRow(1, "alice")],
            terms=terms(value="9999", uses=100),
            reason="Outage",
            issued_by=support,
            key=str(uuid.uuid4()),
        )

    assert not Coupon.objects.exists()
    assert not AuditEntry.objects.exists()


def test_bulk_jobs_issue_no_coupon_above_the_limits(
    shop, alice, support, django_capture_on_commit_callbacks
):
    generous = CouponTemplateFactory(program=shop, kind="fixed", value=Decimal(500))
    from_template = bulk_job_create(
        program=shop,
        kind=BulkJob.Kind.COUPONS,
        data=b"external_id\nalice\n",
        params={"reason": "Parcel lost", "template": generous.pk},
        created_by=support,
    )
    with django_capture_on_commit_callbacks(execute=True):
        bulk_job_start(job=from_template, user=support, run=bulk_job_run_task.delay)
    typed = coupons_issue_job(
        program=shop,
        rows=[(1, "alice")],
        terms={"kind": "fixed", "value": "9999", "max_discount": "None",
               "min_order_amount": "0", "valid_days": "3650", "uses": "100"},
        reason="Outage",
        source="compensation",
        skip_already_issued=False,
        key=str(uuid.uuid4()),
        created_by=support,
        run=bulk_job_run_task.delay,
    )  # fmt: skip
    bulk_job_run(job_id=typed.pk)

    for job in (from_template, typed):
        [row] = job.rows.all()
        assert (row.status, row.code) == (BulkRow.Status.FAILED, "coupon_limit_exceeded")
        assert "may not issue this coupon" in row.detail
    assert not Coupon.objects.exists()


# The limits are the program's settings, which a manager edits


def test_a_manager_raises_the_limits_and_the_change_is_audited(shop, alice, support, manager):
    program_update(
        program=shop,
        actor=manager,
        support_coupon_max_amount="100",
        support_coupon_max_percent="30",
        support_coupon_max_days=180,
    )
    shop.refresh_from_db()

    issue(shop, support, terms(value="100", valid_days=180))
    issue(shop, support, terms(kind="percent", value="30", max_discount="100"))
    entry = AuditEntry.objects.get(action="program.update")
    assert entry.actor == manager
    assert entry.changes["support_coupon_max_amount"] == ["50.000", "100"]
    assert entry.changes["support_coupon_max_days"] == [90, 180]


def test_support_cannot_raise_its_own_limits(shop, support, staff_client):
    with pytest.raises(RoleForbidden):
        program_update(program=shop, actor=support, support_coupon_max_amount="100000")
    _user, client = staff_client(shop, User.Role.SUPPORT)
    response = client.post(
        reverse("admin:loyalty_program_change", args=[shop.pk]),
        {"name": shop.name, "support_coupon_max_amount": "100000"},
    )

    assert response.status_code == 403
    shop.refresh_from_db()
    assert shop.support_coupon_max_amount == Decimal(50)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("support_coupon_max_amount", "-1"),
        ("support_coupon_max_amount", "NaN"),
        ("support_coupon_max_amount", "0.0001"),
        ("support_coupon_max_percent", "100.5"),
        ("support_coupon_max_percent", "-1"),
        ("support_coupon_max_days", 0),
        ("support_coupon_max_days", 3651),
        ("support_coupon_max_days", "30"),
    ],
)
def test_bad_limits_are_refused(shop, manager, setting, value):
    with pytest.raises(InvalidInput) as refused:
        program_update(program=shop, actor=manager, **{setting: value})

    assert setting in refused.value.fields
    shop.refresh_from_db()
    assert (shop.support_coupon_max_amount, shop.support_coupon_max_days) == (Decimal(50), 90)


def test_managers_edit_the_limits_on_the_programs_page(shop, staff_client):
    from tests.loyalty.test_admin import program_data

    _user, client = staff_client(shop, User.Role.MANAGER)
    url = reverse("admin:loyalty_program_change", args=[shop.pk])

    assert "support_coupon_max_amount" in client.get(url).content.decode()
    response = client.post(
        url,
        program_data(
            shop,
            support_coupon_max_amount="75",
            support_coupon_max_percent="15",
            support_coupon_max_days="60",
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    shop.refresh_from_db()
    assert (
        shop.support_coupon_max_amount,
        shop.support_coupon_max_percent,
        shop.support_coupon_max_days,
    ) == (Decimal(75), Decimal(15), 60)


def test_a_superuser_issues_above_the_limits_in_the_admin(shop, alice, superuser_client):
    _root, client = superuser_client

    response = client.post(
        reverse("admin:loyalty_member_coupon", args=[alice.pk]), coupon_form(**ATTACK)
    )

    assert response.status_code == 302
    assert Coupon.objects.get().uses_allowed == 100
