"""The data requests a viewer's page sends: the filters (requesters) shown on a story or the
home, and each chart's or home KPI's query with the filter steps that apply to it.

The web app builds these in frontend/src/studio/filters.ts; this is the same rule in Python,
so the demo's tests and benchmarks send what the page sends. Both are pinned by the cases in
frontend/src/studio/filterCases.json (tests/apps/test_viewer_requests.py and filters.test.ts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ChartRequest",
    "PageChart",
    "chart_request",
    "initial_value",
    "page_charts",
    "requesters_on",
]


@dataclass(frozen=True)
class ChartRequest:
    query: Any
    variables: dict[str, Any]


@dataclass(frozen=True)
class PageChart:
    """A chart of a story (`story/chart id` or `story/index`) or a home KPI (`home/index`)."""

    key: str
    title: str
    query: Any


def requesters_on(config: dict[str, Any], slide: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The filters shown on a story (on the home, `slide` None: those not limited to stories)."""
    shown = []
    for r in config.get("requesters") or []:
        if slide is None:
            if r.get("stories") is None:
                shown.append(r)
            continue
        if r.get("stories") is not None and slide["id"] not in r["stories"]:
            continue
        # A slide's own `requesters` list (older configs) limits it too.
        if slide.get("requesters") is None or r["id"] in slide["requesters"]:
            shown.append(r)
    return shown


def page_charts(config: dict[str, Any], slide: dict[str, Any] | None) -> list[PageChart]:
    """A story's charts (those with a chart and a query), or the home's KPIs."""
    if slide is None:
        return [
            PageChart(f"home/{i}", k.get("title", ""), k.get("query"))
            for i, k in enumerate((config.get("home") or {}).get("kpis") or [])
        ]
    if isinstance(slide.get("charts"), list):
        return [
            PageChart(f"{slide['id']}/{block.get('id', i)}", block.get("title", ""), block["query"])
            for i, block in enumerate(slide["charts"])
            if block and block.get("chart") and block.get("query")
        ]
    if slide.get("chart") and slide.get("query"):
        return [PageChart(f"{slide['id']}/0", "", slide["query"])]
    return []


def initial_value(r: dict[str, Any], options: list[Any] | None = None) -> Any:
    """Its default, else the first option (dropdown) or nothing."""
    d = r.get("default")
    kind = r.get("type") or "dropdown"
    if kind == "multiselect":
        return list(d) if isinstance(d, list) else []
    if kind == "daterange":
        if isinstance(d, dict):
            return {"start": d.get("start"), "end": d.get("end")}
        return {"start": None, "end": None}
    if kind == "search":
        return d if isinstance(d, str) else ""
    if kind == "date":
        return d if isinstance(d, str) else None
    if d is not None and not isinstance(d, (list, dict)):
        return d
    return options[0] if options else None


def _is_empty(value: Any) -> bool:
    if value is None or value == "":
        return True
    if isinstance(value, list):
        return not value
    if isinstance(value, dict):
        return not value.get("start") and not value.get("end")
    return False


def _condition(r: dict[str, Any], value: Any) -> dict[str, Any] | None:
    column = r.get("filter_column")
    if not column or _is_empty(value):
        return None
    rid = r["id"]
    v = f"{{{{ {rid} }}}}"
    kind = r.get("type") or "dropdown"
    if kind == "multiselect":
        return {"column": column, "operator": "in", "value": v}
    if kind == "search":
        return {"column": column, "operator": "matches", "value": f"(?i){{{{ {rid}__pattern }}}}"}
    if kind == "date":
        return {
            "and": [
                {"column": column, "operator": "from", "value": v},
                {"column": column, "operator": "until", "value": v},
            ]
        }
    if kind == "daterange":
        bounds = []
        if value.get("start"):
            bounds.append({"column": column, "operator": "from", "value": f"{{{{ {rid}.start }}}}"})
        if value.get("end"):
            bounds.append({"column": column, "operator": "until", "value": f"{{{{ {rid}.end }}}}"})
        return bounds[0] if len(bounds) == 1 else {"and": bounds}
    return {"column": column, "operator": "eq", "value": v}


def _with_filters(query: Any, conditions: list[dict[str, Any]]) -> Any:
    if not conditions or not isinstance(query, list) or not query:
        return query
    first = query[0]
    if not isinstance(first, dict) or first.get("name") != "domain":
        return query
    return [first, *({"name": "filter", "condition": c} for c in conditions), *query[1:]]


def chart_request(
    query: Any,
    all_requesters: list[dict[str, Any]],
    shown: list[dict[str, Any]],
    values: dict[str, Any],
    ref: str | None,
    options: dict[str, list[Any]] | None = None,
) -> ChartRequest:
    """Every filter's variable (the chosen value where it is shown and applies, its starting
    value elsewhere) and the query with a filter step per shown, applying filter."""
    options = options or {}
    shown_ids = {r["id"] for r in shown}
    variables: dict[str, Any] = {}
    conditions = []
    for r in all_requesters:
        active = r["id"] in shown_ids and (ref is None or r.get("charts") is None or ref in r["charts"])
        value = values[r["id"]] if active and r["id"] in values else initial_value(r, options.get(r["id"]))
        variables[r["id"]] = value
        if active:
            condition = _condition(r, value)
            if condition:
                conditions.append(condition)
                if (r.get("type") or "dropdown") == "search":
                    variables[f"{r['id']}__pattern"] = re.sub(r"[.*+?^${}()|\[\]\\]", r"\\\g<0>", str(value))
    return ChartRequest(_with_filters(query, conditions), variables)
