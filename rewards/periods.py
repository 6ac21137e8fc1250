"""The calendar periods of perk allowances (month, quarter, year), in the program's local
time: "2 uses a quarter" starts again on 1 January, 1 April, 1 July and 1 October there.
Pure functions."""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def period_bounds(period: str, *, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The start of the period ``now`` falls in, and the start of the next one."""
    months = _MONTHS[period]
    local = now.astimezone(tz)
    first = (local.month - 1) // months * months  # 0-based month the period starts in
    start = datetime(local.year, first + 1, 1, tzinfo=tz)
    year, month = divmod(first + months, 12)
    end = datetime(local.year + year, month + 1, 1, tzinfo=tz)
    return start, end
