"""Demo data: a merchant, its staff, an API key and a year of members, orders and refunds,
with reward thresholds, so orders turn points into coupons that are then used at checkout.

Everything goes through the services, as an integrator or a staff user would,
so the demo obeys the same rules as real data and the ledger audit passes.

Deterministic and idempotent: the plan (``loyalty.demo_plan``) is drawn from
``random.Random(42)`` before anything is written, dates are counted back from the demo merchant's
creation, and every write carries a fixed external id or idempotency key. A
second run replays into the same rows; members are written in batches, one
transaction each, and a batch already written is skipped, so a rerun (or a run
resumed after an interruption) is quick.

The thresholds are set before any order is written (points convert as orders are
recorded). What happens to coupons afterwards is drawn from a random generator of
its own per member, so it leaves the rest of the plan as it was; each step is
skipped on a replay when its trace is there (a redemption with the planned order
reference, a void status, a compensation coupon with the planned reason).
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction

from loyalty.demo_content import REASONS, demo_content_write
from loyalty.demo_plan import KEEP, RELEASE, VOID, VOID_REASON, PlannedMember, demo_plan
from loyalty.errors import InsufficientPoints, LoyaltyError
from loyalty.models import ApiKey, Member, Merchant, Program, Tier, User
from loyalty.services.api_keys import api_key_create, api_key_hash
from loyalty.services.coupon_voids import coupon_void
from loyalty.services.members import member_upsert
from loyalty.services.merchants import merchant_create, program_defaults_apply
from loyalty.services.orders import BatchOrder, orders_record_batch
from loyalty.services.points import points_grant
from loyalty.services.profile_access import signin_link_create
from loyalty.services.refunds import refund_record
from loyalty.snapshot import program_snapshot
from notifications.services.webhooks import webhook_endpoints_snapshot
from rewards.models import Coupon, RewardThreshold
from rewards.services.checkout import coupon_redeem, coupon_release
from rewards.services.coupons import coupon_issue_compensation

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Shop"
DEMO_CURRENCY = "EUR"
DEMO_API_KEY = "lk_demo_key_for_local_use_only"  # noqa: S105 - printed in the README on purpose
DEMO_USERS = {"admin": "admin", "staff": "staff", "support": "support", "viewer": "viewer"}
DEFAULT_MEMBERS = 300
PROFILE_LINK_HOURS = 24  # how long the printed sign-in link works
BATCH_SIZE = 100  # members a transaction (their orders: one order batch, under 1,000)


@dataclass
class DemoResult:
    merchant: Merchant
    passwords: dict[str, str | None]
    members_written: int = 0


def demo_merchant() -> Merchant:
    if not Merchant.objects.filter(slug=DEMO_SLUG).exists():
        merchant_create(slug=DEMO_SLUG, name=DEMO_NAME, currency=DEMO_CURRENCY)
    # Read back, program included, as the database has it (also when it existed already).
    return Merchant.objects.select_related("program").get(slug=DEMO_SLUG)


def demo_users(merchant: Merchant) -> tuple[User, dict[str, str | None]]:
    """The superuser ``admin`` and the merchant's staff users: ``staff`` (a manager),
    ``support`` and ``viewer`` (one per backoffice role).

    Passwords are set only on creation; returns the staff user and, per login,
    the known password or None when an existing user's password was left alone.
    """
    users = {}
    created = set()
    for username, extra in (
        ("admin", {"is_staff": True, "is_superuser": True}),
        ("staff", {"is_staff": True, "merchant": merchant}),
        ("support", {"is_staff": True, "merchant": merchant, "role": User.Role.SUPPORT}),
        ("viewer", {"is_staff": True, "merchant": merchant, "role": User.Role.VIEWER}),
    ):
        users[username], new = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com", **extra}
        )
        if new:
            created.add(username)

    # A password hash takes a second of one core by design; the four run side by side.
    def known(username: str) -> bool:
        user, password = users[username], DEMO_USERS[username]
        if username in created:
            user.password = make_password(password)
            return True
        return user.check_password(password)

    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        passwords = {
            username: DEMO_USERS[username] if ok else None
            for username, ok in zip(users, pool.map(known, users), strict=True)
        }
    for username in created:
        users[username].save(update_fields=["password"])
    return users["staff"], passwords


def demo_api_key(merchant: Merchant) -> str:
    """The demo key with every scope, made once with its fixed, published value."""
    existing = ApiKey.objects.filter(key_hash=api_key_hash(DEMO_API_KEY)).first()
    if existing is None:
        api_key_create(
            merchant=merchant,
            scopes=list(ApiKey.Scope.values),
            name="Demo key",
            raw_key=DEMO_API_KEY,
        )
    elif existing.merchant_id != merchant.pk:
        raise ValueError("The demo API key belongs to another merchant.")
    return DEMO_API_KEY


def demo_program(program: Program) -> None:
    """The default program (``merchant_create`` gave it; a demo written before the defaults
    existed gets them here, once, before any order), with a point worth a cent."""
    if not (
        RewardThreshold.objects.filter(program=program).exists()
        or Tier.objects.filter(program=program).exists()
    ):
        program_defaults_apply(program=program)
    if program.point_value is None:
        # What the dashboard's liability figure needs.
        Program.objects.filter(pk=program.pk).update(point_value=Decimal("0.01"))


def demo_members_write(*, program: Program, batch: list[PlannedMember], staff: User) -> None:
    """A batch of members' year, each in order: profile, orders, refunds, staff adjustments,
    coupons. The orders of the whole batch go in as one order batch (``POST /orders/batch``'s
    path), each member's in the order they were placed; members do not touch each other."""
    for planned in batch:
        member_upsert(
            program=program,
            external_id=planned.external_id,
            email=planned.email,
            name=planned.name,
            locale=planned.locale,
            consent_email=planned.consent_email,
            consent_push=planned.consent_push,
        )
    orders: list[BatchOrder] = [
        {
            "external_id": order.external_id,
            "member": planned.external_id,
            "amount": order.amount,
            "currency": program.currency,
            "placed_at": order.placed_at,
            "breakdown": order.breakdown,
        }
        for planned in batch
        for order in planned.orders
    ]
    balances: dict[str, int] = {}
    for outcome in orders_record_batch(program=program, orders=orders):
        if outcome.error is not None:
            raise outcome.error  # the plan is valid by construction: a bug, not data
        assert outcome.result is not None
        balances[outcome.result.order.member.external_id] = outcome.result.balance
    for planned in batch:
        demo_member_finish(
            program=program, planned=planned, staff=staff, balance=balances[planned.external_id]
        )


