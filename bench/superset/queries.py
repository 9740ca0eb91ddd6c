"""Superset query contexts (`POST /api/v1/chart/data`) equivalent to the benchmark's pipelines.

Keys are the names of bench/data/pipelines.py; each names the dataset its query context reads.
- "top N per group" needs a filter on a window function, and "join of two domains" a join of
  two datasets: a query context cannot say either, so, as a Superset user does, they read a
  virtual (SQL) dataset (VIRTUAL_DATASETS) written as our compiler writes the same pipeline,
  and the chart shows its rows.
- Pivot and cumulative sum run as Superset runs them for its charts: SQL for the aggregate,
  then its pandas post-processing (`pivot` + `flatten`, `cum`).
- The percentage per group is a SQL metric with a window over the aggregate, as a Superset
  user would write it; the formula is the metric's expression.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ROW_LIMIT = 1000  # as `limit` in our requests


def _sum(expression: str, label: str) -> dict[str, Any]:
    return {"expressionType": "SQL", "sqlExpression": f"SUM({expression})", "label": label}


def _context(dataset_id: int, force: bool, query: dict[str, Any]) -> dict[str, Any]:
    return {
        "datasource": {"id": dataset_id, "type": "table"},
        "force": force,
        "queries": [{"row_limit": ROW_LIMIT, "filters": [], "extras": {}, "post_processing": [], **query}],
        "result_format": "json",
        "result_type": "full",
    }


def filter_aggregate_sort(dataset_id: int, force: bool) -> dict[str, Any]:
    revenue = _sum("revenue", "revenue")
    return _context(
        dataset_id,
        force,
        {
            "columns": ["country"],
            "metrics": [revenue],
            "filters": [{"col": "year", "op": ">=", "val": 2022}],
            "orderby": [[revenue, False]],
        },
    )


def pivot(dataset_id: int, force: bool) -> dict[str, Any]:
    return _context(
        dataset_id,
        force,
        {
            "columns": ["country", "channel"],
            "metrics": [_sum("revenue", "revenue")],
            "row_limit": 100_000,  # the pivot comes after the limit: all groups must arrive
            "post_processing": [
                {
                    "operation": "pivot",
                    "options": {
                        "index": ["country"],
                        "columns": ["channel"],
                        "aggregates": {"revenue": {"operator": "sum"}},
                        "drop_missing_columns": False,
                    },
                },
                {"operation": "flatten"},
            ],
        },
    )


def date_granularity_cumsum(dataset_id: int, force: bool) -> dict[str, Any]:
    return _context(
        dataset_id,
        force,
        {
            "columns": [
                {
                    "columnType": "BASE_AXIS",
                    "expressionType": "SQL",
                    "sqlExpression": "date",
                    "label": "date",
                    "timeGrain": "P1M",
                }
            ],
            "metrics": [_sum("revenue", "revenue")],
            "post_processing": [
                {"operation": "sort", "options": {"by": "date", "ascending": True}},
                {"operation": "cum", "options": {"operator": "sum", "columns": {"revenue": "revenue_cumsum"}}},
            ],
        },
    )


def formula_percentage(dataset_id: int, force: bool) -> dict[str, Any]:
    margin = _sum("revenue - cost", "margin")
    share = {
        "expressionType": "SQL",
        "sqlExpression": "SUM(revenue - cost) / SUM(SUM(revenue - cost)) OVER (PARTITION BY region)",
        "label": "margin_share",
    }
    return _context(
        dataset_id,
        force,
        {"columns": ["region", "country"], "metrics": [margin, share], "orderby": [[margin, False]]},
    )


SALES_COLUMNS = ["date", "year", "country", "region", "product", "channel", "units", "revenue", "cost"]

# Virtual datasets over the DuckDB file's views `sales` and `targets`.
VIRTUAL_DATASETS = {
    "sales_top_3": (
        "SELECT * FROM sales QUALIFY row_number() OVER (PARTITION BY country ORDER BY revenue DESC NULLS LAST) <= 3"
    ),
    "sales_by_country_targets": (
        "SELECT s.country, s.revenue, t.target "
        "FROM (SELECT country, sum(revenue) AS revenue FROM sales GROUP BY country) AS s "
        "LEFT JOIN targets AS t ON s.country = t.country"
    ),
}


def top_n_per_group(dataset_id: int, force: bool) -> dict[str, Any]:
    return _context(
        dataset_id,
        force,
        {"columns": SALES_COLUMNS, "metrics": [], "orderby": [["country", True], ["revenue", False]]},
    )


def join_two_domains(dataset_id: int, force: bool) -> dict[str, Any]:
    return _context(dataset_id, force, {"columns": ["country", "revenue", "target"], "metrics": []})


QUERIES: dict[str, tuple[str, Callable[[int, bool], dict[str, Any]]]] = {
    "filter+aggregate+sort": ("sales", filter_aggregate_sort),
    "top N per group": ("sales_top_3", top_n_per_group),
    "pivot": ("sales", pivot),
    "date granularity+cumsum": ("sales", date_granularity_cumsum),
    "join of two domains": ("sales_by_country_targets", join_two_domains),
    "formula+percentage": ("sales", formula_percentage),
}
