"""The demo's plan: who its members are and what each of them does over a year (orders,
refunds, grants, coupons used or voided), drawn from ``random.Random(42)`` before anything
is written, so it never depends on the database and a rerun draws the same.

Member ``n`` gets the same data whatever the number of members, and what happens to coupons
is drawn from a generator of its own per member (``loyalty.demo`` writes the plan).
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from rewards.services.coupons import CouponTerms

SEED = 42
CENTS = Decimal("0.01")

# (first names, last names) per locale; Russian surnames take their feminine form.
_MALE, _FEMALE = "m", "f"
NAMES: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "en": (
        [("James", _MALE), ("Oliver", _MALE), ("Harry", _MALE), ("Jack", _MALE),
         ("Thomas", _MALE), ("Daniel", _MALE), ("Michael", _MALE), ("David", _MALE),
         ("Emily", _FEMALE), ("Olivia", _FEMALE), ("Sophie", _FEMALE), ("Grace", _FEMALE),
         ("Charlotte", _FEMALE), ("Jessica", _FEMALE), ("Hannah", _FEMALE), ("Amelia", _FEMALE)],
        ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
         "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green"],
    ),
    "es": (
        [("Alejandro", _MALE), ("Javier", _MALE), ("Carlos", _MALE), ("Pablo", _MALE),
         ("Sergio", _MALE), ("Manuel", _MALE), ("Diego", _MALE), ("Álvaro", _MALE),
         ("Lucía", _FEMALE), ("María", _FEMALE), ("Carmen", _FEMALE), ("Sofía", _FEMALE),
         ("Elena", _FEMALE), ("Paula", _FEMALE), ("Marta", _FEMALE), ("Andrea", _FEMALE)],
        ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez",
         "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz"],
    ),
    "ru": (
        [("Александр", _MALE), ("Дмитрий", _MALE), ("Максим", _MALE), ("Сергей", _MALE),
         ("Андрей", _MALE), ("Алексей", _MALE), ("Иван", _MALE), ("Никита", _MALE),
         ("Анна", _FEMALE), ("Мария", _FEMALE), ("Елена", _FEMALE), ("Ольга", _FEMALE),
         ("Наталья", _FEMALE), ("Татьяна", _FEMALE), ("Екатерина", _FEMALE), ("Дарья", _FEMALE)],
        ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов",
         "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев",
         "Семёнов", "Егоров"],
    ),
    "tr": (
        [("Mehmet", _MALE), ("Mustafa", _MALE), ("Ahmet", _MALE), ("Emre", _MALE),
         ("Burak", _MALE), ("Can", _MALE), ("Murat", _MALE), ("Kerem", _MALE),
         ("Zeynep", _FEMALE), ("Elif", _FEMALE), ("Ayşe", _FEMALE), ("Fatma", _FEMALE),
         ("Merve", _FEMALE), ("Esra", _FEMALE), ("Selin", _FEMALE), ("Büşra", _FEMALE)],
        ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk",
         "Aydın", "Özdemir", "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara"],
    ),
}  # fmt: skip
LOCALE_WEIGHTS = {"en": 40, "es": 25, "ru": 20, "tr": 15}
# Reserved domains (RFC 2606): the demo can never mail a real person.
EMAIL_DOMAINS = ["example.com", "example.org", "example.net"]

_LATIN = str.maketrans(
    {
        "á": "a", "é": "e", "í": "i", "ó": "o", "ú": "u", "ñ": "n", "ü": "u", "ı": "i",
        "ş": "s", "ç": "c", "ğ": "g", "ö": "o", "İ": "i",
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh",
        "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
        "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
        "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
        "я": "ya",
    }
)  # fmt: skip

GRANT_REASONS = [
    "Sorry for the late delivery of your order",
    "Welcome gift for joining the newsletter",
    "Thank you for your detailed product review",
    "Compensation for a damaged parcel",
    "Birthday gift from the Demo Shop team",
    "Goodwill gesture after a support call",
]
DEDUCT_REASONS = [
    "Points granted twice by mistake",
    "Order cancelled by phone after it earned points",
    "Correction of a manual grant sent to the wrong customer",
]

# What happens to a member's n-th reward coupon; the rest stay unused.
REDEEM, RELEASE, VOID, KEEP = "redeem", "release", "void", "keep"
COUPON_SLOTS = 8  # more reward coupons than one member of the demo ever gets
VOID_REASON = "Customer asked to cancel the coupon and keep the points for a bigger reward"
COMPENSATIONS = [
    ("Parcel arrived damaged", CouponTerms(kind="fixed", value=Decimal("10.00"),
                                           min_order_amount=Decimal("50.00"))),
    ("Sorry for the two-week delivery delay", CouponTerms(kind="percent", value=Decimal(15),
                                                          max_discount=Decimal("30.00"),
                                                          valid_days=60)),
    ("Wrong size sent; thank you for your patience", CouponTerms(kind="fixed",
                                                                 value=Decimal("5.00"))),
]  # fmt: skip


@dataclass(frozen=True)
class PlannedOrder:
    external_id: str
    placed_at: datetime
    amount: Decimal
    breakdown: dict[str, Decimal]


@dataclass(frozen=True)
class PlannedRefund:
    order_external_id: str
    external_id: str
    amount: Decimal


@dataclass(frozen=True)
class PlannedAdjustment:
    points: int
    reason: str
    key: str


@dataclass(frozen=True)
class PlannedCouponUse:
    """A reward coupon used at checkout (and maybe released: the order was cancelled),
    voided by staff, or kept."""

    action: str
    order_reference: str = ""
    order_amount: Decimal = Decimal(0)


@dataclass(frozen=True)
class PlannedCompensation:
    reason: str
    terms: CouponTerms


@dataclass
class PlannedMember:
    external_id: str
    name: str
    email: str
    locale: str
    consent_email: bool
    consent_push: bool
    orders: list[PlannedOrder] = field(default_factory=list)
    refunds: list[PlannedRefund] = field(default_factory=list)
    adjustments: list[PlannedAdjustment] = field(default_factory=list)
    coupon_uses: list[PlannedCouponUse] = field(default_factory=list)
    compensation: PlannedCompensation | None = None


def _cents(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENTS)


def _person(rng: random.Random, locale: str, number: int) -> tuple[str, str]:
    first_names, last_names = NAMES[locale]
    first, gender = rng.choice(first_names)
    last = rng.choice(last_names)
    if locale == "ru" and gender == _FEMALE:
        last += "а"
    name = f"{first} {last}"
    local = f"{first}.{last}".lower().translate(_LATIN)
    email = f"{local}{number % 97 if rng.random() < 0.4 else ''}@{rng.choice(EMAIL_DOMAINS)}"
    return name, email


def _order(rng: random.Random, external_id: str, placed_at: datetime) -> PlannedOrder:
    amount = _cents(rng.uniform(5, 400))
    breakdown: dict[str, Decimal] = {}
    if rng.random() < 0.45:
        # The charged amount includes 21 % VAT and maybe shipping, after any discount.
        shipping = rng.choice([Decimal("0"), Decimal("4.95"), Decimal("6.90")])
        shipping = min(shipping, (amount / 4).quantize(CENTS))
        tax = ((amount - shipping) * Decimal(21) / Decimal(121)).quantize(CENTS)
        breakdown = {"shipping": shipping, "tax": tax}
        if rng.random() < 0.3:
            breakdown["discount"] = _cents(float(amount) * rng.choice([0.05, 0.1, 0.15]))
    return PlannedOrder(external_id, placed_at, amount, breakdown)


def demo_plan(*, members: int, now: datetime, seed: int = SEED) -> list[PlannedMember]:
    """What the demo writes, drawn before anything is written so it never depends on the DB.

    Member ``n`` gets the same data whatever ``members`` is, so a bigger run extends a
    smaller one.
    """
    rng = random.Random(seed)  # noqa: S311 - demo data, not a secret
    locales, weights = list(LOCALE_WEIGHTS), list(LOCALE_WEIGHTS.values())
    plan = []
    order_number = 100_000
    for number in range(1, members + 1):
        locale = rng.choices(locales, weights)[0]
        name, email = _person(rng, locale, number)
        member = PlannedMember(
            external_id=f"cus_{number:05d}",
            name=name,
            email=email,
            locale=locale,
            consent_email=rng.random() < 0.7,
            consent_push=rng.random() < 0.35,
        )
        first_seen = rng.uniform(1, 365)
        count = rng.randint(1, 6)
        offsets = sorted((rng.uniform(0.01, first_seen) for _ in range(count)), reverse=True)
        for offset in offsets:
            order_number += 1
            placed_at = (now - timedelta(days=offset)).replace(microsecond=0)
            member.orders.append(_order(rng, f"DS-{order_number}", placed_at))
        for order in member.orders:
            if rng.random() < 0.08:
                share = 1.0 if rng.random() < 0.4 else rng.uniform(0.1, 0.6)
                amount = order.amount if share == 1.0 else _cents(float(order.amount) * share)
                refund_id = f"RF-{order.external_id}"
                member.refunds.append(PlannedRefund(order.external_id, refund_id, amount))
        if rng.random() < 0.1:
            points, reason = rng.choice([50, 100, 200, 250, 500]), rng.choice(GRANT_REASONS)
            key = f"demo:{member.external_id}:grant"
            member.adjustments.append(PlannedAdjustment(points, reason, key))
        if rng.random() < 0.05:
            points, reason = -rng.choice([20, 50, 100]), rng.choice(DEDUCT_REASONS)
            key = f"demo:{member.external_id}:deduct"
            member.adjustments.append(PlannedAdjustment(points, reason, key))
        _plan_coupons(member, seed)
        plan.append(member)
    return plan


def _plan_coupons(member: PlannedMember, seed: int) -> None:
    """What the member does with its coupons, from a generator of its own (the rest of the
    plan draws exactly what it drew before the demo had coupons)."""
    rng = random.Random(f"{seed}:coupons:{member.external_id}")  # noqa: S311 - demo data
    number = member.external_id.removeprefix("cus_")
    # Voiding gives points back; a member whose planned deduction depends on its balance
    # keeps its coupons, so a replay can never find more points than the first run did.
    may_void = all(adjustment.points > 0 for adjustment in member.adjustments)
    for slot in range(COUPON_SLOTS):
        draw = rng.random()
        amount = _cents(rng.uniform(160, 450))
        reference = f"WEB-{number}-{slot + 1}"
        if draw < 0.40:
            member.coupon_uses.append(PlannedCouponUse(REDEEM, reference, amount))
        elif draw < 0.42:
            member.coupon_uses.append(PlannedCouponUse(RELEASE, reference, amount))
        elif draw < 0.425 and may_void:
            member.coupon_uses.append(PlannedCouponUse(VOID))
        else:
            member.coupon_uses.append(PlannedCouponUse(KEEP))
    if rng.random() < 0.04:
        reason, terms = rng.choice(COMPENSATIONS)
        member.compensation = PlannedCompensation(reason, terms)
