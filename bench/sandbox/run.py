"""Builder code sandbox benchmark: what running an augment.py function in bubblewrap costs.

    .venv/bin/python bench/sandbox/run.py [--runs 15] [--rows 1000000] [--big-runs 5]

Every measure calls `toucan.etl.builder_code.run_builder_code` (what a preprocess step does,
without API or worker), the variants taking turns so that all see the same machine load:
- `plain`: TOUCAN_BUILDER_CODE_SANDBOX=none, a plain child process (same runner, same
  environment, same rlimits): the baseline;
- `sandbox (cgroup auto)`: bubblewrap, with a cgroup per run where this host lets the worker
  make one (the mechanism used is printed);
- `sandbox (one process)`: bubblewrap with TOUCAN_BUILDER_CODE_CGROUP=none (no cgroup: the
  sandbox is one process, as in a default container);
- `in process` (big input only): the same read → function → write in the benchmark's own
  process, without any child: the floor.

(1) Start overhead: a trivial function on a 3-row input, `--runs` times each; overhead = median
of a sandbox variant minus median of `plain` (target < 150 ms). (2) A `--rows`-row DataFrame of 7
columns (date, 3 strings, int, 2 floats; LZ4 Parquet as domains are) through a function that
adds a column, `--big-runs` times each (target: sandbox at most 1.5 times plain). Prints two tables and
writes bench/results/sandbox-start.json and bench/results/sandbox-<rows>.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _common import print_table, write_result  # noqa: E402

from toucan.etl.builder_code import run_builder_code  # noqa: E402
from toucan.settings import Settings  # noqa: E402

CODE = """
def noop(sales):
    return sales

def add_margin(sales):
    sales["margin"] = sales["revenue"] - sales["cost"]
    return sales
"""

VARIANTS = {
    "plain": {"builder_code_sandbox": "none"},
    "sandbox (cgroup auto)": {"builder_code_sandbox": "bwrap", "builder_code_cgroup": "auto"},
    "sandbox (one process)": {"builder_code_sandbox": "bwrap", "builder_code_cgroup": "none"},
}


def make_input(path: Path, rows: int) -> None:
    """A sales-like table of `rows` rows, written as domains are (Parquet, LZ4)."""
    rng = np.random.default_rng(7)
    countries = np.array(["France", "Spain", "Italy", "Germany", "Portugal", "Belgium", "Austria", "Poland"])
    products = np.array([f"product-{i:02d}" for i in range(40)])
    channels = np.array(["web", "store", "partner"])
    start = np.datetime64("2020-01-01")
    table = pa.table(
        {
            "date": (start + rng.integers(0, 1800, rows).astype("timedelta64[D]")).astype("datetime64[D]"),
            "country": countries[rng.integers(0, len(countries), rows)],
            "product": products[rng.integers(0, len(products), rows)],
            "channel": channels[rng.integers(0, len(channels), rows)],
            "units": rng.integers(1, 50, rows),
            "revenue": rng.random(rows) * 1000,
            "cost": rng.random(rows) * 600,
        }
    )
    pq.write_table(table, path, compression="lz4")


def timed_run(settings: Settings, function: str, source: Path, scratch: Path) -> float:
    workdir = Path(tempfile.mkdtemp(dir=scratch))
    try:
        started = time.perf_counter()
        outputs = run_builder_code(
            CODE, settings, inputs={"sales": source}, function_name=function, output_domain="out", workdir=workdir
        )
        elapsed = time.perf_counter() - started
        assert outputs["out"].stat().st_size > 0
        return elapsed
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def in_process(source: Path, scratch: Path) -> float:
    """The floor: read, the same function, write, in this process."""
    target = scratch / "in-process.parquet"
    started = time.perf_counter()
    frame = pd.read_parquet(source)
    frame["margin"] = frame["revenue"] - frame["cost"]
    frame.to_parquet(target, index=False)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def take_turns(measures: dict[str, Callable[[], float]], runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(runs):
        for name, measure in measures.items():
            times[name].append(measure())
    return times


def summary(times: dict[str, list[float]], baseline: str) -> list[dict[str, Any]]:
    base = statistics.median(times[baseline])
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        rows.append(
            {
                "variant": name,
                "median_ms": round(median * 1000, 1),
                "min_ms": round(min(values) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1),
                f"minus_{baseline.replace(' ', '_')}_ms": round((median - base) * 1000, 1),
                f"ratio_to_{baseline.replace(' ', '_')}": round(median / base, 2),
                "runs_ms": [round(v * 1000, 1) for v in values],
            }
        )
    return rows


def printed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table's columns: the variant and its times (the JSON keeps every run)."""
    keep = ("variant", "median_ms", "min_ms", "max_ms", "minus_plain_ms", "ratio_to_plain")
    return [{key: row[key] for key in keep} for row in rows]


