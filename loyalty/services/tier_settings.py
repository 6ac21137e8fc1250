"""A program's tiers as staff and integrators set them: checked, replaced as a whole,
audited; the defaults a new program starts from."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.audit import Action, audit_replace
from loyalty.content import translations_clean, translations_problems
from loyalty.errors import InvalidInput
from loyalty.models import Member, Program, Tier, TierChange, User
from loyalty.roles import Permission, role_check
from loyalty.rules.tiers import BADGE_CARD, EARLY_ACCESS, FREE_SHIPPING
from loyalty.services.members import MAX_RATING
from loyalty.services.tiers import program_tiers
from loyalty.snapshot import settings_changed
from rewards.models import CouponTemplate
from rewards.services.coupons import CouponTerms, terms_check
from rewards.services.perks import perks_end_for_tiers
from rewards.services.thresholds import TERM_FIELDS
from rewards.services.thresholds import _terms as coupon_terms

DEFAULT_WINDOW_DAYS = 90
# The tiers a new program starts from (and the demo shows): Gold, Platinum and Diamond at
# 200, 1,000 and 2,000 points earned in 90 days. Early access is Diamond's alone; the public
# badge card is the recognition of Platinum and Diamond.
DEFAULT_TIERS: tuple[dict[str, Any], ...] = (
    {"name": "Gold", "min_points": 200, "window_days": DEFAULT_WINDOW_DAYS,
     "earn_multiplier": Decimal("1.1"), "badge": "#c9a227",
     "benefits": ["10% more points on every order"], "flags": [],
     "name_i18n": {"es": "Oro", "ru": "Золото", "tr": "Altın"},
     "benefits_i18n": {"es": ["Un 10 % más de puntos en cada pedido"],
                       "ru": ["На 10 % больше баллов за каждый заказ"],
                       "tr": ["Her siparişte %10 daha fazla puan"]}},
    {"name": "Platinum", "min_points": 1000, "window_days": DEFAULT_WINDOW_DAYS,
     "earn_multiplier": Decimal("1.5"), "badge": "#7f8c8d",
     "benefits": ["50% more points on every order", "A public badge card"],
     "flags": [BADGE_CARD],
     "name_i18n": {"es": "Platino", "ru": "Платина", "tr": "Platin"},
     "benefits_i18n": {"es": ["Un 50 % más de puntos en cada pedido",
                              "Una tarjeta de miembro pública"],
                       "ru": ["На 50 % больше баллов за каждый заказ", "Публичная карта участника"],
                       "tr": ["Her siparişte %50 daha fazla puan", "Herkese açık üye kartı"]}},
    {"name": "Diamond", "min_points": 2000, "window_days": DEFAULT_WINDOW_DAYS,
     "earn_multiplier": Decimal(2), "badge": "#3b82f6",
     "benefits": ["Double points on every order", "Early access to sales", "Free shipping",
                  "A public badge card"],
     "flags": [EARLY_ACCESS, FREE_SHIPPING, BADGE_CARD],
     "name_i18n": {"es": "Diamante", "ru": "Бриллиант", "tr": "Elmas"},
     "benefits_i18n": {"es": ["Puntos dobles en cada pedido", "Acceso anticipado a las rebajas",
                              "Envío gratis", "Una tarjeta de miembro pública"],
                       "ru": ["Двойные баллы за каждый заказ", "Ранний доступ к распродажам",
                              "Бесплатная доставка", "Публичная карта участника"],
                       "tr": ["Her siparişte iki kat puan", "İndirimlere erken erişim",
                              "Ücretsiz kargo", "Herkese açık üye kartı"]}},
)  # fmt: skip
MAX_TIERS = 20
MAX_MULTIPLIER = Decimal(100)
FLAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_tier(index: int, item: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    def err(name: str, text: Any) -> None:
        errors.setdefault(f"tiers.{index}.{name}", []).append(str(text))

    name = str(item.get("name") or "").strip()
    if not name or len(name) > 100:
        err("name", _("Give the tier a name of at most 100 characters."))
    points = _whole(item.get("min_points"))
    if points is None or not 0 <= points <= 2**31 - 1:
        err("min_points", _("Give whole points, zero or more."))
    window = _whole(item.get("window_days", DEFAULT_WINDOW_DAYS))
    if window is None or not 1 <= window <= 3650:
        err("window_days", _("Give a window from 1 to 3650 days."))
    multiplier = _decimal(item.get("earn_multiplier", 1))
    if multiplier is None or not Decimal(1) <= multiplier <= MAX_MULTIPLIER:
        err("earn_multiplier", _("Give a multiplier from 1 to 100 (1: no extra points)."))
    elif multiplier != multiplier.quantize(Decimal("0.001")):
        err("earn_multiplier", _("Give at most 3 decimals."))
    rating = item.get("min_rating")
    min_rating = _decimal(rating)
    if rating is not None and (
        min_rating is None
        or not 0 <= min_rating <= MAX_RATING
        or min_rating != min_rating.quantize(Decimal("0.01"))
    ):
        err("min_rating", _("Give a rating from 0 to 999.99 with at most 2 decimals, or null."))
    badge = item.get("badge") or ""
    if not isinstance(badge, str) or len(badge) > 50:
        err("badge", _("Give a label of at most 50 characters."))
    benefits = item.get("benefits") or []
    if (
        not isinstance(benefits, list)
        or len(benefits) > 20
        or not all(isinstance(b, str) and b.strip() and len(b) <= 200 for b in benefits)
    ):
        err("benefits", _("Give at most 20 texts of at most 200 characters each."))
        benefits = []
    flags = item.get("flags") or []
    if (
        not isinstance(flags, list)
        or len(flags) > 20
        or not all(isinstance(f, str) and 0 < len(f) <= 50 and set(f) <= FLAG_CHARS for f in flags)
    ):
        err("flags", _("Give at most 20 names of lowercase letters, digits, '_' and '-'."))
        flags = []
    return {
        **_check_translations(item, err),
        **_check_perk(item, err),
        "id": item.get("id"),
        "name": name,
        "min_points": points,
        "window_days": window,
        "earn_multiplier": multiplier,
        "min_rating": min_rating,
        "badge": badge if isinstance(badge, str) else "",
        "benefits": [b.strip() for b in benefits],
        "flags": list(dict.fromkeys(flags)),
    }


def _check_perk(item: dict[str, Any], err: Any) -> dict[str, Any]:
    """The perk's template id as sent (null: none); not sent: the tier keeps its own. That the
    template is the program's is checked with the program (``_check_perks``)."""
    if "perk" not in item:
        return {}
    perk = item["perk"]
    if perk is None or perk == "":
        return {"perk_id": None}
    if isinstance(perk, dict):
        return {"perk_terms": perk}  # the API's coupon terms, checked with the program's currency
    if not isinstance(perk, int) or isinstance(perk, bool) or not 0 < perk < 2**63:
        err("perk", _("Choose a coupon template of this program."))
        return {}
    return {"perk_id": perk}


