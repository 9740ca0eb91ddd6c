"""Chart specs of the front config: which columns each chart names, checked against the
columns of its data request's answer (the studio's chart builder refuses to save a chart
naming a column that does not exist; so does `POST /{app}/charts/check`)."""

from __future__ import annotations

from typing import Any

# The fields of a chart spec that name one column, and those that name a list of columns.
COLUMN_FIELDS = ("x", "series", "value", "label", "trend", "size", "color")
COLUMN_LIST_FIELDS = ("y", "columns")


def named_columns(chart: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (path, column) the chart names, e.g. `("y[1]", "revenue")`, in field order;
    empty values (not chosen yet) are skipped."""
    named: list[tuple[str, str]] = []
    for field in COLUMN_FIELDS:
        value = chart.get(field)
        if isinstance(value, str) and value:
            named.append((field, value))
    for field in COLUMN_LIST_FIELDS:
        values = chart.get(field)
        if isinstance(values, list):
            named += [(f"{field}[{i}]", v) for i, v in enumerate(values) if isinstance(v, str) and v]
    sort = chart.get("sort")
    if isinstance(sort, dict) and isinstance(sort.get("by"), str) and sort["by"]:
        named.append(("sort.by", sort["by"]))
    return named


def missing_columns(chart: dict[str, Any], columns: list[str]) -> list[dict[str, str]]:
    """The chart's fields naming a column the data does not have, as `{path, column, message}`."""
    known = set(columns)
    return [
        {
            "path": f"chart.{path}",
            "column": name,
            "message": f"the data has no column {name!r} (it has: {', '.join(columns) or 'none'})",
        }
        for path, name in named_columns(chart)
        if name not in known
    ]
