"""Members locked for a write, and members created on the fly, by kept statements.

Locks are taken in primary-key order, the order every writer of several members uses, so two
writers never wait on each other in a cycle; new members are inserted in external-id order
for the same reason. A member and its referrer (a referred member's first order pays both)
are locked in one statement.
"""

from collections.abc import Collection, Iterable
from functools import cache

from django.db import connection

from loyalty.errors import MemberNotFound
from loyalty.models import Member, Program
from loyalty.storage import sql

_CREATED = sql.prepared_fields(Member, with_pk=False)


def members_lock(
    *, program: Program, external_ids: Collection[str], referrers: bool = False
) -> dict[int, Member]:
    """The program's members of these external ids that exist (with their referrers when
    asked), locked in pk order; by pk."""
    if not external_ids:
        return {}
    statement = _lock_with_referrers_sql() if referrers else _lock_sql()
    found = {}
    for row in sql.run(statement, [program.pk, list(external_ids)]):
        member = sql.load(Member, row)
        member.program = program
        found[member.pk] = member
    return found


def member_get(*, program: Program, external_id: str) -> Member:
    """The program's member of this external id (not locked), or ``MemberNotFound``."""
    member = Member.objects.filter(program=program, external_id=external_id).first()
    if member is None:
        raise MemberNotFound(external_id=external_id)
    member.program = program
    return member


def member_locked(*, program: Program, external_id: str) -> Member | None:
    """The program's member of this external id, locked, or None."""
    return next(iter(members_lock(program=program, external_ids=[external_id]).values()), None)


def members_lock_by_pk(*, pks: Collection[int]) -> dict[int, Member]:
    """Lock these members in pk order; returns them by pk (their programs not loaded)."""
    return {m.pk: m for m in Member.objects.select_for_update().filter(pk__in=pks).order_by("pk")}


def members_create(*, program: Program, external_ids: Iterable[str]) -> dict[str, Member]:
    """Insert members for these (checked) external ids, in external-id order, and return the
    ones this statement made, locked (no other transaction sees them before ours commits);
    an id a concurrent writer took first is left out: lock it with ``members_lock``."""
    wanted = sorted(set(external_ids))
    if not wanted:
        return {}
    template = sql.values(Member(program=program, external_id=""), _CREATED)
    params = [v for name, v in zip(_CREATED.names, template, strict=True) if name != "external_id"]
    made = {}
    for row in sql.run(_create_sql(), [*params, wanted]):
        member = sql.load(Member, row)
        member.program = program
        made[member.external_id] = member
    return made


@cache
def _create_sql() -> str:
    """INSERT of a member per external id of the array parameter; every other column takes
    the value of its parameter (a new member's defaults)."""
    fields = {f.attname: f for f in Member._meta.concrete_fields}
    columns, selected = [], []
    for name in _CREATED.names:
        field = fields[name]
        columns.append(sql.quote(str(field.column)))
        selected.append("e" if name == "external_id" else f"%s::{field.cast_db_type(connection)}")
    return (
        f"INSERT INTO {sql.quote(Member._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(selected)} FROM unnest(%s::text[]) AS e ORDER BY e "
        f"ON CONFLICT DO NOTHING RETURNING {sql.columns(Member)}"
    )


def _by_key(column: str) -> str:
    """The pk (or another column) of the program's member of external id ``e``: a subquery
    with both key columns, so the unique index for sure. (``external_id = ANY(%s)`` let
    PostgreSQL read the whole program when its statistics were stale: a new shop's first
    busy hour.)"""
    table = sql.quote(Member._meta.db_table)
    return (
        f"(SELECT {sql.column(Member, column)} FROM {table} "  # noqa: S608
        f"WHERE {sql.column(Member, 'program')} = %s AND {sql.column(Member, 'external_id')} = e)"
    )


@cache
def _lock_sql() -> str:
    table, pk = sql.quote(Member._meta.db_table), sql.column(Member, "pk")
    return (
        f"SELECT {sql.columns(Member)} FROM {table} WHERE {pk} = ANY(ARRAY("  # noqa: S608
        f"SELECT {_by_key('pk')} FROM unnest(%s::text[]) AS e)) ORDER BY {pk} FOR UPDATE"
    )


@cache
def _lock_with_referrers_sql() -> str:
    # The program parameter is used twice: repeated in the array of keys below.
    table, pk = sql.quote(Member._meta.db_table), sql.column(Member, "pk")
    keys = _by_key("pk").replace("%s", "p.program")
    referrers = _by_key("referred_by").replace("%s", "p.program")
    return (
        f"SELECT {sql.columns(Member)} FROM {table} WHERE {pk} = ANY(ARRAY("  # noqa: S608
        f"SELECT k FROM (SELECT %s::bigint AS program) AS p, unnest(%s::text[]) AS e, "
        f"LATERAL (VALUES ({keys}), ({referrers})) AS v(k) WHERE k IS NOT NULL)) "
        f"ORDER BY {pk} FOR UPDATE"
    )