def _check_perks(
    program: Program, wanted: list[dict[str, Any]], errors: dict[str, list[str]]
) -> None:
    """Every perk a coupon template of this program (another merchant's is refused), or
    coupon terms that pass ``terms_check``."""
    for index, item in enumerate(wanted):
        if "perk_terms" in item:
            try:
                item["perk_terms"] = coupon_terms(item["perk_terms"])
                terms_check(item["perk_terms"], currency=program.currency)
            except (TypeError, ValueError):
                errors[f"tiers.{index}.perk"] = [str(_("Give the coupon's terms."))]
            except InvalidInput as exc:
                for name, messages in exc.fields.items():
                    errors[f"tiers.{index}.perk.{name}"] = messages
    ids = {item["perk_id"] for item in wanted if item.get("perk_id")}
    if not ids:
        return
    own = set(
        CouponTemplate.objects.filter(program=program, pk__in=ids).values_list("pk", flat=True)
    )
    for index, item in enumerate(wanted):
        if item.get("perk_id") and item["perk_id"] not in own:
            errors.setdefault(f"tiers.{index}.perk", []).append(
                str(_("Choose a coupon template of this program."))
            )


# A tier's texts per language (``loyalty.content``): the field, its length, lines or not.
TRANSLATED = (("name_i18n", 100, False), ("benefits_i18n", 200, True))


def _check_translations(item: dict[str, Any], err: Any) -> dict[str, Any]:
    """The tier's translations as kept; a field not sent keeps what the tier has (an
    integrator that knows nothing of them does not wipe the merchant's)."""
    found: dict[str, Any] = {}
    for name, length, lines in TRANSLATED:
        if name not in item:
            continue
        problems = translations_problems(item[name], max_length=length, lines=lines)
        for problem in problems:
            err(name, problem)
        if not problems:
            found[name] = translations_clean(item[name], max_length=length, lines=lines)
    return found


