"""weaverbird's pandas executor on the data benchmark's pipelines — a reference, never a dependency.

Run with the interpreter of its own virtualenv:

    python3 -m venv bench/results/tmp/venv-weaverbird
    bench/results/tmp/venv-weaverbird/bin/pip install "weaverbird[pandas]==0.58.1" "pyarrow==17.0.0"
    bench/results/tmp/venv-weaverbird/bin/python bench/data/pandas_reference.py --rows 1000000

Prints one JSON line per pipeline: {"pipeline", "p50_ms", "p95_ms"} (domains loaded once, as a
server would keep them in memory; the timed part is the pipeline execution only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
from weaverbird.backends.pandas_executor import execute_pipeline
from weaverbird.pipeline import Pipeline

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pipelines import PIPELINES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()
    tmp = HERE.parent / "results" / "tmp"
    frames = {
        "sales": pd.read_parquet(tmp / f"sales_{args.rows}.parquet"),
        "targets": pd.read_parquet(tmp / "targets.parquet"),
    }
    frames["sales"]["date"] = pd.to_datetime(frames["sales"]["date"])
    for name, steps in PIPELINES.items():
        pipeline = Pipeline(steps=steps)
        samples = []
        for _ in range(args.requests):
            start = time.perf_counter()
            execute_pipeline(pipeline, domain_retriever=lambda d: frames[str(d)].copy())
            samples.append(time.perf_counter() - start)
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
