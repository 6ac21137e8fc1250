"""The PostgreSQL statements of the storage layer, built once per process, not once per call.

Django builds and compiles a queryset anew on every call; for the statements every order
runs, that costs more than the database takes to answer them (the member lock: 1.6 ms of
Python against 0.2 ms with its SQL kept). Here the SQL is built from the models' fields at
first use (so it follows their changes) and rows become models as the ORM makes them:
each value through the field's converters, then ``from_db``. Values go to the database as
``bulk_create`` prepares them, with the fields that need it (JSON, auto_now) prepared by
Django and the rest, whose preparation on PostgreSQL returns the value, taken as they are.
"""

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from operator import attrgetter
from typing import Any, TypeVar

import psycopg
from django.db import connection, models
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)

# Fields whose values go to psycopg as they are: on PostgreSQL their preparation for the
# database only coerces a value that already has the right type (Django's adapt_* for them
# return the value). Others (JSON) and the auto_now ones go through Django's preparation.
_AS_IS = (models.IntegerField, models.CharField, models.TextField, models.BooleanField,
          models.DecimalField, models.DateField, models.ForeignKey)  # fmt: skip


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


@contextmanager
def cursor(logged_as: str) -> Iterator[psycopg.Cursor[Any]]:
    """A psycopg cursor that binds parameters on the server, so a statement run again on the
    connection is prepared once (psycopg's prepare_threshold; set it to None in OPTIONS
    behind a transaction-pooling proxy), and a batch's thousands of values are not quoted
    into its text in Python as Django's cursor does. With Django's errors (a duplicate key
    is an IntegrityError) and its statement log (tests count statements)."""
    started = time.monotonic()
    connection.ensure_connection()
    try:
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as bound:
            yield bound
    finally:
        if connection.queries_logged:  # as Django's debug cursor logs a statement, failed too
            took = time.monotonic() - started
            connection.queries_log.append({"sql": logged_as, "time": f"{took:.3f}"})


