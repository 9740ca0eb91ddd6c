"""Compile time of data requests, the part of an uncached `POST /data` before DuckDB runs.

    .venv/bin/python bench/data/compile_time.py [--runs 2000]

Times `compile_request` on the data benchmark's six pipelines and on a 10-step pipeline, and
(where the step models exist) validating that 10-step pipeline alone. Best of 5 rounds,
microseconds per call, in this process (no HTTP, no DuckDB).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pipelines import PIPELINES  # noqa: E402

from toucan.data.query import compile_request  # noqa: E402

TEN_STEPS: list[dict[str, Any]] = [
    {"name": "domain", "domain": "sales"},
    {"name": "filter", "condition": {"and": [
        {"column": "year", "operator": "ge", "value": 2022},
        {"column": "country", "operator": "in", "value": ["France", "Spain", "Italy"]},
    ]}},
    {"name": "formula", "new_column": "margin", "formula": "(revenue - cost) / revenue"},
    {"name": "dategranularity", "column": "date", "granularity": "month"},
    {"name": "aggregate", "on": ["country", "date"], "aggregations": [
        {"columns": ["revenue", "cost"], "aggfunction": "sum", "newcolumns": ["revenue", "cost"]},
        {"columns": ["units"], "aggfunction": "avg", "newcolumns": ["units"]},
    ]},
    {"name": "percentage", "column": "revenue", "group": ["date"], "new_column_name": "share"},
    {"name": "rename", "to_rename": [["revenue", "Revenue"], ["cost", "Cost"]]},
    {"name": "top", "groups": ["date"], "rankOn": "Revenue", "sort": "desc", "limit": 5},
    {"name": "ifthenelse", "newColumn": "size", "if": {"column": "Revenue", "operator": "gt", "value": 1000},
     "then": "'big'", "else": "'small'"},
    {"name": "sort", "columns": [{"column": "date", "order": "asc"}, {"column": "Revenue", "order": "desc"}]},
]  # fmt: skip


def _per_call(call: Callable[[], object], runs: int) -> float:
    """Microseconds a call, best of 5 rounds of `runs` calls."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(runs):
            call()
        best = min(best, (time.perf_counter() - start) / runs)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()

    def compile_(pipeline: list[dict[str, Any]]) -> Callable[[], object]:
        return lambda: compile_request(
            pipeline, resolve_domain=lambda d: f"read_parquet('{d}.parquet')", row_filters={}
        )

    for name, pipeline in {**PIPELINES, "10 steps": TEN_STEPS}.items():
        print(f"compile {name:<26} {_per_call(compile_(pipeline), args.runs):8.1f} µs")
    try:
        from toucan.data.pipeline.registry import parse_pipeline
    except ImportError:
        print("validate 10 steps: no step models in this version")
        return
    print(f"validate {'10 steps':<25} {_per_call(lambda: parse_pipeline(TEN_STEPS), args.runs):8.1f} µs")


if __name__ == "__main__":
    main()
