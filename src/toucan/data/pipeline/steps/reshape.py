"""Steps that turn rows into columns and back: pivot, unpivot, waterfall."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from toucan.data.pipeline.sql import Frag, ident, join, value
from toucan.data.pipeline.step import ColumnName, Columns, Context, Here, Rows, Step, entry, spellings

FAMILY = "reshape"


class PivotStep(Step):
    """Rows to columns: one column per value of `column_to_pivot`, holding the aggregated
    `value_column`, one row per combination of `index`."""

    name: Literal["pivot"]
    index: list[ColumnName] = Field(min_length=1)
    """The columns that stay (one row per combination)."""
    column_to_pivot: ColumnName
    """Its values become columns."""
    value_column: ColumnName
    agg_function: Literal["sum", "avg", "count", "min", "max", "first", "last"] = "sum"
    example: ClassVar = {
        "name": "pivot",
        "index": ["country"],
        "column_to_pivot": "channel",
        "value_column": "revenue",
        "agg_function": "sum",
    }


def pivot(c: Context, s: PivotStep, rows: Rows, here: Here) -> Rows:
    index = ", ".join(ident(col) for col in s.index)
    col, val = ident(s.column_to_pivot), ident(s.value_column)
    source = c.q.add(Frag(f"SELECT {index}, CAST({col} AS VARCHAR) AS {col}, {val} FROM {rows.table}"))
    c.q.needs_inline = True
    return Rows(c.q.add(Frag(f"PIVOT {source} ON {col} USING {s.agg_function}({val}) GROUP BY {index}")))


class UnpivotStep(Step):
    """Columns to rows: one row per column of `unpivot`, with its name and value."""

    name: Literal["unpivot"]
    keep: Columns = []
    """The columns repeated on every row."""
    unpivot: list[ColumnName] = Field(min_length=1)
    """The columns that become rows."""
    unpivot_column_name: ColumnName
    """The new column holding the names."""
    value_column_name: ColumnName
    """The new column holding the values."""
    dropna: bool = True
    """Leave out null values."""
    example: ClassVar = {
        "name": "unpivot",
        "keep": ["country"],
        "unpivot": ["revenue", "cost"],
        "unpivot_column_name": "measure",
        "value_column_name": "amount",
    }


def unpivot(c: Context, s: UnpivotStep, rows: Rows, here: Here) -> Rows:
    name_col, value_col = ident(s.unpivot_column_name), ident(s.value_column_name)
    selects = [
        Frag(f"SELECT {', '.join([*(ident(k) for k in s.keep), ''])}")
        + value(col)
        + Frag(f" AS {name_col}, {ident(col)} AS {value_col} FROM {rows.table}")
        for col in s.unpivot
    ]
    out = c.q.add(join(selects, " UNION ALL BY NAME "))
    if s.dropna:
        out = c.q.add(Frag(f"SELECT * FROM {out} WHERE {value_col} IS NOT NULL"))
    return Rows(out)


class WaterfallStep(Step):
    """A waterfall chart's rows: the start and end milestones and, between them, the change
    of each label (and of each parent); `backfill` counts a label missing at one milestone
    as 0."""

    name: Literal["waterfall"]
    value_column: ColumnName
    milestones_column: ColumnName
    """The column holding the milestones (years, say)."""
    start: Any
    """The first milestone."""
    end: Any
    """The last milestone."""
    labels_column: ColumnName
    parents_column: ColumnName | None = None
    """Labels' parents: changes per parent too."""
    groupby: Columns = Field(default=[], validation_alias=spellings("groupby", "groups"))
    sort_by: Literal["value", "label"] = "value"
    order: Literal["asc", "desc"] = "asc"
    backfill: bool = True
    example: ClassVar = {
        "name": "waterfall",
        "value_column": "revenue",
        "milestones_column": "year",
        "start": 2023,
        "end": 2024,
        "labels_column": "city",
        "parents_column": "country",
        "sort_by": "value",
        "order": "desc",
    }


def waterfall(c: Context, s: WaterfallStep, rows: Rows, here: Here) -> Rows:
    q, current = c.q, rows.table
    milestones, labels = ident(s.milestones_column), ident(s.labels_column)
    groups = [ident(g) for g in s.groupby]
    start, end = value(str(s.start)), value(str(s.end))
    direction = s.order.upper()
    val, label_out, type_out, group_out = (
        ident(s.value_column),
        ident("LABEL_waterfall"),
        ident("TYPE_waterfall"),
        ident("GROUP_waterfall"),
    )
    parent = ident(s.parents_column) if s.parents_column else None
    keys = [*groups, labels, *([parent] if parent else [])]
    g = "".join(f"{col}, " for col in groups)
    # One row per label (and group): its value at the start and at the end milestone.
    per_label = q.add(
        Frag(f"SELECT {', '.join(keys)}, sum({val}) FILTER (WHERE CAST({milestones} AS VARCHAR) = ")
        + start
        + Frag(f") AS __s, sum({val}) FILTER (WHERE CAST({milestones} AS VARCHAR) = ")
        + end
        + Frag(f") AS __e FROM {current} GROUP BY {', '.join(keys)}")
    )
    both = "__s IS NOT NULL AND __e IS NOT NULL" if not s.backfill else "__s IS NOT NULL OR __e IS NOT NULL"
    deltas = q.add(Frag(f"SELECT *, COALESCE(__e, 0) - COALESCE(__s, 0) AS __d FROM {per_label} WHERE {both}"))
    group_by = f" GROUP BY {', '.join(groups)}" if groups else ""

    def milestone(bound: Frag, column: str, rank: int) -> Frag:
        label = Frag("CAST(") + bound + " AS VARCHAR)"
        group = (Frag(", CAST(") + bound + Frag(f" AS VARCHAR) AS {group_out}")) if parent else Frag("")
        total = f"sum(COALESCE({column}, 0)) AS {val}"
        tail = f", CAST(NULL AS VARCHAR) AS {type_out}, {total}, {rank} AS __rank FROM {deltas}{group_by}"
        return Frag(f"SELECT {g}") + label + Frag(f" AS {label_out}") + group + Frag(tail)

    parts = [milestone(start, "__s", 0)]
    label_text = f"CAST({labels} AS VARCHAR)"
    if parent:
        parent_text = f"CAST({parent} AS VARCHAR)"
        child = f"{label_text} AS {label_out}, {parent_text} AS {group_out}, 'child' AS {type_out}"
        parts.append(Frag(f"SELECT {g}{child}, __d AS {val}, 1 AS __rank FROM {deltas}"))
        head = f"{parent_text} AS {label_out}, {parent_text} AS {group_out}, 'parent' AS {type_out}"
        by = ", ".join([*groups, parent])
        parts.append(Frag(f"SELECT {g}{head}, sum(__d) AS {val}, 2 AS __rank FROM {deltas} GROUP BY {by}"))
    else:
        row = f"{label_text} AS {label_out}, 'parent' AS {type_out}, __d AS {val}"
        parts.append(Frag(f"SELECT {g}{row}, 1 AS __rank FROM {deltas}"))
    parts.append(milestone(end, "__e", 3))
    body = join(parts, " UNION ALL BY NAME ")
    sort_key = val if s.sort_by == "value" else label_out
    ordered = q.add(Frag("SELECT * FROM (") + body + ")")
    return Rows(q.add(Frag(f"SELECT * EXCLUDE (__rank) FROM {ordered} ORDER BY __rank, {sort_key} {direction}")))


STEPS = [
    entry(PivotStep, pivot),
    entry(UnpivotStep, unpivot),
    entry(WaterfallStep, waterfall),
]
