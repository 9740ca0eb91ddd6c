"""Steps that keep, order or pick rows: domain, filter, sort, top, argmax, argmin, uniquegroups."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict, Field

from toucan.data.pipeline.conditions import Condition, condition_sql
from toucan.data.pipeline.sql import Frag, ident, join, value
from toucan.data.pipeline.step import ColumnName, Columns, Context, Here, Rows, Spec, Step, entry

FAMILY = "rows"


def partition_by(columns: list[str], trailing: str = "") -> str:
    """`PARTITION BY "a", "b"` for a window, or nothing without columns."""
    return f"PARTITION BY {', '.join(ident(c) for c in columns)}{trailing}" if columns else ""


class DomainStep(Step):
    """Starts a pipeline: the rows of a domain (later in a pipeline, switches to another)."""

    name: Literal["domain"]
    domain: str
    """The domain's name."""
    example: ClassVar = {"name": "domain", "domain": "sales"}


def domain(c: Context, s: DomainStep, rows: Rows, here: Here) -> Rows:
    return Rows(c.q.domain_source(s.domain))


class FilterStep(Step):
    """Keeps the rows matching a condition; `and` / `or` nest conditions."""

    name: Literal["filter"]
    condition: Condition
    """`{column, operator, value}` (operators `eq ne gt ge lt le in nin matches notmatches isnull
    notnull from until`), or `{"and": [...]}` / `{"or": [...]}`."""
    example: ClassVar = {
        "name": "filter",
        "condition": {
            "or": [
                {"column": "country", "operator": "in", "value": ["FR", "ES"]},
                {"column": "revenue", "operator": "gt", "value": 100},
            ]
        },
    }


def filter_(c: Context, s: FilterStep, rows: Rows, here: Here) -> Rows:
    cond = condition_sql(s.condition, here.details(field="condition"))
    return Rows(c.q.add(Frag(f"SELECT * FROM {rows.table} WHERE ") + cond), rows.order)


class SortColumn(Spec):
    """A column to sort on."""

    column: ColumnName
    order: Literal["asc", "desc"] = "asc"


class SortStep(Step):
    """Orders the rows (nulls last)."""

    name: Literal["sort"]
    columns: list[SortColumn]
    """The columns to sort on, in order."""
    example: ClassVar = {"name": "sort", "columns": [{"column": "revenue", "order": "desc"}]}


def sort(c: Context, s: SortStep, rows: Rows, here: Here) -> Rows:
    by = join([Frag(f"{ident(col.column)} {col.order.upper()} NULLS LAST") for col in s.columns])
    return Rows(c.q.add(Frag(f"SELECT * FROM {rows.table} ORDER BY ") + by), by)


class TopStep(Step):
    """The first N rows by a column, per group."""

    name: Literal["top"]
    rank_on: ColumnName
    """The column to rank the rows by."""
    sort: Literal["asc", "desc"] = "desc"
    """`desc`: the largest values; `asc`: the smallest."""
    limit: int
    """How many rows to keep (per group)."""
    groups: Columns = []
    """Keep `limit` rows per combination of these columns."""
    example: ClassVar = {"name": "top", "rank_on": "revenue", "sort": "desc", "limit": 3, "groups": ["country"]}


def top(c: Context, s: TopStep, rows: Rows, here: Here) -> Rows:
    rank_on = ident(s.rank_on)
    direction = s.sort.upper()
    partition = partition_by(s.groups, trailing=" ")
    body = Frag(
        f"SELECT * EXCLUDE (__rn) FROM (SELECT *, "
        f"row_number() OVER ({partition}ORDER BY {rank_on} {direction} NULLS LAST) AS __rn "
        f"FROM {rows.table}) WHERE __rn <= "
    ) + value(s.limit)
    by = Frag(", ".join([*(ident(g) for g in s.groups), f"{rank_on} {direction} NULLS LAST"]))
    return Rows(c.q.add(body), by)


class ArgmaxStep(Step):
    """The rows holding the largest value of a column, per group."""

    model_config = ConfigDict(title="Argmax")

    name: Literal["argmax"]
    column: ColumnName
    groups: Columns = []
    """Per combination of these columns."""
    example: ClassVar = {"name": "argmax", "column": "revenue", "groups": ["country"]}


class ArgminStep(Step):
    """The rows holding the smallest value of a column, per group."""

    model_config = ConfigDict(title="Argmin")

    name: Literal["argmin"]
    column: ColumnName
    groups: Columns = []
    """Per combination of these columns."""
    example: ClassVar = {"name": "argmin", "column": "revenue", "groups": ["country"]}


def _best(c: Context, s: ArgmaxStep | ArgminStep, rows: Rows, fn: str) -> Rows:
    col = ident(s.column)
    body = Frag(
        f"SELECT * EXCLUDE (__best) FROM (SELECT *, {fn}({col}) OVER ({partition_by(s.groups)}) AS __best "
        f"FROM {c.q.window_input(rows.table)}) "
        f"WHERE {col} = __best"
    )
    return Rows(c.q.add(body))


def argmax(c: Context, s: ArgmaxStep, rows: Rows, here: Here) -> Rows:
    return _best(c, s, rows, "max")


def argmin(c: Context, s: ArgminStep, rows: Rows, here: Here) -> Rows:
    return _best(c, s, rows, "min")


class UniqueGroupsStep(Step):
    """The distinct combinations of some columns."""

    model_config = ConfigDict(title="Unique groups")

    name: Literal["uniquegroups"]
    on: list[ColumnName] = Field(min_length=1)
    example: ClassVar = {"name": "uniquegroups", "on": ["country", "year"]}


def uniquegroups(c: Context, s: UniqueGroupsStep, rows: Rows, here: Here) -> Rows:
    cols = ", ".join(ident(col) for col in s.on)
    return Rows(c.q.add(Frag(f"SELECT DISTINCT {cols} FROM {rows.table}")))


STEPS = [
    entry(DomainStep, domain),
    entry(FilterStep, filter_),
    entry(SortStep, sort),
    entry(TopStep, top),
    entry(ArgmaxStep, argmax),
    entry(ArgminStep, argmin),
    entry(UniqueGroupsStep, uniquegroups),
]
