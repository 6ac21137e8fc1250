"""Coupon templates as staff write them in the backoffice, one at a time.

Invariants: a write is refused unless the acting staff user is a manager of the template's
merchant (or a superuser); a template never moves to another program (its amounts are in
that program's currency); its terms pass ``terms_check`` before it is saved; its name per
language passes ``translations_clean``; every add and change is in the audit trail with the
values before and after (the names per language included), in its transaction.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from loyalty.audit import Action, audit_changes, audit_record
from loyalty.content import translations_clean
from loyalty.errors import InvalidInput
from loyalty.models import Program, User
from loyalty.roles import Permission, role_check
from loyalty.snapshot import settings_changed
from rewards.models import CouponTemplate
from rewards.services.coupons import terms_check
from rewards.services.thresholds import TERM_FIELDS

TEMPLATE_FIELDS = ("name", "name_i18n", *TERM_FIELDS)
NAME_LENGTH = 200


def _stored(template: CouponTemplate) -> dict[str, Any] | None:
    if template.pk is None:
        return None
    return (
        CouponTemplate.objects.filter(pk=template.pk).values("program_id", *TEMPLATE_FIELDS).first()
    )


@transaction.atomic
def coupon_template_save(*, template: CouponTemplate, actor: User | None) -> CouponTemplate:
    """Add or change one coupon template, checked, audited."""
    program: Program = template.program
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=program.merchant_id)
    stored = _stored(template)
    if stored is not None:
        # The stored program's merchant too: a change may not reach into another's template.
        merchant_id = Program.objects.values_list("merchant_id", flat=True).get(
            pk=stored["program_id"]
        )
        role_check(user=actor, permission=Permission.MANAGE, merchant_id=merchant_id)
        if stored["program_id"] != template.program_id:
            raise InvalidInput({"program": [str(_("A template stays with its program."))]})
    name = (template.name or "").strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput({"name": [str(_("Give the template a name."))]})
    template.name = name
    try:
        template.name_i18n = translations_clean(template.name_i18n, max_length=NAME_LENGTH)
    except ValidationError as error:
        raise InvalidInput({"name_i18n": [str(m) for m in error.messages]}) from error
    terms_check(template, currency=program.currency)
    Program.objects.select_for_update().filter(pk=program.pk).first()
    template.save()
    settings_changed(program)
    after = _stored(template) or {}
    before = {name: stored[name] for name in TEMPLATE_FIELDS} if stored else {}
    changes = audit_changes(before, {name: after[name] for name in TEMPLATE_FIELDS})
    if changes:
        audit_record(
            merchant=program.merchant_id,
            actor=actor,
            action=Action.COUPON_TEMPLATE_UPDATE if stored else Action.COUPON_TEMPLATE_CREATE,
            target=template,
            changes=changes,
        )
    return template
