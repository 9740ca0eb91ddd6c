"""Filter conditions (`{"column", "operator", "value"}`, nested `and` / `or`): models → SQL.

Used by the `filter` and `ifthenelse` steps and by row-level permissions. Unknown keys in a
condition are ignored, as weaverbird's condition models ignore them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, WithJsonSchema
from pydantic import ValidationError as PydanticValidationError

from toucan.data.pipeline.errors import invalid
from toucan.data.pipeline.operators import COMPARISONS, OPERATORS
from toucan.data.pipeline.sql import PARAM, Frag, ident, join, value
from toucan.data.pipeline.step import NAME_PATTERN

# A value compared with a column: JSON's scalars, or dates (from templated variables).
Value = str | int | float | bool | datetime | date | None
Column = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, description="The column tested.")]


class _Condition(BaseModel):
    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)


class RelativeDate(_Condition):
    """A date moved by a number of years, quarters, months, weeks or days."""

    date: RelativeDate | datetime | date | str
    """The date it starts from (`"date: 2024-01-31 00:00:00"`, or another relative date)."""
    quantity: Annotated[
        int,
        WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[-+]?[0-9]+$"}]}),
    ] = 1
    """How many durations to move by (an integer, or its digits as text as weaverbird's front writes it)."""
    duration: Literal["year", "quarter", "month", "week", "day"]
    """The unit of `quantity`."""
    operator: Literal["from", "until", "before", "after"] = "from"
    """`until` and `before` move back in time; `from` and `after`, forward."""


class Comparison(_Condition):
    """The column compared with a value (a null value compares with IS [NOT] NULL)."""

    column: Column
    operator: Literal["eq", "ne", "gt", "ge", "lt", "le"] = "eq"
    value: Value = None


class Inclusion(_Condition):
    """The column's value is (`in`) or is not (`nin`) in a list."""

    column: Column
    operator: Literal["in", "nin"]
    value: list[Value] | Value = None
    """The values (a single value counts as a list of one)."""


class NullCheck(_Condition):
    """The column is (`isnull`) or is not (`notnull`) null."""

    column: Column
    operator: Literal["isnull", "notnull"]
    value: Any = None
    """Ignored."""


class Match(_Condition):
    """The column's text matches (or does not match) a regular expression."""

    column: Column
    operator: Literal["matches", "notmatches"]
    value: str | int | float
    """The regular expression."""


class DateBound(_Condition):
    """The column's date is from (on or after) or until (on or before) a day, whole days."""

    column: Column
    operator: Literal["from", "until"]
    value: RelativeDate | datetime | date | str
    """A date, or a relative date."""


class And(_Condition):
    """Every condition holds."""

    and_: list[Condition] = Field(alias="and", min_length=1)


class Or(_Condition):
    """At least one condition holds."""

    or_: list[Condition] = Field(alias="or", min_length=1)


def _kind(v: Any) -> str | None:
    if isinstance(v, dict):
        if "and" in v:
            return "and"
        if "or" in v:
            return "or"
        operator = v.get("operator", "eq")
        return operator if isinstance(operator, str) else None
    if isinstance(v, And | Or):
        return "and" if isinstance(v, And) else "or"
    return getattr(v, "operator", None)


_MODELS: dict[str, type[_Condition]] = {
    **dict.fromkeys(COMPARISONS, Comparison),
    "in": Inclusion,
    "nin": Inclusion,
    "matches": Match,
    "notmatches": Match,
    "isnull": NullCheck,
    "notnull": NullCheck,
    "from": DateBound,
    "until": DateBound,
    "and": And,
    "or": Or,
}
if TYPE_CHECKING:
    Condition = And | Or | Comparison | Inclusion | NullCheck | Match | DateBound
else:
    # One tag per operator, so that an unknown one is named with the list of known ones.
    Condition = Annotated[
        Union[tuple(Annotated[model, Tag(tag)] for tag, model in _MODELS.items())],  # noqa: UP007
        Discriminator(
            _kind,
            custom_error_type="condition",
            custom_error_message="a condition: {column, operator, value}, or {and: [...]} or {or: [...]}",
            custom_error_context={"operators": ", ".join(OPERATORS)},
        ),
    ]
And.model_rebuild()
Or.model_rebuild()
CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)


