"""weaverbird's pandas executor on the data benchmark's pipelines — a reference, never a dependency.

Run with the interpreter of its own virtualenv:

    python3 -m venv bench/results/tmp/venv-weaverbird
    bench/results/tmp/venv-weaverbird/bin/pip install "weaverbird[pandas]==0.58.1" "pyarrow==17.0.0"
    bench/results/tmp/venv-weaverbird/bin/python bench/data/pandas_reference.py --sales FILE --targets FILE

Prints one JSON line per pipeline: {"pipeline", "p50_ms", "p95_ms"} (domains loaded once, as a
server would keep them in memory; the timed part is the pipeline execution only).

With `--serve` it loads the domains, prints `ready`, then for each pipeline name read on stdin
runs that pipeline once and prints {"ms": ...}: bench/data/run.py --pandas uses this to take
turns with the other systems.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from weaverbird.backends.pandas_executor import execute_pipeline
from weaverbird.pipeline import Pipeline

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pipelines import PIPELINES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sales", type=Path, required=True, help="the sales Parquet file (bench/data/run.py makes it)")
    parser.add_argument("--targets", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    frames = {"sales": pd.read_parquet(args.sales), "targets": pd.read_parquet(args.targets)}
    frames["sales"]["date"] = pd.to_datetime(frames["sales"]["date"])

    def execute(steps: list[dict[str, Any]]) -> float:
        pipeline = Pipeline(steps=steps)
        start = time.perf_counter()
        execute_pipeline(pipeline, domain_retriever=lambda d: frames[str(d)].copy())
        return time.perf_counter() - start

    if args.serve:
        print("ready", flush=True)
        for line in sys.stdin:
            print(json.dumps({"ms": execute(PIPELINES[line.strip()]) * 1000}), flush=True)
        return
    for name, steps in PIPELINES.items():
        samples = [execute(steps) for _ in range(args.requests)]
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            json.dumps(
                {
                    "pipeline": name,
                    "p50_ms": round(statistics.median(ordered) * 1000, 1),
                    "p95_ms": round(p95 * 1000, 1),
                }
            )
        )


if __name__ == "__main__":
    main()
