"""Steps computed over windows of rows: cumsum, percentage, rank, movingaverage, evolution."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from toucan.data.pipeline.builder import sql_text
from toucan.data.pipeline.sql import Frag, ident
from toucan.data.pipeline.step import ColumnName, Columns, Context, Here, Rows, Step, entry, spellings
from toucan.data.pipeline.steps.rows import partition_by

FAMILY = "windows"


class CumSumStep(Step):
    """Running totals along a column (per group)."""

    model_config = ConfigDict(title="Cumulated sum")

    name: Literal["cumsum"]
    to_cumsum: list[tuple[ColumnName, ColumnName | None]] = Field(
        min_length=1, validation_alias=spellings("to_cumsum", "toCumSum", "toCumsum")
    )
    """`[column, new column]` pairs (an empty new column: `<column>_CUMSUM`)."""
    reference_column: ColumnName
    """The column that orders the rows (a date, usually)."""
    groupby: Columns = Field(default=[], validation_alias=spellings("groupby", "groups"))
    """A running total per combination of these columns."""
    example: ClassVar = {
        "name": "cumsum",
        "to_cumsum": [["revenue", "cumulated"]],
        "reference_column": "date",
        "groupby": ["country"],
    }
    legacy: ClassVar = "`value_column` and `new_column` (one column)"

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not {"value_column", "valueColumn"} & data.keys():
            return data
        legacy = {"value_column", "valueColumn", "new_column", "newColumn"}
        rest = {k: v for k, v in data.items() if k not in legacy}
        column = data.get("value_column", data.get("valueColumn"))
        return {**rest, "to_cumsum": [[column, data.get("new_column", data.get("newColumn", ""))]]}


def cumsum(c: Context, s: CumSumStep, rows: Rows, here: Here) -> Rows:
    ref = ident(s.reference_column)
    partition = partition_by(s.groupby, trailing=" ")
    current = rows.table
    for col, new in s.to_cumsum:
        expr = Frag(
            f"sum({ident(col)}) OVER ({partition}ORDER BY {ref} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        )
        current = c.q.with_column(current, new or f"{col}_CUMSUM", expr)
    return Rows(current, Frag(", ".join([*(ident(g) for g in s.groupby), ref])))


class PercentageStep(Step):
    """Each value as a share of its column's total (per group)."""

    name: Literal["percentage"]
    column: ColumnName
    group: Columns = Field(default=[], validation_alias=spellings("group", "groups"))
    """Shares of the total of each combination of these columns."""
    new_column_name: ColumnName | None = None
    """Default: `<column>_PCT`."""
    example: ClassVar = {"name": "percentage", "column": "revenue", "group": ["region"], "new_column_name": "share"}


def percentage(c: Context, s: PercentageStep, rows: Rows, here: Here) -> Rows:
    col = ident(s.column)
    expr = Frag(f"(CAST({col} AS DOUBLE) / NULLIF(sum({col}) OVER ({partition_by(s.group)}), 0))")
    new = s.new_column_name or f"{s.column}_PCT"
    return Rows(c.q.with_column(c.q.window_input(rows.table), new, expr), rows.order)


class RankStep(Step):
    """The rank of each row by a column (per group); `dense` leaves no gaps after ties."""

    name: Literal["rank"]
    value_col: ColumnName
    order: Literal["asc", "desc"] = "asc"
    method: Literal["standard", "dense"] = "standard"
    groupby: Columns = Field(default=[], validation_alias=spellings("groupby", "groups"))
    new_column_name: ColumnName | None = None
    """Default: `<value_col>_RANK`."""
    example: ClassVar = {"name": "rank", "value_col": "revenue", "order": "desc", "method": "dense"}


def rank(c: Context, s: RankStep, rows: Rows, here: Here) -> Rows:
    fn = "dense_rank" if s.method == "dense" else "rank"
    partition = partition_by(s.groupby, trailing=" ")
    expr = Frag(f"{fn}() OVER ({partition}ORDER BY {ident(s.value_col)} {s.order.upper()})")
    new = s.new_column_name or f"{s.value_col}_RANK"
    return Rows(c.q.with_column(rows.table, new, expr), Frag(f"{ident(new)} ASC"))