def demo_member_finish(
    *, program: Program, planned: PlannedMember, staff: User, balance: int
) -> None:
    """What follows a member's orders: refunds, staff adjustments, coupons."""
    for refund in planned.refunds:
        balance = refund_record(
            program=program,
            order_external_id=refund.order_external_id,
            external_id=refund.external_id,
            amount=refund.amount,
            currency=program.currency,
        ).balance
    for adjustment in planned.adjustments:
        if adjustment.points < 0 and balance + adjustment.points < 0:
            continue  # nothing to correct: the service would refuse it anyway
        try:
            balance = points_grant(
                program=program,
                member_external_id=planned.external_id,
                points=adjustment.points,
                reason=adjustment.reason,
                reason_i18n=REASONS.get(adjustment.reason),
                created_by=staff,
                idempotency_key=adjustment.key,
            ).entry.balance_after
        except InsufficientPoints:
            continue
    demo_coupons_write(program=program, planned=planned, staff=staff)


def demo_coupons_write(*, program: Program, planned: PlannedMember, staff: User) -> None:
    """The member's reward coupons used at checkout, released, voided; a compensation coupon.

    Each step is skipped when its trace is already there, so a replay changes nothing.
    """
    coupons = list(
        Coupon.objects.filter(program=program, member__external_id=planned.external_id)
        .prefetch_related("redemptions")
        .order_by("pk")
    )
    rewards = [coupon for coupon in coupons if coupon.source == Coupon.Source.REWARD]
    for coupon, use in zip(rewards, planned.coupon_uses, strict=False):
        if use.action == KEEP or coupon.status == Coupon.Status.VOID:
            continue
        if use.action == VOID:
            try:
                coupon_void(
                    program=program,
                    code=coupon.code,
                    reason=VOID_REASON,
                    reason_i18n=REASONS.get(VOID_REASON),
                    by=staff,
                )
            except LoyaltyError:
                pass  # already used: nothing to void
            continue
        if any(r.order_reference == use.order_reference for r in coupon.redemptions.all()):
            continue
        try:
            coupon_redeem(
                program=program,
                code=coupon.code,
                order_reference=use.order_reference,
                order_amount=use.order_amount,
                currency=program.currency,
                member_external_id=planned.external_id,
            )
        except LoyaltyError:
            continue  # e.g. a coupon that expired before a resumed run reached it
        if use.action == RELEASE:
            coupon_release(program=program, code=coupon.code, order_reference=use.order_reference)
    compensation = planned.compensation
    if compensation is not None and not any(
        coupon.source == Coupon.Source.COMPENSATION and coupon.reason == compensation.reason
        for coupon in coupons
    ):
        coupon_issue_compensation(
            program=program,
            member_external_id=planned.external_id,
            terms=compensation.terms,
            reason=compensation.reason,
            reason_i18n=REASONS.get(compensation.reason),
            issued_by=staff,
        )