@transaction.atomic
def tiers_replace(
    *,
    program: Program,
    tiers: list[dict[str, Any]],
    actor: User | None = None,
    actor_name: str = "",
) -> list[Tier]:
    """Make the program's tiers exactly these (``PUT /program``'s ``tiers``, the admin).

    A tier keeps its row (and its members) when it is sent again under the same name
    (case-insensitively) or, from the admin, under its id. Members of a removed tier
    lose it; the next daily run places them. Nothing changes unless all is valid.
    A staff ``actor`` must be a manager of the program's merchant; a person's change is
    audited.
    """
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=program.merchant_id)
    wanted = tiers_check(tiers, program=program)
    # Lock the program row: concurrent replacements queue up.
    Program.objects.select_for_update().filter(pk=program.pk).first()
    before = tiers_describe(program=program)
    kept, fresh = _tiers_match(program, wanted)
    _tiers_write(program, kept=kept, fresh=fresh)
    settings_changed(program)
    audit_replace(
        merchant=program.merchant_id,
        target=program,
        action=Action.TIERS_REPLACE,
        name="tiers",
        before=before,
        after=tiers_describe(program=program),
        actor=actor,
        actor_name=actor_name,
    )
    return program_tiers(program)


def tiers_check(
    tiers: list[dict[str, Any]], *, program: Program | None = None
) -> list[dict[str, Any]]:
    """The tiers as sent, each checked, and no two with one name or at the same points:
    every problem at once, before the program is locked. With the ``program``, each perk
    must be one of its coupon templates."""
    errors: dict[str, list[str]] = {}
    if len(tiers) > MAX_TIERS:
        raise InvalidInput({"tiers": [str(_("At most 20 tiers."))]})
    wanted = [_check_tier(i, item if isinstance(item, dict) else {}, errors)
              for i, item in enumerate(tiers)]  # fmt: skip
    names: set[str] = set()
    points: set[int] = set()
    for index, item in enumerate(wanted):
        if item["name"] and item["name"].lower() in names:
            errors.setdefault(f"tiers.{index}.name", []).append(str(_("Two tiers with one name.")))
        if item["min_points"] is not None and item["min_points"] in points:
            errors.setdefault(f"tiers.{index}.min_points", []).append(
                str(_("Two tiers at the same points."))
            )
        names.add(item["name"].lower())
        if item["min_points"] is not None:
            points.add(item["min_points"])
    if program is not None:
        _check_perks(program, wanted, errors)
    if errors:
        raise InvalidInput(errors)
    return wanted


def _tiers_match(
    program: Program, wanted: list[dict[str, Any]]
) -> tuple[list[tuple[Tier, dict[str, Any]]], list[dict[str, Any]]]:
    """The program's tiers that stay (each with what it becomes), and the new ones. A tier
    stays under its id (the admin) or its name, case-insensitively: its members keep it."""
    current = list(Tier.objects.filter(program=program))
    by_id = {t.pk: t for t in current}
    by_name = {t.name.lower(): t for t in current}
    kept: list[tuple[Tier, dict[str, Any]]] = []
    fresh: list[dict[str, Any]] = []
    for item in wanted:
        row = by_id.get(item["id"]) if item["id"] else None
        row = row or by_name.get(item["name"].lower())
        if row is not None and all(row is not k for k, _i in kept):
            kept.append((row, item))
        else:
            fresh.append(item)
    return kept, fresh


