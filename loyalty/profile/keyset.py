"""Pages of a member's rows by keyset: newest first, those just older than ``before`` or
just newer than ``after`` (row ids), never by OFFSET and with no count, so a deep page costs
what the first does. The pager says Newer / Older / Newest instead of "page 40 of 500"."""

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


@dataclass
class KeysetPage(Generic[M]):
    rows: list[M]
    # Ids to page from: the "Newer" link shows rows after ``newer``, "Older" before ``older``.
    newer: int | None
    older: int | None


def cursor(value: Any) -> int | None:
    """A page cursor from the query string: a positive id, else None (the first page)."""
    try:
        found = int(str(value))
    except (TypeError, ValueError):
        return None
    return found if 0 < found < 2**63 else None


def keyset_page(
    rows: QuerySet[M], *, size: int, before: int | None = None, after: int | None = None
) -> KeysetPage[M]:
    """One page of ``rows`` (ordered newest first by id): one query of ``size + 1`` rows (a
    second when fewer than a page is newer than ``after``: that is the first page)."""
    if after is not None:
        found = list(rows.filter(id__gt=after).order_by("id")[: size + 1])
        if len(found) > size:
            found = found[:size][::-1]
            return KeysetPage(rows=found, newer=found[0].pk, older=found[-1].pk)
    query = rows.filter(id__lt=before) if before is not None else rows
    found = list(query.order_by("-id")[: size + 1])
    older = found[size - 1].pk if len(found) > size else None
    found = found[:size]
    newer = found[0].pk if before is not None and found else None
    return KeysetPage(rows=found, newer=newer, older=older)
