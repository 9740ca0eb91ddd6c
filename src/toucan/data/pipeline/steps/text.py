"""Steps on text: lowercase, uppercase, trim, concatenate, split, substring, replace,
replacetext, comparetext."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from toucan.data.pipeline.sql import Frag, ident, join, value
from toucan.data.pipeline.step import ColumnName, Context, Here, Rows, Step, entry

FAMILY = "text"


class LowercaseStep(Step):
    """Lowercases a text column."""

    name: Literal["lowercase"]
    column: ColumnName
    example: ClassVar = {"name": "lowercase", "column": "country"}


def lowercase(c: Context, s: LowercaseStep, rows: Rows, here: Here) -> Rows:
    return Rows(c.q.with_column(rows.table, s.column, Frag(f"lower({ident(s.column)})")), rows.order)


class UppercaseStep(Step):
    """Uppercases a text column."""

    name: Literal["uppercase"]
    column: ColumnName
    example: ClassVar = {"name": "uppercase", "column": "country"}


def uppercase(c: Context, s: UppercaseStep, rows: Rows, here: Here) -> Rows:
    return Rows(c.q.with_column(rows.table, s.column, Frag(f"upper({ident(s.column)})")), rows.order)


class TrimStep(Step):
    """Removes leading and trailing spaces."""

    name: Literal["trim"]
    columns: list[ColumnName]
    example: ClassVar = {"name": "trim", "columns": ["city"]}


def trim(c: Context, s: TrimStep, rows: Rows, here: Here) -> Rows:
    current = rows.table
    for col in s.columns:
        current = c.q.with_column(current, col, Frag(f"trim({ident(col)})"))
    return Rows(current, rows.order)


class ConcatenateStep(Step):
    """Joins the text of columns with a separator."""

    name: Literal["concatenate"]
    columns: list[ColumnName] = Field(min_length=1)
    separator: str = ""
    new_column_name: ColumnName
    example: ClassVar = {
        "name": "concatenate",
        "columns": ["city", "country"],
        "separator": ", ",
        "new_column_name": "place",
    }


def concatenate(c: Context, s: ConcatenateStep, rows: Rows, here: Here) -> Rows:
    cols = [Frag(f"CAST({ident(col)} AS VARCHAR)") for col in s.columns]
    expr = Frag("concat_ws(") + value(s.separator) + ", " + join(cols) + ")"
    return Rows(c.q.with_column(rows.table, s.new_column_name, expr), rows.order)


class SplitStep(Step):
    """Splits a text column on a delimiter into `column_1`, `column_2`…"""

    name: Literal["split"]
    column: ColumnName
    delimiter: str
    number_cols_to_keep: int = Field(gt=0)
    """How many parts to keep, from the first."""
    example: ClassVar = {"name": "split", "column": "place", "delimiter": ", ", "number_cols_to_keep": 2}


def split(c: Context, s: SplitStep, rows: Rows, here: Here) -> Rows:
    current = rows.table
    for i in range(1, s.number_cols_to_keep + 1):
        expr = Frag(f"NULLIF(split_part(CAST({ident(s.column)} AS VARCHAR), ") + value(s.delimiter) + f", {i}), '')"
        current = c.q.with_column(current, f"{s.column}_{i}", expr)
    return Rows(current, rows.order)


class SubstringStep(Step):
    """Part of a text, from one position to another (1 is the first character; negative
    positions count from the end)."""

    name: Literal["substring"]
    column: ColumnName
    start_index: int
    end_index: int
    new_column_name: ColumnName | None = None
    """Default: `<column>_SUBSTR`."""
    example: ClassVar = {"name": "substring", "column": "code", "start_index": 1, "end_index": 3}


def substring(c: Context, s: SubstringStep, rows: Rows, here: Here) -> Rows:
    start, end = s.start_index, s.end_index
    text = f"CAST({ident(s.column)} AS VARCHAR)"
    start_sql = f"{start}" if start > 0 else f"(length({text}) + {start + 1})"
    end_sql = f"{end}" if end > 0 else f"(length({text}) + {end + 1})"
    expr = Frag(f"substring({text}, {start_sql}, {end_sql} - {start_sql} + 1)")
    return Rows(c.q.with_column(rows.table, s.new_column_name or f"{s.column}_SUBSTR", expr), rows.order)


class ReplaceStep(Step):
    """Replaces whole values of a column."""

    name: Literal["replace"]
    search_column: ColumnName
    to_replace: list[tuple[Any, Any]] = Field(min_length=1)
    """`[old value, new value]` pairs."""
    example: ClassVar = {"name": "replace", "search_column": "country", "to_replace": [["FR", "France"]]}


def replace(c: Context, s: ReplaceStep, rows: Rows, here: Here) -> Rows:
    col = ident(s.search_column)
    cases = Frag("CASE")
    for old, new in s.to_replace:
        cases = cases + Frag(f" WHEN {col} = ") + value(old) + " THEN " + value(new)
    cases = cases + Frag(f" ELSE {col} END")
    return Rows(c.q.with_column(rows.table, s.search_column, cases), rows.order)


class ReplaceTextStep(Step):
    """Replaces a piece of text inside the values of a column."""

    name: Literal["replacetext"]
    search_column: ColumnName
    old_str: str
    new_str: str = ""
    example: ClassVar = {"name": "replacetext", "search_column": "city", "old_str": "St.", "new_str": "Saint"}


def replacetext(c: Context, s: ReplaceTextStep, rows: Rows, here: Here) -> Rows:
    expr = (
        Frag(f"replace(CAST({ident(s.search_column)} AS VARCHAR), ") + value(s.old_str) + ", " + value(s.new_str) + ")"
    )
    return Rows(c.q.with_column(rows.table, s.search_column, expr), rows.order)


class CompareTextStep(Step):
    """A boolean column: whether two text columns are equal."""

    name: Literal["comparetext"]
    str_col_1: ColumnName
    str_col_2: ColumnName
    new_column_name: ColumnName
    example: ClassVar = {"name": "comparetext", "str_col_1": "city", "str_col_2": "capital", "new_column_name": "same"}


def comparetext(c: Context, s: CompareTextStep, rows: Rows, here: Here) -> Rows:
    expr = Frag(f"({ident(s.str_col_1)} = {ident(s.str_col_2)})")
    return Rows(c.q.with_column(rows.table, s.new_column_name, expr), rows.order)


STEPS = [
    entry(LowercaseStep, lowercase),
    entry(UppercaseStep, uppercase),
    entry(TrimStep, trim),
    entry(ConcatenateStep, concatenate),
    entry(SplitStep, split),
    entry(SubstringStep, substring),
    entry(ReplaceStep, replace),
    entry(ReplaceTextStep, replacetext),
    entry(CompareTextStep, comparetext),
]
