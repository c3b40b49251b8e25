"""Reads written as SQL, for the few that every request makes (its token, its caller's
membership, a listing or a single row).

Building and compiling an ORM query costs several times running it: on SQLite, 300 µs for
the token's `select_related(...).first()` against 20 µs for its SELECT (docs/decisions.md,
"Serving"). The rows still come back as model instances with the ORM's conversions (times,
UUIDs, JSON), as Django's `raw()` makes them; unlike `raw()`, the conversions and the order of
the columns are worked out once per query rather than on every call. The SQL must select every
column of the model's table (`SELECT *`) and stay plain enough for SQLite and PostgreSQL
alike; a primary key parameter goes through `value`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar, cast

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


def rows(model: type[M], sql: str, params: Sequence[Any]) -> list[M]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
        columns = tuple(column[0] for column in cursor.description)
    make = row_maker(connection.alias, connection.vendor, model, columns)
    return [make(values) for values in found]


def row(model: type[M], sql: str, params: Sequence[Any]) -> M | None:
    found = rows(model, sql, params)
    return found[0] if found else None


def scalar(sql: str, params: Sequence[Any]) -> Any:
    """The first column of the first row `sql` returns, or None without a row."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    return None if found is None else found[0]


def exists(sql: str, params: Sequence[Any]) -> bool:
    """Whether `sql` selects a row."""
    return bool(scalar(f"SELECT EXISTS ({sql})", params))


def value(model: type[Model], value: Any) -> Any:
    """`value` of `model`'s primary key as the database stores it (a UUID is hex text on
    SQLite, a uuid on PostgreSQL)."""
    return model._meta.pk.get_db_prep_value(value, connection)


@cache
def row_maker(
    alias: str, vendor: str, model: type[M], columns: tuple[str, ...]
) -> Callable[[Sequence[Any]], M]:
    """Turns a row of `columns` into a `model` instance: each concrete field's value, in the
    model's order, through the converters the ORM would apply."""
    fields = model._meta.concrete_fields
    missing = {field.column for field in fields} - set(columns)
    if missing:
        raise ValueError(f"the query leaves out {sorted(missing)} of {model.__name__}")
    order = [columns.index(field.column) for field in fields]
    names = [field.attname for field in fields]
    conversions = []
    for position, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + cast(Any, field).get_db_converters(
            connection
        )
        if converters:
            conversions.append((position, column, converters))

    def make(values: Sequence[Any]) -> M:
        ordered = [values[index] for index in order]
        for position, column, converters in conversions:
            for converter in converters:
                ordered[position] = converter(ordered[position], column, connection)
        return model.from_db(alias, names, ordered)

    return make