def _tiers_write(
    program: Program, *, kept: list[tuple[Tier, dict[str, Any]]], fresh: list[dict[str, Any]]
) -> None:
    """The tiers not kept go first (their members' history says why they lost them), so
    the kept and new ones never meet a removed one's name or points."""
    keep_ids = {row.pk for row, _item in kept}
    removed = Tier.objects.filter(program=program).exclude(pk__in=keep_ids)
    _record_removal(removed)
    removed.delete()
    # Move kept tiers out of the way first, so swapping points or names never trips the
    # unique constraints half-way.
    for n, (row, _item) in enumerate(kept):
        Tier.objects.filter(pk=row.pk).update(name=f"\x01{row.pk}", min_points=2**31 - 1 - n)
    fields = ("name", "min_points", "window_days", "earn_multiplier", "min_rating", "badge",
              "benefits", "flags")  # fmt: skip
    # Sent or not (``_check_perk``): a tier sent without its perk keeps it.
    translated = [*(name for name, _length, _lines in TRANSLATED), "perk_id"]
    for row, item in kept:
        _perk_template(program, row, item)
    for item in fresh:
        _perk_template(program, None, item)
    # A perk taken off a tier ends now for its members (a changed one: coupons issued keep
    # their terms; members reaching the tier from now on get the new one).
    taken_off = {
        row.pk: item["name"]
        for row, item in kept
        if row.perk_id is not None and "perk_id" in item and item["perk_id"] is None
    }
    if taken_off:
        perks_end_for_tiers(tier_names=taken_off, now=timezone.now(),
                            why="the perk was taken off {tier}")  # fmt: skip
    for row, item in kept:
        for name in (*fields, *translated):
            if name in item:
                setattr(row, name, item[name])
        row.save()
    for item in fresh:
        values = {name: item[name] for name in (*fields, *translated) if name in item}
        Tier.objects.create(program=program, **values)


def _perk_template(program: Program, row: Tier | None, item: dict[str, Any]) -> None:
    """A perk sent as coupon terms (the API) becomes the tier's template: the one it has when
    the terms are the same, updated in place when nothing else uses it (coupons issued keep
    their terms), else a new one."""
    terms: CouponTerms | None = item.pop("perk_terms", None)
    if terms is None:
        return
    values = {name: getattr(terms, name) for name in TERM_FIELDS}
    current = CouponTemplate.objects.filter(pk=row.perk_id).first() if row and row.perk_id else None
    if current is not None:
        if all(getattr(current, name) == value for name, value in values.items()):
            item["perk_id"] = current.pk
            return
        shared = current.thresholds.exists() or current.perk_tiers.exclude(pk=row.pk).exists()  # type: ignore[union-attr]
        if not shared:
            CouponTemplate.objects.filter(pk=current.pk).update(**values)
            item["perk_id"] = current.pk
            return
    name = f"Perk of {item['name']}"
    item["perk_id"] = CouponTemplate.objects.create(program=program, name=name, **values).pk


def _record_removal(removed: QuerySet[Tier]) -> None:
    """The members of removed tiers lose them: a 'down' in each one's history (the daily
    job then places them in the tiers that remain), and the tiers' perk coupons end."""
    now = timezone.now()
    names = dict(removed.values_list("pk", "name"))
    if not names:
        return
    perks_end_for_tiers(tier_names=names, now=now)
    holders = (
        Member.objects.filter(tier_id__in=names)
        .values_list("pk", "program_id", "tier_id")
        .iterator()
    )
    TierChange.objects.bulk_create(
        (
            TierChange(
                program_id=program_id,
                member_id=pk,
                from_name=names[tier_id],
                kind=TierChange.Kind.DOWN,
                reason=f"Tier {names[tier_id]} removed from the program",
                created_at=now,
            )
            for pk, program_id, tier_id in holders
        ),
        batch_size=1000,
    )


def tiers_describe(*, program: Program) -> list[dict[str, Any]]:
    """The tiers in the shape ``PUT /api/v1/program`` takes, lowest first."""
    return [
        {
            "name": t.name,
            "min_points": t.min_points,
            "window_days": t.window_days,
            "earn_multiplier": t.earn_multiplier,
            "min_rating": t.min_rating,
            "badge": t.badge,
            "benefits": t.benefits,
            "flags": t.flags,
            "name_i18n": t.name_i18n,
            "benefits_i18n": t.benefits_i18n,
            "perk": tier_perk_describe(t),
        }
        for t in program_tiers(program)
    ]


def tier_perk_describe(tier: Tier) -> dict[str, Any] | None:
    """The perk's template: its id and terms (what the audit trail and the API show)."""
    if tier.perk_id is None:
        return None
    template = CouponTemplate.objects.get(pk=tier.perk_id)
    return {"id": template.pk, "name": template.name,
            **{name: getattr(template, name) for name in TERM_FIELDS}}  # fmt: skip


def tiers_seed_defaults(*, program: Program) -> list[Tier]:
    """The program's tiers made the defaults (``DEFAULT_TIERS``)."""
    return tiers_replace(program=program, tiers=[dict(tier) for tier in DEFAULT_TIERS])
