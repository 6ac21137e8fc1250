"""Query parameters of the staff pages: an odd value gets a clamp or a clear message, never a
server error.

Invariants:
- A number read from the address (a page, a count of days) is decimal digits, clamped into
  the range the page can use (``int_param``); anything else is the page's default. An id
  is decimal digits within PostgreSQL's bigint, else no id (``id_param``).
- The admin's lists (``CheckedChangeList``, the list of every ``MerchantScopedAdmin``)
  answer a filter the database or Python's dates cannot take (a NUL character, year 9999 of
  the date drill-down, a year past any date) as Django answers any other wrong filter: the
  list without its filters, here with a message saying so.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest
from django.utils.translation import gettext as _

BIGINT_MAX = 2**63 - 1


def _digits(value: str | None) -> str | None:
    """``value`` without spaces around and leading zeros, when it is all decimal digits."""
    text = (value or "").strip()
    if not text.isdecimal():
        return None
    return text.lstrip("0") or "0"


def int_param(value: str | None, *, default: int, low: int, high: int) -> int:
    """A whole number from the address, clamped into ``[low, high]``; ``default`` when it is
    missing or not digits (a minus sign included: no page here counts backwards)."""
    digits = _digits(value)
    if digits is None:
        return default
    if len(digits) > len(str(high)):  # too long to be in range (and for int() to be cheap)
        return high
    return min(max(int(digits), low), high)


def id_param(value: str | None) -> int | None:
    """A row's id from the address, or None when it cannot be one."""
    digits = _digits(value)
    if digits is None or len(digits) > len(str(BIGINT_MAX)):
        return None
    number = int(digits)
    return number if 0 < number <= BIGINT_MAX else None


class CheckedChangeList(ChangeList):
    """Django's change list, refusing the filters that would otherwise end in a server error
    (Django already refuses unknown fields and values of the wrong type the same way)."""

    def get_filters(self, request: HttpRequest) -> Any:
        if any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in self.filter_params.items()
        ):
            raise self._refused(request, ValueError("NUL character"))
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:
            # The date drill-down builds dates from the address (year 9999 has no next year).
            raise self._refused(request, error) from error

    def _refused(self, request: HttpRequest, error: Exception) -> IncorrectLookupParameters:
        messages.warning(
            request, _("A filter in the address could not be used; the whole list is shown.")
        )
        return IncorrectLookupParameters(error)