def demo_seed(
    *, members: int = DEFAULT_MEMBERS, progress: Callable[[int, int], None] | None = None
) -> DemoResult:
    """Create (or complete) the demo merchant and its data. Safe to run any number of times."""
    merchant = demo_merchant()
    program = merchant.program
    demo_program(program)
    demo_content_write(program)
    staff, passwords = demo_users(merchant)
    demo_api_key(merchant)
    result = DemoResult(merchant=merchant, passwords=passwords)

    plan = demo_plan(members=members, now=merchant.created_at)
    existing = set(
        Member.objects.filter(
            program=program, external_id__in=[planned.external_id for planned in plan]
        ).values_list("external_id", flat=True)
    )
    for start in range(0, len(plan), BATCH_SIZE):
        batch = plan[start : start + BATCH_SIZE]
        # A batch is written in one transaction, so its last member marks it complete.
        if batch[-1].external_id in existing:
            continue
        # One set of settings for the batch, read once, as a request or an order batch does.
        with (
            webhook_endpoints_snapshot(merchant_id=merchant.pk),
            program_snapshot(),
            transaction.atomic(),
        ):
            demo_members_write(program=program, batch=batch, staff=staff)
        result.members_written += len(batch)
        if progress:
            progress(start + len(batch), len(plan))
    return result


def demo_present(*, members: int = DEFAULT_MEMBERS) -> bool:
    """Whether the demo is written whole (its last member is there: batches go in order)."""
    return Member.objects.filter(
        program__merchant__slug=DEMO_SLUG, external_id=f"cus_{members:05d}"
    ).exists()


def demo_guide(*, site: str) -> list[str]:
    """Where to go in the demo: the backoffice and its logins, the API docs and the key, and
    a one-time sign-in link to a demo member's profile page (a new one at each call)."""
    merchant = Merchant.objects.select_related("program").filter(slug=DEMO_SLUG).first()
    if merchant is None:
        return []
    program = merchant.program
    roles = {"admin": "superuser", "staff": "manager", "support": "support", "viewer": "viewer"}
    logins = ", ".join(f"{name} / {DEMO_USERS[name]} ({role})" for name, role in roles.items())
    lines = [
        f"Backoffice:    {site}/admin/",
        f"  logins as the demo made them: {logins}",
        f"API docs:      {site}/api/docs/",
        f"API key:       {DEMO_API_KEY}",
        f"Profile page:  {site}/profile/{merchant.slug}/sign-in/  (emails: var/mail/)",
    ]
    members = program.members.exclude(email="").filter(balance__gt=0).order_by("external_id")
    member = members.filter(coupons__status="active").first() or members.first()
    if member is not None:
        url = signin_link_create(member=member, minutes=PROFILE_LINK_HOURS * 60)
        lines += [
            f"  signed in as {member.name} ({member.external_id}), once, within "
            f"{PROFILE_LINK_HOURS} h:",
            f"Profile link:  {url}",
        ]
    return lines
