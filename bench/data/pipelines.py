"""The six dashboard pipelines of the data benchmark (weaverbird steps)."""

from __future__ import annotations

from typing import Any

PIPELINES: dict[str, list[dict[str, Any]]] = {
    "filter+aggregate+sort": [
        {"name": "domain", "domain": "sales"},
        {"name": "filter", "condition": {"column": "year", "operator": "ge", "value": 2022}},
        {
            "name": "aggregate",
            "on": ["country"],
            "aggregations": [{"columns": ["revenue"], "aggfunction": "sum", "newcolumns": ["revenue"]}],
        },
        {"name": "sort", "columns": [{"column": "revenue", "order": "desc"}]},
    ],
    "top N per group": [
        {"name": "domain", "domain": "sales"},
        {"name": "top", "groups": ["country"], "rank_on": "revenue", "sort": "desc", "limit": 3},
    ],
    "pivot": [
        {"name": "domain", "domain": "sales"},
        {
            "name": "pivot",
            "index": ["country"],
            "column_to_pivot": "channel",
            "value_column": "revenue",
            "agg_function": "sum",
        },
    ],
    "date granularity+cumsum": [
        {"name": "domain", "domain": "sales"},
        {"name": "dategranularity", "column": "date", "granularity": "month"},
        {
            "name": "aggregate",
            "on": ["date"],
            "aggregations": [{"columns": ["revenue"], "aggfunction": "sum", "newcolumns": ["revenue"]}],
        },
        {"name": "cumsum", "toCumSum": [["revenue", "revenue_cumsum"]], "referenceColumn": "date"},
    ],
    "join of two domains": [
        {"name": "domain", "domain": "sales"},
        {
            "name": "aggregate",
            "on": ["country"],
            "aggregations": [{"columns": ["revenue"], "aggfunction": "sum", "newcolumns": ["revenue"]}],
        },
        {
            "name": "join",
            "right_pipeline": [{"name": "domain", "domain": "targets"}],
            "type": "left",
            "on": [["country", "country"]],
        },
    ],
    "formula+percentage": [
        {"name": "domain", "domain": "sales"},
        {"name": "formula", "new_column": "margin", "formula": "revenue - cost"},
        {
            "name": "aggregate",
            "on": ["region", "country"],
            "aggregations": [{"columns": ["margin"], "aggfunction": "sum", "newcolumns": ["margin"]}],
        },
        {
            "name": "percentage",
            "column": "margin",
            "group": ["region"],
            "new_column_name": "margin_share",
        },
    ],
}

GENERATE_SALES = """
COPY (
  SELECT
    DATE '2020-01-01' + CAST(hash(i) % 1826 AS INTEGER) AS date,
    CAST(2020 + (hash(i) % 1826) // 366 AS INTEGER) AS year,
    'Country ' || CAST(hash(i * 7) % 20 AS VARCHAR) AS country,
    'Region ' || CAST((hash(i * 7) % 20) % 5 AS VARCHAR) AS region,
    'Product ' || CAST(hash(i * 13) % 50 AS VARCHAR) AS product,
    ['web', 'store', 'partner', 'phone'][1 + CAST(hash(i * 17) % 4 AS INTEGER)] AS channel,
    CAST(1 + hash(i * 19) % 20 AS INTEGER) AS units,
    round((hash(i * 23) % 100000) / 100.0, 2) AS revenue,
    round((hash(i * 29) % 60000) / 100.0, 2) AS cost
  FROM range({rows}) t(i)
) TO '{path}' ({options})
"""

GENERATE_TARGETS = """
COPY (
  SELECT 'Country ' || CAST(i AS VARCHAR) AS country, 1000000.0 + i * 50000 AS target
  FROM range(20) t(i)
) TO '{path}' (FORMAT parquet)
"""