def run(statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Execute on a ``cursor``; the rows it returns (none for a plain write)."""
    connection.ensure_connection()  # mogrify below needs the connection itself
    # Logged with its values in, as Django logs a statement (tests plan what they capture).
    logged = (
        psycopg.ClientCursor(connection.connection).mogrify(statement, params)
        if connection.queries_logged
        else statement
    )
    with cursor(logged) as bound:
        bound.execute(statement, params)
        # Rows only when the statement returns some: asked of the result's status, as
        # ``description`` would build a column object per column for nothing.
        result = bound.pgresult
        returned = result is not None and result.status == psycopg.pq.ExecStatus.TUPLES_OK
        return bound.fetchall() if returned else []


def column(model: type[Model], name: str) -> str:
    """The quoted column of the field ``name`` ("pk" for the primary key)."""
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    assert isinstance(field, Field), name
    return quote(str(field.column))


@cache
def columns(model: type[Model], table: str = "") -> str:
    """``table."col", ...`` for every concrete field, in the order ``load`` reads them
    (``table``: an alias in the statement; the model's table by default)."""
    table = table or quote(model._meta.db_table)
    return ", ".join(f"{table}.{quote(str(f.column))}" for f in model._meta.concrete_fields)


@cache
def _loading(model: type[Model]) -> tuple[list[str], list[tuple[int, list[Any], Any]]]:
    """The attribute names ``from_db`` takes, and the columns that have converters (most
    have none: they are skipped without a look)."""
    converters = []
    for index, field in enumerate(model._meta.concrete_fields):
        col = field.get_col(model._meta.db_table)
        functions = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        if functions:
            converters.append((index, functions, col))
    return [f.attname for f in model._meta.concrete_fields], converters


def load(model: type[M], values: Iterable[Any]) -> M:
    """A row of ``columns(model)`` as the ORM would load it."""
    names, converters = _loading(model)
    row = list(values)
    for index, functions, col in converters:
        for convert in functions:
            row[index] = convert(row[index], col, connection)
    return model.from_db(connection.alias, names, row)


@dataclass(frozen=True)
class Fields:
    """How ``values`` reads a row: every column's attribute at once (``attrgetter``, in C),
    then Django's preparation for the columns that need it (by position)."""

    names: tuple[str, ...]
    read: Callable[[Model], Any]
    prepare: tuple[tuple[int, Field], ...]


@cache
def prepared_fields(model: type[Model], *, with_pk: bool) -> Fields:
    """The model's concrete fields (without the pk unless ``with_pk``) for ``values``."""
    names: list[str] = []
    prepare: list[tuple[int, Field]] = []
    for f in model._meta.concrete_fields:
        if f.primary_key and not with_pk:
            continue
        plain = (
            isinstance(f, _AS_IS)
            and not getattr(f, "auto_now", False)
            and not getattr(f, "auto_now_add", False)
        )
        if not plain:
            prepare.append((len(names), f))
        names.append(f.attname)
    # attrgetter of one name gives the value, of several a tuple: always a tuple here.
    read = attrgetter(*names) if len(names) > 1 else (lambda row: (getattr(row, names[0]),))
    return Fields(tuple(names), read, tuple(prepare))


def values(row: Model, fields: Fields) -> list[Any]:
    """The row's values for the database, as ``bulk_create`` prepares them."""
    found = list(fields.read(row))
    for index, field in fields.prepare:
        found[index] = field.get_db_prep_save(field.pre_save(row, True), connection)
    return found


@cache
def _insert_sql(model: type[Model]) -> str:
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    return (
        f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608 - names from the model
        f"({', '.join(quote(str(f.column)) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"RETURNING {column(model, 'pk')}"
    )


@cache
def copy_sql(model: type[Model]) -> str:
    """COPY of every column, the pk too, in the order ``prepared_fields(with_pk=True)``."""
    names = ", ".join(quote(str(f.column)) for f in model._meta.concrete_fields)
    return f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"


def insert(row: Model) -> None:
    """``row.save(force_insert=True)`` for a new row of ours (no signals are listened to)."""
    model = type(row)
    row.pk = run(_insert_sql(model), values(row, prepared_fields(model, with_pk=False)))[0][0]
    row._state.adding = False
    row._state.db = connection.alias


def next_ids(model: type[Model], count: int) -> list[int]:
    """``count`` ids from the model's sequence, in one statement, lowest first."""
    return [row[0] for row in run(_next_ids_sql(model), [count])]


@cache
def _next_ids_sql(model: type[Model]) -> str:
    table = model._meta.db_table
    return f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)"  # noqa: S608


def next_ids_many(wanted: dict[type[Model], int]) -> dict[type[Model], list[int]]:
    """Ids from several models' sequences in one statement: ``{model: count}``."""
    models = tuple(wanted)
    found: dict[type[Model], list[int]] = {m: [] for m in models}
    for index, value in run(_next_ids_many_sql(models), [wanted[m] for m in models]):
        found[models[index]].append(value)
    return {m: sorted(ids) for m, ids in found.items()}


@cache
def _next_ids_many_sql(models: tuple[type[Model], ...]) -> str:
    return " UNION ALL ".join(
        f"SELECT {n}, nextval(pg_get_serial_sequence('{m._meta.db_table}', 'id')) "  # noqa: S608
        "FROM generate_series(1, %s)"
        for n, m in enumerate(models)
    )


# Up to this many rows go in with one INSERT (a statement kept per count, prepared by the
# server): for a handful, COPY's own exchange costs more than the rows.
FEW_ROWS = 8


def write(model: type[Model], rows: list[Model]) -> None:
    """Insert rows that have their ids: a few with one kept INSERT, more with COPY
    (``bulk_create`` quotes every value into the statement's text in Python, which cost a
    batch more than all its queries)."""
    fields = prepared_fields(model, with_pk=True)
    if len(rows) <= FEW_ROWS:
        run(_insert_rows_sql(model, len(rows)), [v for row in rows for v in values(row, fields)])
        return
    statement = copy_sql(model)
    with cursor(f"{statement} ({len(rows)} rows)") as bound, bound.copy(statement) as pipe:
        for row in rows:
            pipe.write_row(values(row, fields))


@lru_cache(maxsize=128)
def _insert_rows_sql(model: type[Model], count: int) -> str:
    fields = model._meta.concrete_fields
    row = f"({', '.join(['%s'] * len(fields))})"
    return (
        f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608 - names from the model
        f"({', '.join(quote(str(f.column)) for f in fields)}) VALUES {', '.join([row] * count)}"
    )


def add_to_rows(
    model: type[Model], names: tuple[str, ...], field: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    """Add each row's last value to ``field`` of the row whose unique ``names`` hold its
    first values, inserting the rows missing: one kept statement, its values as plain
    parameters for a few rows (an order's one), as arrays for more (a batch's)."""
    if len(rows) <= FEW_ROWS:
        run(_add_to_sql(model, names, field, len(rows)), [v for row in rows for v in row])
        return
    width = len(names) + 1
    run(_add_to_sql(model, names, field, 0), [[row[i] for row in rows] for i in range(width)])


@lru_cache(maxsize=32)
def _add_to_sql(model: type[Model], names: tuple[str, ...], field: str, count: int) -> str:
    """The upsert of ``add_to_rows``: ``count`` rows of values, or (0) unnest's arrays."""
    fields = [model._meta.get_field(name) for name in (*names, field)]
    columns = ", ".join(quote(str(f.column)) for f in fields)  # type: ignore[union-attr]
    if count:
        row = f"({', '.join(['%s'] * len(fields))})"
        source = f"VALUES {', '.join([row] * count)}"
    else:
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        source = f"SELECT * FROM unnest({arrays})"  # noqa: S608 - types from the model
    table, target = quote(model._meta.db_table), column(model, field)
    return (
        f"INSERT INTO {table} AS t ({columns}) {source} "  # noqa: S608 - names from the model
        f"ON CONFLICT ({', '.join(column(model, n) for n in names)}) "
        f"DO UPDATE SET {target} = t.{target} + EXCLUDED.{target}"
    )


def update_rows(model: type[Model], rows: Sequence[Model], names: tuple[str, ...]) -> None:
    """One UPDATE ... FROM (VALUES ...) setting these columns of each row to the object's
    values (``bulk_update``'s CASE per row costs far more, in Python and in the database)."""
    fields = _fields(model, names)
    params: list[Any] = []
    for row in rows:
        params.append(row.pk)
        params.extend(f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields)
    run(_update_rows_sql(model, names, len(rows)), params)


@cache
def _fields(model: type[Model], names: tuple[str, ...]) -> list[Field]:
    return [f for f in model._meta.concrete_fields if f.name in names or f.attname in names]


@lru_cache(maxsize=256)
def _update_rows_sql(model: type[Model], names: tuple[str, ...], count: int) -> str:
    fields = _fields(model, names)
    row_sql = "(%s::bigint" + "".join(f", %s::{f.db_type(connection)}" for f in fields) + ")"
    columns = [quote(str(f.column)) for f in fields]
    return (
        f"UPDATE {quote(model._meta.db_table)} AS t "  # noqa: S608 - names from the model
        f"SET {', '.join(f'{c} = v.{c}' for c in columns)} "
        f"FROM (VALUES {', '.join([row_sql] * count)}) AS v(id, {', '.join(columns)}) "
        "WHERE t.id = v.id"
    )


def prepared(model: type[Model], name: str, value: Any) -> Any:
    """A value of the field ``name`` as the database takes it."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field), name
    return field.get_db_prep_save(value, connection)