def limit_mechanism(settings: Settings) -> str:
    """Which mechanism bounds memory and processes for `auto` on this host (as the run logs say)."""
    from toucan.sandbox.cgroups import make_cgroup

    try:
        cgroup = make_cgroup(settings.builder_code_cgroup, 64 * 1024 * 1024, 8)
    except Exception as exc:  # the benchmark reports, the runs say whether it matters
        return f"no cgroup ({type(exc).__name__})"
    if cgroup is None:
        return "no cgroup: one process"
    try:
        return f"cgroup v{cgroup.version}"
    finally:
        cgroup.kill_and_remove()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15, help="runs of the start-overhead measure, per variant")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the big input (0: skip)")
    parser.add_argument("--big-runs", type=int, default=5, help="runs of the big-input measure, per variant")
    args = parser.parse_args()
    command = "python bench/sandbox/run.py " + " ".join(sys.argv[1:])
    scratch_root = HERE.parent / "results" / "tmp" / "sandbox"
    scratch_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=scratch_root))
    try:
        base = {"data_dir": scratch / "data", "builder_code_timeout": 600, "builder_code_memory_mb": 4096}
        settings = {name: Settings(**base, **extra) for name, extra in VARIANTS.items()}
        mechanism = limit_mechanism(settings["sandbox (cgroup auto)"])
        load_before = os.getloadavg()

        small = scratch / "small.parquet"
        make_input(small, 3)
        start_measures = {name: (lambda s=s: timed_run(s, "noop", small, scratch)) for name, s in settings.items()}
        take_turns(start_measures, 1)  # warm the page cache and Python's imports
        start = summary(take_turns(start_measures, args.runs), "plain")
        for row in start:
            row.update({"rows": 3, "function": "noop", "cgroup_auto": mechanism})
        print_table(f"Start overhead of one builder function ({args.runs} runs; auto = {mechanism})", printed(start))
        print(f"wrote {write_result('sandbox-start', command, start)}")

        if args.rows:
            big = scratch / "big.parquet"
            make_input(big, args.rows)
            big_measures: dict[str, Callable[[], float]] = {"in process": lambda: in_process(big, scratch)}
            big_measures.update(
                {name: (lambda s=s: timed_run(s, "add_margin", big, scratch)) for name, s in settings.items()}
            )
            take_turns(big_measures, 1)
            rows = summary(take_turns(big_measures, args.big_runs), "plain")
            for row in rows:
                row.update(
                    {
                        "rows": args.rows,
                        "input_mib": round(big.stat().st_size / 2**20, 1),
                        "function": "add_margin",
                        "cgroup_auto": mechanism,
                    }
                )
            title = f"{args.rows:,} rows through add_margin ({args.big_runs} runs; auto = {mechanism})"
            print_table(title, printed(rows))
            print(f"wrote {write_result(f'sandbox-{args.rows}', command, rows)}")
        print(f"load average before: {load_before}, after: {os.getloadavg()}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
