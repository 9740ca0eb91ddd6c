"""Filter conditions (`{"column", "operator", "value"}`, nested `and` / `or`) → SQL."""

from __future__ import annotations

from typing import Any

from toucan.data.pipeline.sql import Frag, ident, join, value
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
    bound = Frag("CAST(") + value(str(v)) + " AS TIMESTAMPTZ)"
    cast_col = f"CAST({col} AS TIMESTAMPTZ)"
    if operator == "from":
        return Frag(f"({cast_col} >= ") + bound + ")"
    return Frag(f"({cast_col} <= ") + bound + ")"
