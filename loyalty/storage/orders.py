"""Which orders exist already, by a kept statement (every order asks it)."""

from collections.abc import Collection
from functools import cache

from loyalty.models import Order, Program
from loyalty.storage import sql


def orders_recorded(*, program: Program, external_ids: Collection[str]) -> set[str]:
    """Which of these external ids the program has an order for."""
    if not external_ids:
        return set()
    return {row[0] for row in sql.run(_recorded_sql(), [list(external_ids), program.pk])}


@cache
def _recorded_sql() -> str:
    # Each id looked up on its own, by the unique index (see members._by_key).
    return (
        f"SELECT e FROM unnest(%s::text[]) AS e WHERE EXISTS (SELECT 1 FROM "  # noqa: S608
        f"{sql.quote(Order._meta.db_table)} WHERE {sql.column(Order, 'program')} = %s "
        f"AND {sql.column(Order, 'external_id')} = e)"
    )
