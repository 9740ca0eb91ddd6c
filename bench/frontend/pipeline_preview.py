"""Pipeline builder benchmark: the preview of each step of a four-step pipeline (filter,
aggregate, formula, sort) on a 1 M-row domain, through `POST /{app}/query/preview` as the
builder asks it when a step is clicked (the steps up to it), with the answer cache off
(`TOUCAN_CACHE_MAX_MB=0`: every preview is computed) and on (the second click).

    .venv/bin/python bench/frontend/pipeline_preview.py [--rows 1000000] [--runs 20]

Writes bench/results/frontend-pipeline-preview.json. Target: < 500 ms per step preview.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from _common import print_table, write_result  # noqa: E402

from tests.helpers import TOUCAN_CTL, clean_env, running_server  # noqa: E402

APP = "demo-sales"
PIPELINE: list[dict[str, Any]] = [
    {"name": "domain", "domain": "sales"},
    {"name": "filter", "condition": {"column": "country", "operator": "in", "value": ["France", "Spain"]}},
    {
        "name": "aggregate",
        "on": ["country", "product"],
        "aggregations": [{"columns": ["revenue", "cost"], "agg_function": "sum", "new_columns": ["revenue", "cost"]}],
    },
    {"name": "formula", "formula": "(revenue - cost) / revenue", "new_column": "margin"},
    {"name": "sort", "columns": [{"column": "margin", "order": "desc"}]},
]
TARGET_MS = 500


def timed(client: httpx.Client, token: str, steps: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    response = client.post(
        f"/_api/{APP}/query/preview?stage=staging",
        json={"query": steps},
        headers={"Authorization": f"Bearer {token}"},
    )
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed * 1000


def measure(data_dir: str, runs: int, cache_mb: int | None) -> dict[str, list[float]]:
    extra = {} if cache_mb is None else {"TOUCAN_CACHE_MAX_MB": str(cache_mb)}
    env = clean_env(TOUCAN_DATA_DIR=data_dir, TOUCAN_SUPER_ADMIN_PASSWORD="bench-password-1", **extra)
    with running_server(env) as (base, _proc), httpx.Client(base_url=base, timeout=60) as client:
        login = {"username": "admin", "password": "bench-password-1"}
        token = client.post("/_api/login", json=login).json()["token"]
        timed(client, token, PIPELINE)  # DuckDB and the domain's file opened once
        out: dict[str, list[float]] = {step["name"]: [] for step in PIPELINE[1:]}
        for _ in range(runs):
            for i, step in enumerate(PIPELINE[1:], start=2):  # the steps take turns
                out[step["name"]].append(timed(client, token, PIPELINE[:i]))
        return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as data_dir:
        env = clean_env(TOUCAN_DATA_DIR=data_dir, TOUCAN_SUPER_ADMIN_PASSWORD="bench-password-1")
        subprocess.run([*TOUCAN_CTL, "demo", "--rows", str(args.rows)], env=env, check=True, capture_output=True)
        results = {"uncached": measure(data_dir, args.runs, 0), "cached": measure(data_dir, args.runs, None)}
    table = []
    for step in [s["name"] for s in PIPELINE[1:]]:
        row: dict[str, Any] = {"preview after": step}
        for mode, times in results.items():
            row[f"{mode} p50 ms"] = round(statistics.median(times[step]), 1)
            row[f"{mode} p95 ms"] = round(percentile(times[step], 0.95), 1)
        row["target ms"] = f"< {TARGET_MS}"
        table.append(row)
    print_table(f"Pipeline step preview, {args.rows:,} rows, {args.runs} runs", table)
    command = f".venv/bin/python bench/frontend/pipeline_preview.py --rows {args.rows} --runs {args.runs}"
    print(write_result("frontend-pipeline-preview", command, table))


if __name__ == "__main__":
    main()
