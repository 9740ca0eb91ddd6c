"""Steps that add, drop, rename or compute columns: select, delete, rename, duplicate, text,
formula, ifthenelse, fillna, convert, absolutevalue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from toucan.data.pipeline.builder import sql_text
from toucan.data.pipeline.conditions import Condition, condition_sql
from toucan.data.pipeline.formula import formula_sql
from toucan.data.pipeline.sql import Frag, ident, value
from toucan.data.pipeline.step import ColumnName, Context, Here, Rows, Scalar, Spec, Step, entry, spellings

FAMILY = "columns"


class SelectStep(Step):
    """Keeps these columns only, in this order."""

    name: Literal["select"]
    columns: list[ColumnName] = Field(min_length=1)
    example: ClassVar = {"name": "select", "columns": ["country", "revenue"]}


def select(c: Context, s: SelectStep, rows: Rows, here: Here) -> Rows:
    cols = ", ".join(ident(col) for col in s.columns)
    return Rows(c.q.add(Frag(f"SELECT {cols} FROM {rows.table}")))


class DeleteStep(Step):
    """Drops columns."""

    name: Literal["delete"]
    columns: list[ColumnName] = Field(min_length=1)
    example: ClassVar = {"name": "delete", "columns": ["cost"]}


def delete(c: Context, s: DeleteStep, rows: Rows, here: Here) -> Rows:
    names = ", ".join(sql_text(col) for col in s.columns)
    inner = f"SELECT COLUMNS(lambda c: c NOT IN ({names})) FROM (SELECT *, NULL AS __toucan_marker FROM {rows.table})"
    return Rows(c.q.add(Frag(f"SELECT * EXCLUDE (__toucan_marker) FROM ({inner})")), rows.order)


class RenameStep(Step):
    """Renames columns."""

    name: Literal["rename"]
    to_rename: list[tuple[ColumnName, ColumnName]] = Field(min_length=1)
    """`[old name, new name]` pairs."""
    example: ClassVar = {"name": "rename", "to_rename": [["revenue", "Revenue (€)"]]}
    legacy: ClassVar = "one pair as `to_rename: [old, new]`, or `oldname` and `newname`"

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "oldname" in data and "newname" in data:
            rest = {k: v for k, v in data.items() if k not in ("oldname", "newname")}
            data = {**rest, "to_rename": [[data["oldname"], data["newname"]]]}
        for key in ("to_rename", "toRename"):
            pairs = data.get(key)
            if isinstance(pairs, list) and pairs and isinstance(pairs[0], str):
                data = {**data, key: [pairs]}
        return data


def rename(c: Context, s: RenameStep, rows: Rows, here: Here) -> Rows:
    renames = ", ".join(f"{ident(old)} AS {ident(new)}" for old, new in s.to_rename)
    return Rows(c.q.add(Frag(f"SELECT * RENAME ({renames}) FROM {rows.table}")))


class DuplicateStep(Step):
    """Copies a column under another name."""

    name: Literal["duplicate"]
    column: ColumnName
    new_column_name: ColumnName
    example: ClassVar = {"name": "duplicate", "column": "country", "new_column_name": "country_copy"}


def duplicate(c: Context, s: DuplicateStep, rows: Rows, here: Here) -> Rows:
    return Rows(c.q.with_column(rows.table, s.new_column_name, Frag(ident(s.column))), rows.order)


class TextStep(Step):
    """A column holding one value on every row."""

    name: Literal["text"]
    text: Scalar | datetime
    """The value (text, number, boolean or date)."""
    new_column: ColumnName
    example: ClassVar = {"name": "text", "text": "Europe", "new_column": "zone"}


def text(c: Context, s: TextStep, rows: Rows, here: Here) -> Rows:
    return Rows(c.q.with_column(rows.table, s.new_column, value(s.text)), rows.order)


class FormulaStep(Step):
    """A computed column: `+ - * / %`, parentheses, `[column with spaces]`, quoted text;
    division by zero gives null."""

    name: Literal["formula"]
    formula: str | int | float
    """The arithmetic, on column names and numbers."""
    new_column: ColumnName
    example: ClassVar = {"name": "formula", "new_column": "margin", "formula": "(revenue - cost) / revenue"}


def formula(c: Context, s: FormulaStep, rows: Rows, here: Here) -> Rows:
    expr = formula_sql(s.formula, here.details(field="formula"), c.q.max_depth)
    return Rows(c.q.with_column(rows.table, s.new_column, expr), rows.order)


def _else_kind(v: Any) -> str:
    return "nested" if isinstance(v, dict | IfThenElse) else "value"


class IfThenElse(Spec):
    """A nested `if`: the `else` of an ifthenelse step."""

    condition: Condition = Field(validation_alias=spellings("if", "condition"), serialization_alias="if")
    """The condition, as in a filter step."""
    then: Scalar
    """A formula (`"'big'"` for text, `"revenue * 2"`), a number, a boolean or null."""
    else_value: Else = Field(validation_alias=spellings("else", "else_value"), serialization_alias="else")
    """A formula, a number, a boolean or null, or another `{if, then, else}`."""
    name: Literal["ifthenelse"] | None = None
    """Ignored (nested blocks may carry it)."""


Else = Annotated[Annotated[IfThenElse, Tag("nested")] | Annotated[Scalar, Tag("value")], Discriminator(_else_kind)]
IfThenElse.model_rebuild()


class IfThenElseStep(Step):
    """A column computed by conditions: `if` … `then` …, `else` a value or another if."""

    model_config = ConfigDict(title="If then else")

    name: Literal["ifthenelse"]
    condition: Condition = Field(validation_alias=spellings("if", "condition"), serialization_alias="if")
    """The condition, as in a filter step."""
    then: Scalar
    """A formula (`"'big'"` for text, `"revenue * 2"`), a number, a boolean or null."""
    else_value: Else = Field(validation_alias=spellings("else", "else_value"), serialization_alias="else")
    """A formula, a number, a boolean or null, or another `{if, then, else}`."""
    new_column: ColumnName
    example: ClassVar = {
        "name": "ifthenelse",
        "new_column": "size",
        "if": {"column": "revenue", "operator": "gt", "value": 1000},
        "then": "'big'",
        "else": "'small'",
    }


def _branch(v: Scalar, here: Here, max_depth: int) -> Frag:
    if v is None or (isinstance(v, str) and v.strip().lower() == "null"):
        return Frag("NULL")
    if isinstance(v, bool):
        return value(v)
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return Frag(v.strip().upper())
    return formula_sql(v, here.details(field="then/else"), max_depth)


def _case(s: IfThenElse | IfThenElseStep, here: Here, max_depth: int) -> Frag:
    cond = condition_sql(s.condition, here.details(field="if"))
    other = s.else_value
    otherwise = _case(other, here, max_depth) if isinstance(other, IfThenElse) else _branch(other, here, max_depth)
    return "CASE WHEN " + cond + " THEN " + _branch(s.then, here, max_depth) + " ELSE " + otherwise + " END"


def ifthenelse(c: Context, s: IfThenElseStep, rows: Rows, here: Here) -> Rows:
    return Rows(c.q.with_column(rows.table, s.new_column, _case(s, here, c.q.max_depth)), rows.order)


class FillnaStep(Step):
    """Replaces nulls in columns with a value."""

    model_config = ConfigDict(title="Fill nulls")

    name: Literal["fillna"]
    columns: list[ColumnName] = Field(min_length=1)
    value: Any
    """The value nulls become."""
    example: ClassVar = {"name": "fillna", "columns": ["revenue"], "value": 0}
    legacy: ClassVar = "`column` (one column)"

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if isinstance(data, dict) and "column" in data and "columns" not in data:
            data = {k: v for k, v in data.items() if k != "column"} | {"columns": [data["column"]]}
        return data


def fillna(c: Context, s: FillnaStep, rows: Rows, here: Here) -> Rows:
    current = rows.table
    for col in s.columns:
        current = c.q.with_column(current, col, Frag(f"COALESCE({ident(col)}, ") + value(s.value) + ")")
    return Rows(current, rows.order)


CONVERT_TYPES = {
    "integer": "BIGINT",
    "float": "DOUBLE",
    "text": "VARCHAR",
    "date": "TIMESTAMP",
    "boolean": "BOOLEAN",
}


def guess_timestamp(column: str) -> str:
    """A timestamp from any value: ISO text, `mm/dd/yyyy`, a year, or epoch milliseconds."""
    text = f"CAST({column} AS VARCHAR)"
    as_int = f"TRY_CAST({text} AS BIGINT)"
    return (
        f"COALESCE(TRY_CAST({text} AS TIMESTAMP), TRY_STRPTIME({text}, '%m/%d/%Y'), "
        f"CASE WHEN {as_int} BETWEEN 1000 AND 9999 THEN make_timestamp({as_int}, 1, 1, 0, 0, 0) "
        f"WHEN {as_int} IS NOT NULL THEN epoch_ms({as_int}) END)"
    )


class ConvertStep(Step):
    """Converts columns to another type (values that do not convert become null)."""

    name: Literal["convert"]
    columns: list[ColumnName] = Field(min_length=1)
    data_type: Literal["integer", "float", "text", "date", "boolean"]
    """Numbers become integers by truncation; dates, epoch milliseconds."""
    example: ClassVar = {"name": "convert", "columns": ["year"], "data_type": "text"}


def convert(c: Context, s: ConvertStep, rows: Rows, here: Here) -> Rows:
    current = rows.table
    for col in s.columns:
        quoted = ident(col)
        as_text = f"CAST({quoted} AS VARCHAR)"
        if s.data_type == "integer":  # numbers truncate; dates become epoch milliseconds
            expr = (
                f"COALESCE(CAST(trunc(TRY_CAST({as_text} AS DOUBLE)) AS BIGINT), "
                f"epoch_ms(TRY_CAST({as_text} AS TIMESTAMP)))"
            )
        elif s.data_type == "date":
            expr = guess_timestamp(quoted)
        else:
            expr = f"TRY_CAST({quoted} AS {CONVERT_TYPES[s.data_type]})"
        current = c.q.with_column(current, col, Frag(expr))
    return Rows(current, rows.order)


class AbsoluteValueStep(Step):
    """The absolute value of a numeric column."""

    name: Literal["absolutevalue"]
    column: ColumnName
    new_column: ColumnName | None = None
    """Where to write it (default: replaces `column`)."""
    example: ClassVar = {"name": "absolutevalue", "column": "balance", "new_column": "abs_balance"}


def absolutevalue(c: Context, s: AbsoluteValueStep, rows: Rows, here: Here) -> Rows:
    expr = Frag(f"abs({ident(s.column)})")
    return Rows(c.q.with_column(rows.table, s.new_column or s.column, expr), rows.order)


STEPS = [
    entry(SelectStep, select),
    entry(DeleteStep, delete),
    entry(RenameStep, rename),
    entry(DuplicateStep, duplicate),
    entry(TextStep, text),
    entry(FormulaStep, formula),
    entry(IfThenElseStep, ifthenelse),
    entry(FillnaStep, fillna),
    entry(ConvertStep, convert),
    entry(AbsoluteValueStep, absolutevalue),
]