def parse_condition(condition: Any, where: dict[str, Any]) -> Condition:
    """A condition model from JSON; a 400 naming what is wrong, located by `where`."""
    if isinstance(condition, And | Or | Comparison | Inclusion | NullCheck | Match | DateBound):
        return condition
    try:
        return CONDITION.validate_python(condition)
    except PydanticValidationError as exc:
        raise invalid(exc, condition, where, subject="The condition") from None


def condition_sql(condition: Any, where: dict[str, Any]) -> Frag:
    """SQL for a condition (a model, or JSON validated first); `where` locates errors."""
    return _sql(parse_condition(condition, where), where)


def _sql(c: Condition, where: dict[str, Any]) -> Frag:
    if isinstance(c, And | Or):
        parts, word = (c.and_, " AND ") if isinstance(c, And) else (c.or_, " OR ")
        return "(" + join([_sql(p, where) for p in parts], word) + ")"
    col = ident(c.column)
    if isinstance(c, Comparison):
        v = c.value
        if v is None:
            return Frag(f"({col} IS {'NOT ' if c.operator == 'ne' else ''}NULL)")
        if c.operator == "ne":
            return Frag(f"({col} IS DISTINCT FROM ") + value(v) + ")"
        return Frag(f"({col} {COMPARISONS[c.operator]} ") + value(v) + ")"
    if isinstance(c, Inclusion):
        values = c.value if isinstance(c.value, list) else [c.value]
        if not values:
            return Frag("FALSE" if c.operator == "in" else "TRUE")
        non_null = [x for x in values if x is not None]
        inside_parts = [Frag(f"{col} IN (") + join([value(x) for x in non_null]) + ")"] if non_null else []
        if len(non_null) != len(values):
            inside_parts.append(Frag(f"{col} IS NULL"))
        inside = "(" + join(inside_parts, " OR ") + ")"
        return inside if c.operator == "in" else "(NOT COALESCE(" + inside + ", FALSE))"
    if isinstance(c, Match):
        test = Frag(f"regexp_matches(CAST({col} AS VARCHAR), ") + value(str(c.value)) + ")"
        return "(" + test + ")" if c.operator == "matches" else "(NOT COALESCE(" + test + ", FALSE))"
    if isinstance(c, NullCheck):
        return Frag(f"({col} IS {'NOT ' if c.operator == 'notnull' else ''}NULL)")
    # from / until compare whole days: from the start of the first, to the end of the last.
    day = Frag("date_trunc('day', ") + _date_value(c.value) + ")"
    cast_col = f"CAST({col} AS TIMESTAMP)"
    if c.operator == "from":
        return Frag(f"({cast_col} >= ") + day + ")"
    return Frag(f"({cast_col} < ") + day + " + INTERVAL 1 DAY)"


_DURATIONS = {
    "year": "to_years({q})",
    "quarter": "to_months(3 * {q})",
    "month": "to_months({q})",
    "week": "to_days(7 * {q})",
    "day": "to_days({q})",
}


def _date_value(v: RelativeDate | datetime | date | str) -> Frag:
    """A date, or a relative date `{"date", "quantity", "duration", "operator": "from"|"until"}`."""
    if not isinstance(v, RelativeDate):
        return Frag("CAST(") + value(v) + " AS TIMESTAMP)"
    sign = "-" if v.operator in ("until", "before") else "+"
    shift = _DURATIONS[v.duration].format(q=f"CAST({PARAM} AS INTEGER)")
    return "(" + _date_value(v.date) + Frag(f" {sign} {shift}", [v.quantity]) + ")"
