"""Steps that group rows: aggregate, totals, rollup, hierarchy, statistics."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from toucan.data.pipeline.builder import sql_text
from toucan.data.pipeline.sql import Frag, ident, join, value
from toucan.data.pipeline.step import ColumnName, Columns, Context, Here, Rows, Spec, Step, entry, spellings
from toucan.data.pipeline.steps.rows import partition_by

FAMILY = "aggregate"

AGG_FUNCTIONS = {
    "sum": "sum({c})",
    "avg": "avg({c})",
    "count": "count({c})",
    "count distinct": "count(DISTINCT {c})",
    "count distinct including empty": "count(*)",
    "min": "min({c})",
    "max": "max({c})",
    "first": "first({c})",
    "last": "last({c})",
}
AggFunction = Literal[
    "sum", "avg", "count", "count distinct", "count distinct including empty", "min", "max", "first", "last"
]


class Aggregation(Spec):
    """Columns aggregated by one function."""

    columns: list[ColumnName] = Field(min_length=1)
    """The columns to aggregate."""
    agg_function: AggFunction = Field(validation_alias=spellings("agg_function", "aggfunction", "aggFunction"))
    """The function."""
    new_columns: list[ColumnName] = Field(
        default=[], validation_alias=spellings("new_columns", "newcolumns", "newColumns")
    )
    """The result columns, one per column (default: the columns' names)."""

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        # weaverbird's legacy form: one `column` and its `newcolumn`.
        if isinstance(data, dict) and ("column" in data or "newcolumn" in data):
            data = dict(data)
            if "column" in data:
                data.setdefault("columns", [data.pop("column")])
            if "newcolumn" in data:
                data.setdefault("new_columns", [data.pop("newcolumn")])
        return data

    def names(self) -> list[str]:
        return list(self.new_columns) if self.new_columns else list(self.columns)


def agg_exprs(aggregations: list[Aggregation], window: str | None = None, count_nulls: bool = False) -> list[Frag]:
    out = []
    for agg in aggregations:
        fn = agg.agg_function
        for col, new in zip(agg.columns, agg.names(), strict=False):
            expr = "count(*)" if fn == "count" and count_nulls else AGG_FUNCTIONS[fn].format(c=ident(col))
            if window is not None:
                expr = f"{expr} OVER ({window})"
            out.append(Frag(f"{expr} AS {ident(new)}"))
    return out


class AggregateStep(Step):
    """Groups rows and aggregates columns (`sum avg count "count distinct" "count distinct
    including empty" min max first last`); `keep_original_granularity` keeps every row."""

    name: Literal["aggregate"]
    on: Columns = []
    """The columns to group by (none: one row for the whole table)."""
    aggregations: list[Aggregation]
    keep_original_granularity: bool | None = False
    """Add the aggregates to every row instead of grouping."""
    count_nulls: bool = False
    """`count` counts rows, null values included."""
    example: ClassVar = {
        "name": "aggregate",
        "on": ["country"],
        "aggregations": [{"columns": ["revenue"], "agg_function": "sum", "new_columns": ["total"]}],
    }
    legacy: ClassVar = "in an aggregation, `column` and `newcolumn` (one column)"


def aggregate(c: Context, s: AggregateStep, rows: Rows, here: Here) -> Rows:
    q, current, on = c.q, rows.table, s.on
    if s.keep_original_granularity:
        exprs = agg_exprs(s.aggregations, window=partition_by(on))
        names = [new for agg in s.aggregations for new in agg.names()]
        keep = ", ".join(sql_text(n) for n in names)
        body = (
            Frag(f"SELECT COLUMNS(lambda c: c NOT IN ({keep})), ")
            + join(exprs)
            + Frag(f" FROM {q.window_input(current)}")
        )
        return Rows(q.add(body), rows.order)
    exprs = agg_exprs(s.aggregations, count_nulls=s.count_nulls)
    name = _aggregate_before_truncating(c, current, on, s.aggregations, s.count_nulls)
    if name is None:
        keys = [Frag(ident(col)) for col in on]
        body = Frag("SELECT ") + join(keys + exprs) + Frag(f" FROM {current}")
        if on:
            body = body + f" GROUP BY {', '.join(ident(col) for col in on)}"
        name = q.add(body)
    q.grouped.add(name)
    return Rows(name, Frag(", ".join(ident(col) for col in on)) if on else None)


def _aggregate_before_truncating(
    c: Context, current: str, on: list[str], aggregations: list[Aggregation], count_nulls: bool
) -> str | None:
    """An aggregate on a date a dategranularity step just truncated, computed on the raw
    dates first (far fewer rows to truncate: date_trunc is half of such a pipeline's time
    on 1 M rows), then truncated and combined. Only for aggregations that combine exactly
    (sum, min, max, count); None when this does not apply."""
    truncated = c.q.truncated.get(current)
    if truncated is None or truncated[1] not in on:
        return None
    source, col, truncate = truncated
    partial: list[str] = []
    combined: list[str] = []
    for agg in aggregations:
        fn = agg.agg_function
        if fn not in ("sum", "min", "max", "count"):
            return None
        if col in agg.columns:  # e.g. min(date): of the truncated dates, not the raw ones
            return None
        for column, new in zip(agg.columns, agg.names(), strict=False):
            alias = f"__part{len(partial)}"
            expr = "count(*)" if fn == "count" and count_nulls else AGG_FUNCTIONS[fn].format(c=ident(column))
            partial.append(f"{expr} AS {alias}")
            combine = {"sum": "sum", "min": "min", "max": "max", "count": "sum"}[fn]
            result = f"{combine}({alias})"
            combined.append(f"{'CAST(' + result + ' AS BIGINT)' if fn == 'count' else result} AS {ident(new)}")
    keys = ", ".join(ident(k) for k in on)
    raw = c.q.add(Frag(f"SELECT {keys}, {', '.join(partial)} FROM {source} GROUP BY {keys}"))
    coarse = c.q.with_column(raw, col, Frag(truncate))
    return c.q.add(Frag(f"SELECT {keys}, {', '.join(combined)} FROM {coarse} GROUP BY {keys}"))


class TotalDimension(Spec):
    """A column that gets a total row, labelled."""

    total_column: ColumnName
    total_rows_label: str | None = None
    """The label of the total rows in that column."""


class TotalsStep(Step):
    """Adds total rows: every combination of the dimensions' totals, with the aggregations."""

    name: Literal["totals"]
    total_dimensions: list[TotalDimension] = Field(min_length=1)
    aggregations: list[Aggregation] = Field(min_length=1)
    groups: Columns = []
    """Totals within each combination of these columns."""
    example: ClassVar = {
        "name": "totals",
        "total_dimensions": [{"total_column": "country", "total_rows_label": "All countries"}],
        "aggregations": [{"columns": ["revenue"], "agg_function": "sum", "new_columns": ["revenue"]}],
    }


def totals(c: Context, s: TotalsStep, rows: Rows, here: Here) -> Rows:
    exprs = agg_exprs(s.aggregations)
    dim_cols = [d.total_column for d in s.total_dimensions]
    keys = [
        Frag(f"CASE WHEN grouping({ident(d.total_column)}) = 1 THEN ")
        + value(d.total_rows_label)
        + Frag(f" ELSE CAST({ident(d.total_column)} AS VARCHAR) END AS {ident(d.total_column)}")
        for d in s.total_dimensions
    ]
    keys += [Frag(ident(g)) for g in s.groups]
    cube = f"CUBE ({', '.join(ident(col) for col in dim_cols)})"
    group_by = ", ".join([*(ident(g) for g in s.groups), cube])
    body = Frag("SELECT ") + join(keys + exprs) + Frag(f" FROM {rows.table} GROUP BY {group_by}")
    return Rows(c.q.add(body))


class RollupStep(Step):
    """Aggregates at every level of a hierarchy (country, then region, then city…), one row
    per node with its label, level and parent."""

    name: Literal["rollup"]
    hierarchy: list[ColumnName] = Field(min_length=1)
    """The levels, from the top."""
    aggregations: list[Aggregation]
    groupby: Columns = []
    label_col: ColumnName | None = None
    """Default: `label`."""
    level_col: ColumnName | None = None
    """Default: `level`."""
    parent_label_col: ColumnName | None = None
    """Default: `parent`."""
    child_level_col: ColumnName | None = None
    """A column with the next level's name (none by default)."""
    example: ClassVar = {
        "name": "rollup",
        "hierarchy": ["continent", "country"],
        "aggregations": [{"columns": ["revenue"], "agg_function": "sum", "new_columns": ["revenue"]}],
    }


def rollup(c: Context, s: RollupStep, rows: Rows, here: Here) -> Rows:
    hierarchy, groups = s.hierarchy, s.groupby
    label_col, level_col = s.label_col or "label", s.level_col or "level"
    parent_col, child_col = s.parent_label_col or "parent", s.child_level_col
    exprs = agg_exprs(s.aggregations)
    parts = []
    for depth, level in enumerate(hierarchy):
        cols = hierarchy[: depth + 1]
        keys = [Frag(ident(col)) for col in [*groups, *cols]]
        extra = [
            Frag(f"CAST({ident(level)} AS VARCHAR) AS {ident(label_col)}"),
            value(level) + Frag(f" AS {ident(level_col)}"),
        ]
        if len(hierarchy) > 1:  # a single level has no parents
            extra.append(
                Frag(f"CAST({ident(hierarchy[depth - 1])} AS VARCHAR) AS {ident(parent_col)}")
                if depth
                else Frag(f"CAST(NULL AS VARCHAR) AS {ident(parent_col)}")
            )
        if child_col:
            extra.append(
                (value(hierarchy[depth + 1]) if depth + 1 < len(hierarchy) else Frag("CAST(NULL AS VARCHAR)"))
                + Frag(f" AS {ident(child_col)}")
            )
        body = (
            Frag("SELECT ")
            + join(keys + extra + exprs)
            + Frag(f" FROM {rows.table} GROUP BY {', '.join(ident(col) for col in [*groups, *cols])}")
        )
        parts.append(body)
    return Rows(c.q.add(join(parts, " UNION ALL BY NAME ")))


class HierarchyStep(Step):
    """The distinct nodes of a hierarchy, one row per node with its level."""

    name: Literal["hierarchy"]
    hierarchy: list[ColumnName] = Field(min_length=1)
    """The levels, from the top."""
    hierarchy_level_column: ColumnName = "hierarchy_level"
    include_nulls: bool = False
    """Keep nodes whose value is null."""
    example: ClassVar = {"name": "hierarchy", "hierarchy": ["continent", "country", "city"]}


def hierarchy(c: Context, s: HierarchyStep, rows: Rows, here: Here) -> Rows:
    levels = s.hierarchy
    parts = []
    for depth in range(len(levels)):
        cols = levels[: depth + 1]
        selected = [Frag(ident(col)) for col in cols] + [
            Frag(f"CAST(NULL AS VARCHAR) AS {ident(col)}") for col in levels[depth + 1 :]
        ]
        body = (
            Frag("SELECT DISTINCT ")
            + join(selected)
            + Frag(f", {depth} AS {ident(s.hierarchy_level_column)} FROM {rows.table}")
        )
        if not s.include_nulls:
            body = body + f" WHERE {' AND '.join(f'{ident(col)} IS NOT NULL' for col in cols)}"
        parts.append(body)
    return Rows(c.q.add(join(parts, " UNION ALL BY NAME ")))


class Quantile(Spec):
    """The nth quantile of an order: the median is 1 of 2, the last decile 9 of 10."""

    label: ColumnName | None = None
    """Default: `<nth>-th <order>-quantile`."""
    nth: int | float = Field(ge=0)
    order: int | float = Field(gt=0)


class StatisticsStep(Step):
    """Descriptive statistics of a column (per group): count, max, min, average, variance,
    standard deviation, quantiles."""

    name: Literal["statistics"]
    column: ColumnName
    groupby_columns: Columns = []
    statistics: list[Literal["count", "max", "min", "average", "variance", "standard deviation"]] = []
    quantiles: list[Quantile] = []
    example: ClassVar = {
        "name": "statistics",
        "column": "revenue",
        "statistics": ["average"],
        "quantiles": [{"label": "median", "nth": 1, "order": 2}],
    }


def statistics(c: Context, s: StatisticsStep, rows: Rows, here: Here) -> Rows:
    col = ident(s.column)
    stats = {
        "count": f"count({col})",
        "max": f"max({col})",
        "min": f"min({col})",
        "average": f"avg({col})",
        "variance": f"var_pop({col})",
        "standard deviation": f"stddev_pop({col})",
    }
    exprs = [Frag(ident(g)) for g in s.groupby_columns]
    exprs += [Frag(f"{stats[name]} AS {ident(name)}") for name in s.statistics]
    for q in s.quantiles:
        fraction = float(q.nth) / float(q.order)
        label = q.label or f"{q.nth}-th {q.order}-quantile"
        exprs.append(Frag(f"quantile_cont({col}, {fraction!r}) AS {ident(label)}"))
    body = Frag("SELECT ") + join(exprs) + Frag(f" FROM {rows.table}")
    if s.groupby_columns:
        body = body + f" GROUP BY {', '.join(ident(g) for g in s.groupby_columns)}"
    return Rows(c.q.add(body))


STEPS = [
    entry(AggregateStep, aggregate),
    entry(TotalsStep, totals),
    entry(RollupStep, rollup),
    entry(HierarchyStep, hierarchy),
    entry(StatisticsStep, statistics),
]
