"""Coupon templates saved from the backoffice: a manager's change, in the template's own
program, with every changed field (its name per language included) in the audit trail."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from loyalty.audit import Action, audit_changes, audit_record
from loyalty.content import translations_clean
from loyalty.errors import InvalidInput
from loyalty.models import User
from loyalty.roles import Permission, role_check
from rewards.models import CouponTemplate
from rewards.services.thresholds import TERM_FIELDS

TEMPLATE_FIELDS = ("name", "name_i18n", *TERM_FIELDS)
NAME_LENGTH = 200


def _stored(template: CouponTemplate) -> dict[str, Any] | None:
    if template.pk is None:
        return None
    return CouponTemplate.objects.filter(pk=template.pk).values(*TEMPLATE_FIELDS).first()


@transaction.atomic
def coupon_template_save(*, template: CouponTemplate, actor: User | None) -> CouponTemplate:
    """Add or change a template (its terms checked by the form, ``terms_check``).

    Coupons already issued keep the terms copied into them; a threshold's reward shows the
    new name at once.
    """
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=template.program.merchant_id)
    try:
        template.name_i18n = translations_clean(template.name_i18n, max_length=NAME_LENGTH)
    except ValidationError as error:
        raise InvalidInput({"name_i18n": [str(m) for m in error.messages]}) from error
    before = _stored(template)
    template.save()
    after = _stored(template) or {}
    changes = audit_changes(before or {}, after)
    if changes:
        audit_record(
            merchant=template.program.merchant_id,
            actor=actor,
            action=Action.COUPON_TEMPLATE_UPDATE if before else Action.COUPON_TEMPLATE_CREATE,
            target=template,
            changes=changes,
        )
    return template
