"""Filter conditions (`{"column", "operator", "value"}`, nested `and` / `or`) → SQL."""

from __future__ import annotations

from typing import Any

from toucan.data.pipeline.sql import PARAM, Frag, ident, join, value
from toucan.errors import ValidationError

COMPARISONS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
OPERATORS = set(COMPARISONS) | {
    "in",
    "nin",
    "matches",
    "notmatches",
    "isnull",
    "notnull",
    "from",
    "until",
}


def condition_sql(condition: Any, where: dict[str, Any]) -> Frag:
    """SQL for a condition; `where` (step index, field) locates errors."""
    if not isinstance(condition, dict):
        raise ValidationError("A condition is an object.", details={**where, "got": type(condition).__name__})
    for key in ("and", "or"):
        if key in condition:
            parts = condition[key]
            if not isinstance(parts, list) or not parts:
                raise ValidationError(f"'{key}' takes a non-empty list of conditions.", details=where)
            return "(" + join([condition_sql(p, where) for p in parts], f" {key.upper()} ") + ")"
    column = condition.get("column")
    operator = condition.get("operator", "eq")
    if not isinstance(column, str) or not column:
        raise ValidationError("A condition needs a 'column'.", details={**where, "condition": condition})
    if operator not in OPERATORS:
        raise ValidationError(
            f"Unknown operator {operator!r}; use one of {sorted(OPERATORS)}.",
            details={**where, "operator": operator},
        )
    col = ident(column)
    v = condition.get("value")
    if operator in COMPARISONS:
        if v is None:
            return Frag(f"({col} IS {'NOT ' if operator == 'ne' else ''}NULL)")
        if operator == "ne":
            return Frag(f"({col} IS DISTINCT FROM ") + value(v) + ")"
        return Frag(f"({col} {COMPARISONS[operator]} ") + value(v) + ")"
    if operator in ("in", "nin"):
        values = v if isinstance(v, list) else [v]
        if not values:
            return Frag("FALSE" if operator == "in" else "TRUE")
        non_null = [x for x in values if x is not None]
        parts = [Frag(f"{col} IN (") + join([value(x) for x in non_null]) + ")"] if non_null else []
        if len(non_null) != len(values):
            parts.append(Frag(f"{col} IS NULL"))
        inside = "(" + join(parts, " OR ") + ")"
        return inside if operator == "in" else "(NOT COALESCE(" + inside + ", FALSE))"
    if operator in ("matches", "notmatches"):
        test = Frag(f"regexp_matches(CAST({col} AS VARCHAR), ") + value(str(v)) + ")"
        return "(" + test + ")" if operator == "matches" else "(NOT COALESCE(" + test + ", FALSE))"
    if operator == "isnull":
        return Frag(f"({col} IS NULL)")
    if operator == "notnull":
        return Frag(f"({col} IS NOT NULL)")
    # from / until compare whole days: from the start of the first, to the end of the last.
    day = Frag("date_trunc('day', ") + _date_value(v, where) + ")"
    cast_col = f"CAST({col} AS TIMESTAMP)"
    if operator == "from":
        return Frag(f"({cast_col} >= ") + day + ")"
    return Frag(f"({cast_col} < ") + day + " + INTERVAL 1 DAY)"


_DURATIONS = {
    "year": "to_years({q})",
    "quarter": "to_months(3 * {q})",
    "month": "to_months({q})",
    "week": "to_days(7 * {q})",
    "day": "to_days({q})",
}


def _date_value(v: Any, where: dict[str, Any]) -> Frag:
    """A date, or a relative date `{"date", "quantity", "duration", "operator": "from"|"until"}`."""
    if not isinstance(v, dict):
        return Frag("CAST(") + value(v) + " AS TIMESTAMP)"
    duration = v.get("duration")
    if duration not in _DURATIONS or "date" not in v:
        raise ValidationError(
            f"A relative date needs 'date', 'quantity' and a 'duration' among {sorted(_DURATIONS)}.",
            details={**where, "value": v},
        )
    try:
        quantity = int(v.get("quantity", 1))
    except (TypeError, ValueError):
        raise ValidationError("A relative date's quantity is a whole number.", details=where) from None
    sign = "-" if v.get("operator") in ("until", "before") else "+"
    shift = _DURATIONS[duration].format(q=f"CAST({PARAM} AS INTEGER)")
    return "(" + _date_value(v["date"], where) + Frag(f" {sign} {shift}", [quantity]) + ")"