class MovingAverageStep(Step):
    """The average of a value over the last N rows (null until N rows are there)."""

    name: Literal["movingaverage"]
    value_column: ColumnName
    column_to_sort: ColumnName
    moving_window: int = Field(gt=0)
    """How many rows, the current one included."""
    groups: Columns = []
    new_column_name: ColumnName | None = None
    """Default: `<value_column>_MOVING_AVG`."""
    example: ClassVar = {
        "name": "movingaverage",
        "value_column": "revenue",
        "column_to_sort": "date",
        "moving_window": 7,
    }


def movingaverage(c: Context, s: MovingAverageStep, rows: Rows, here: Here) -> Rows:
    col, sort = ident(s.value_column), ident(s.column_to_sort)
    partition = partition_by(s.groups, trailing=" ")
    window = s.moving_window
    frame = f"OVER ({partition}ORDER BY {sort} ROWS BETWEEN {window - 1} PRECEDING AND CURRENT ROW)"
    expr = Frag(f"CASE WHEN count(*) {frame} < {window} THEN NULL ELSE avg({col}) {frame} END")
    new = s.new_column_name or f"{s.value_column}_MOVING_AVG"
    return Rows(c.q.with_column(rows.table, new, expr), Frag(", ".join([*(ident(g) for g in s.groups), sort])))


EVOLUTION_OFFSETS = {
    "vsLastYear": "1 YEAR",
    "vsLastMonth": "1 MONTH",
    "vsLastWeek": "7 DAY",
    "vsLastDay": "1 DAY",
}


class EvolutionStep(Step):
    """The change of a value against the previous year, month, week or day, as a difference
    (`abs`) or a ratio (`pct`)."""

    name: Literal["evolution"]
    date_col: ColumnName
    value_col: ColumnName
    evolution_type: Literal["vsLastYear", "vsLastMonth", "vsLastWeek", "vsLastDay"]
    evolution_format: Literal["abs", "pct"]
    index_columns: Columns = []
    """Compare rows with the same values in these columns."""
    new_column: ColumnName | None = None
    """Default: `<value_col>_EVOL_ABS` or `_EVOL_PCT`."""
    example: ClassVar = {
        "name": "evolution",
        "date_col": "date",
        "value_col": "revenue",
        "evolution_type": "vsLastYear",
        "evolution_format": "pct",
    }


def evolution(c: Context, s: EvolutionStep, rows: Rows, here: Here) -> Rows:
    date, val, current = ident(s.date_col), s.value_col, rows.table
    pct = s.evolution_format != "abs"
    new = s.new_column or f"{val}_EVOL_{'PCT' if pct else 'ABS'}"
    on = " AND ".join(
        [
            f"r.{date} = CAST(l.{date} - INTERVAL {EVOLUTION_OFFSETS[s.evolution_type]} AS TIMESTAMP)",
            *(f"r.{ident(col)} = l.{ident(col)}" for col in s.index_columns),
        ]
    )
    cur, prev = f"l.{ident(val)}", f"r.{ident(val)}"
    expr = f"(CAST({cur} - {prev} AS DOUBLE) / NULLIF(abs({prev}), 0))" if pct else f"({cur} - {prev})"
    columns = ", ".join([date, *(ident(col) for col in s.index_columns), ident(val)])
    right = c.q.add(Frag(f"SELECT {columns} FROM {current}"))
    body = Frag(
        f"SELECT l.* EXCLUDE (__toucan_marker), {expr} AS {ident(new)} FROM "
        f"(SELECT COLUMNS(lambda c: c <> {sql_text(new)}) "
        f"FROM (SELECT *, NULL AS __toucan_marker FROM {current})) l "
        f"LEFT JOIN {right} r ON {on}"
    )
    return Rows(c.q.add(body), rows.order)


STEPS = [
    entry(CumSumStep, cumsum),
    entry(PercentageStep, percentage),
    entry(RankStep, rank),
    entry(MovingAverageStep, movingaverage),
    entry(EvolutionStep, evolution),
]
