"""The dashboard on the admin's home page: ``{% backoffice_dashboard %}``.

A tag rather than a custom AdminSite, so every admin registered on ``admin.site`` stays
as it is; the figures come from ``loyalty.backoffice.dashboard`` (a constant number of
queries).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from loyalty.backoffice.charts import bar_chart
from loyalty.backoffice.dashboard import dashboard_figures, dashboard_range
from loyalty.backoffice.exports import EXPORTS
from loyalty.backoffice.scope import backoffice_program, staff_user
from loyalty.models import Merchant
from loyalty.roles import role_allows
from loyalty.selectors import ops_alerts
from loyalty.services.bulk import PERMISSION

register = template.Library()


@register.inclusion_tag("admin/backoffice/dashboard.html", takes_context=True)
def backoffice_dashboard(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = staff_user(request) if isinstance(request, HttpRequest) else None
    if user is None or not isinstance(request, HttpRequest):
        return {"show": False}
    program = backoffice_program(request)
    result: dict[str, Any] = {"show": True, "is_superuser": user.is_superuser}
    if user.is_superuser:
        result["merchants"] = list(Merchant.objects.order_by("name").values_list("pk", "name"))
        result["merchant_id"] = program.merchant_id if program else None
    if program is None:
        return result
    # Problems the hourly check found (ledger mismatch, outbox not draining) come first.
    result["alerts"] = list(ops_alerts(merchant=program.merchant))
    start, end = dashboard_range(request.GET.get("start"), request.GET.get("end"))
    figures = dashboard_figures(program=program, start=start, end=end)
    # Short ("14 Sep", the month in the staff member's language): the labels share 720 px.
    labels = [date_format(week.start, "j M") for week in figures.weeks]
    query = {"start": start.isoformat(), "end": end.isoformat()}
    if user.is_superuser:
        query["merchant"] = str(program.merchant_id)
    qs = urlencode(query)
    result.update(
        program=program,
        figures=figures,
        start=start,
        end=end,
        points_chart=bar_chart(
            title=_("Points per week"),
            labels=labels,
            series=[
                (_("earned"), "earned", [w.earned for w in figures.weeks]),
                (_("converted"), "converted", [w.converted for w in figures.weeks]),
                (_("expired"), "expired", [w.expired for w in figures.weeks]),
                (_("granted"), "granted", [w.granted for w in figures.weeks]),
            ],
        ),
        coupons_chart=bar_chart(
            title=_("Coupons per week"),
            labels=labels,
            series=[
                (_("issued"), "issued", [w.coupons_issued for w in figures.weeks]),
                (_("redeemed"), "redeemed", [w.coupons_redeemed for w in figures.weeks]),
            ],
        ),
        csv_url=f"{reverse('backoffice:dashboard-csv')}?{qs}",
        exports=[(kind, f"{reverse('backoffice:export', args=[kind])}?{qs}") for kind in EXPORTS],
        bulk_url=f"{reverse('backoffice:bulk')}"
        + (f"?merchant={program.merchant_id}" if user.is_superuser else "")
        if any(role_allows(user, p) for p in PERMISSION.values())
        else None,
    )
    return result
