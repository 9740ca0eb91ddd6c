"""Data benchmark: `POST /data` through HTTP (uncached, cached) beside the same SQL in DuckDB.

    .venv/bin/python bench/data/run.py --rows 1000000 [--rows 10000000] [--requests 40] [--superset] [--pandas]

Starts `toucan-ctl serve --production` (2 gunicorn workers) twice at once — result cache off,
and on — loads a synthetic sales domain into each, and measures six dashboard pipelines with
one sequential client that takes turns, request by request, between:
- `POST /data`, uncached and cached (after warm-up);
- the compiled SQL run directly in DuckDB on the same Parquet file (in this process: no HTTP);
- with `--superset`, Apache Superset 6.1's `POST /api/v1/chart/data` on the same file, forced
  past its cache and cached (bench/superset/setup.py; the pipelines it can express).
Taking turns gives every system the same machine load, even when other work shares it.
With `--pandas`, weaverbird's pandas executor (bench/data/pandas_reference.py, its own
virtualenv, domains held in memory) takes part in the first 5 turns.
Also records the largest resident memory of a worker while loading the domains and while
querying. Prints a table and writes bench/results/data.json (data_<rows>.json for other sizes).
Cached throughput is bench/data/throughput.py's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from _common import write_result  # noqa: E402
from pipelines import GENERATE_SALES, GENERATE_TARGETS, PIPELINES  # noqa: E402

from toucan.data.domains import PARQUET_WRITE_OPTIONS, sql_string  # noqa: E402
from toucan.data.query import compile_request  # noqa: E402

PASSWORD = "bench-password-1"
PANDAS_RUNS = 5  # the pandas executor takes seconds a run at 10 M rows: in the first turns only


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_data(directory: Path, rows: int) -> tuple[Path, Path]:
    # Written as the store writes domain files, so that every system reads the same encoding.
    sales = directory / f"sales_{rows}_{hashlib.sha256(PARQUET_WRITE_OPTIONS.encode()).hexdigest()[:8]}.parquet"
    targets = directory / "targets.parquet"
    if not sales.exists():
        duckdb.sql(GENERATE_SALES.format(rows=rows, path=sales, options=PARQUET_WRITE_OPTIONS))
    if not targets.exists():
        duckdb.sql(GENERATE_TARGETS.format(path=targets))
    return sales, targets


@contextmanager
def server(data_dir: Path, cache_mb: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCAN_")}
    env.update(
        TOUCAN_DATA_DIR=str(data_dir),
        TOUCAN_PORT=str(port),
        TOUCAN_SUPER_ADMIN_PASSWORD=PASSWORD,
        TOUCAN_GUNICORN_WORKERS="2",
        TOUCAN_CACHE_MAX_MB=str(cache_mb),
        TOUCAN_LOG_LEVEL="WARNING",
        # No job worker runs beside this server: /ready answers for the API alone.
        TOUCAN_READY_CHECKS_JOBS="false",
        TOUCAN_UPLOAD_MAX_BYTES=str(8 * 1024**3),
    )
    exe = shutil.which("toucan-ctl", path=str(Path(sys.executable).parent)) or "toucan-ctl"
    log_path = data_dir.with_name(data_dir.name + ".log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([exe, "serve", "--production"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"toucan-ctl serve did not get ready:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(base + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class RssSampler(threading.Thread):
    """The largest resident memory of any child (worker) of a process, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        parent = psutil.Process(self.pid)
        while not self.stop.is_set():
            try:
                for child in parent.children():
                    self.peak = max(self.peak, child.memory_info().rss / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.05)

    def take_peak(self) -> float:
        """The peak so far, and start a new one."""
        peak, self.peak = self.peak, 0.0
        return peak


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def _timed(call: Callable[[], object]) -> float:
    """Seconds `call` took; a call that times itself returns its own figure."""
    start = time.perf_counter()
    own = call()
    return own if isinstance(own, float) else time.perf_counter() - start


class Toucan:
    """A logged-in client of one of our servers, holding the benchmark's domains."""

    def __init__(self, base: str, client: httpx.Client) -> None:
        self.base = base
        self.client = client
        token = client.post(f"{base}/login", json={"username": "admin", "password": PASSWORD}).json()["token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def load(self, files: dict[str, Path]) -> None:
        self.client.post(
            f"{self.base}/small-apps", json={"id": "bench", "name": "Bench"}, headers=self.headers
        ).raise_for_status()
        for name, path in files.items():
            with open(path, "rb") as handle:
                self.client.put(
                    f"{self.base}/bench/domain/{name}?stage=staging&format=parquet",
                    content=handle,
                    headers=self.headers,
                ).raise_for_status()
        self.client.post(f"{self.base}/bench/data/release", headers=self.headers).raise_for_status()

    def data(self, pipeline: list[dict[str, Any]], *, new_connection: bool = False) -> dict[str, Any]:
        post = httpx.post if new_connection else self.client.post
        response = post(f"{self.base}/bench/data", json={"query": pipeline, "limit": 1000}, headers=self.headers)
        if response.status_code != 200:
            raise SystemExit(f"POST /data failed: {response.status_code} {response.text[:500]}")
        result: dict[str, Any] = response.json()
        return result


def duckdb_query(
    conn: duckdb.DuckDBPyConnection, files: dict[str, Path], pipeline: list[dict[str, Any]]
) -> Callable[[], object]:
    """The pipeline's compiled SQL on the Parquet files, as a call that runs it once."""
    compiled = compile_request(
        pipeline,
        resolve_domain=lambda d: f"read_parquet({sql_string(str(files[d]))})",
        row_filters={},
    )
    sql = f"SELECT * FROM ({compiled.sql}) q LIMIT 1000"
    return lambda: conn.sql(sql, params=compiled.params or None).to_arrow_table()


def run(rows: int, requests: int, workdir: Path, with_superset: bool, with_pandas: bool) -> list[dict[str, Any]]:
    sales, targets = make_data(workdir, rows)
    files = {"sales": sales, "targets": targets}
    results: dict[str, dict[str, Any]] = {name: {"rows": rows, "pipeline": name} for name in PIPELINES}
    memory: dict[str, float] = {}
    with ExitStack() as stack:
        client = stack.enter_context(httpx.Client(timeout=300))
        toucans: dict[str, Toucan] = {}
        samplers: list[RssSampler] = []
        for key, cache_mb in (("uncached", 0), ("cached", 256)):
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=workdir)))
            base, proc = stack.enter_context(server(data_dir, cache_mb))
            sampler = RssSampler(proc.pid)
            sampler.start()
            stack.callback(sampler.stop.set)
            samplers.append(sampler)
            toucans[key] = Toucan(base, client)
        superset = None
        superset_sampler = None
        queries: dict[str, tuple[str, Callable[[int, bool], dict[str, Any]]]] = {}
        if with_superset:
            sys.path.insert(0, str(HERE.parent / "superset"))
            import setup as superset_setup
            from queries import QUERIES, VIRTUAL_DATASETS

            queries = QUERIES
            duckdb_file = superset_setup.prepare(rows, files)
            base, proc = stack.enter_context(superset_setup.server(workers=2))
            superset = superset_setup.connect(base, client, duckdb_file, list(files), VIRTUAL_DATASETS)
            superset_sampler = RssSampler(proc.pid)
            superset_sampler.start()
            stack.callback(superset_sampler.stop.set)
        pandas = None
        if with_pandas:
            pandas = Pandas(files)
            stack.callback(pandas.close)
        for toucan in toucans.values():
            toucan.load(files)
        memory["peak worker RSS MiB, loading"] = max(s.take_peak() for s in samplers)
        conn = stack.enter_context(duckdb.connect(config={"threads": 2}))
        load_before = os.getloadavg()[0]  # other work on the machine inflates every figure alike

        for name, pipeline in PIPELINES.items():
            calls: dict[str, Callable[[], object]] = {
                "uncached": lambda p=pipeline: toucans["uncached"].data(p),
                "cached": lambda p=pipeline: toucans["cached"].data(p),
                "duckdb": duckdb_query(conn, files, pipeline),
            }
            if superset is not None and name in queries:
                dataset_name, build = queries[name]
                dataset = superset.datasets[dataset_name]
                calls["superset uncached"] = lambda b=build, d=dataset, s=superset: s.chart_data(b(d, True))
                calls["superset cached"] = lambda b=build, d=dataset, s=superset: s.chart_data(b(d, False))
                ours = toucans["uncached"].data(pipeline)
                theirs = superset.chart_data(build(dataset, True))["result"][0]
                if theirs["rowcount"] != ours["total"]:
                    raise SystemExit(f"{name}: Superset answered {theirs['rowcount']} rows, /data {ours['total']}")
            if pandas is not None:
                calls["pandas"] = lambda n=name, e=pandas: e.run(n)
            for call in calls.values():  # warm-up: caches, the OS's file cache
                call()
                call()
            for toucan in toucans.values():
                # and both workers: each has its own DuckDB (started by its first query) and
                # in-process cache. The client's connection stays with one worker until it
                # closes (idle 2 s: gunicorn's keepalive, passed during pandas' turns); new connections
                # go to either.
                for _ in range(8):
                    toucan.data(pipeline, new_connection=True)
            samples: dict[str, list[float]] = {key: [] for key in calls}
            for turn in range(requests):  # in turns, so that all see the same machine load
                for key, call in calls.items():
                    if key != "pandas" or turn < PANDAS_RUNS:
                        samples[key].append(_timed(call))
            for key, values in samples.items():
                p50, p95 = _percentiles(values)
                results[name][f"{key} p50 ms"] = round(p50, 1)
                results[name][f"{key} p95 ms"] = round(p95, 1)
            duckdb_p50 = max(results[name]["duckdb p50 ms"], 0.001)
            results[name]["uncached / duckdb"] = round(results[name]["uncached p50 ms"] / duckdb_p50, 2)
            results[name]["uncached <= 1.3 x duckdb + 5 ms"] = results[name]["uncached p50 ms"] <= 1.3 * duckdb_p50 + 5
            if "superset uncached" in samples:
                results[name]["superset / uncached"] = round(
                    results[name]["superset uncached p50 ms"] / results[name]["uncached p50 ms"], 1
                )
        memory["peak worker RSS MiB, querying"] = max(s.take_peak() for s in samplers)
        load = f"{load_before:.1f} / {os.getloadavg()[0]:.1f}"
        if superset_sampler is not None:
            memory["superset peak worker RSS MiB"] = superset_sampler.take_peak()
    if with_pandas:
        for row in results.values():
            row["pandas / uncached"] = round(row["pandas p50 ms"] / row["uncached p50 ms"], 1)
    for row in results.values():
        row.update({key: round(value, 1) for key, value in memory.items()})
        row["load average before / after"] = load
    return list(results.values())


class Pandas:
    """weaverbird's pandas executor in its own virtualenv (pandas_reference.py --serve)."""

    def __init__(self, files: dict[str, Path]) -> None:
        python = HERE.parent / "results" / "tmp" / "venv-weaverbird" / "bin" / "python"
        if not python.exists():
            raise SystemExit(f"--pandas needs {python}: see bench/data/pandas_reference.py")
        self.proc = subprocess.Popen(
            [
                str(python),
                str(HERE / "pandas_reference.py"),
                "--sales",
                str(files["sales"]),
                "--targets",
                str(files["targets"]),
                "--serve",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("pandas_reference.py --serve did not start")

    def run(self, name: str) -> float:
        """Seconds the executor took for one run of the pipeline (timed in its process)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        return float(json.loads(self.proc.stdout.readline())["ms"]) / 1000

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _pair(row: dict[str, Any], key: str) -> str:
    if f"{key} p95 ms" in row:
        return f"{row[f'{key} p50 ms']} / {row[f'{key} p95 ms']}"
    return str(row.get(f"{key} p50 ms", "-"))


def print_summary(rows: list[dict[str, Any]]) -> None:
    """p50 / p95 side by side, one line per pipeline (the JSON keeps every field)."""
    systems = ("uncached", "cached", "duckdb", "superset uncached", "superset cached")
    shown = [key for key in systems if any(f"{key} p50 ms" in row for row in rows)]
    ratios = ["uncached / duckdb", "superset / uncached"]
    if any("pandas p50 ms" in row for row in rows):
        shown.append("pandas")
        ratios.append("pandas / uncached")
    header = ["rows", "pipeline", *shown, *ratios]
    lines = [header]
    for row in rows:
        cells = [str(row["rows"]), row["pipeline"]]
        cells += [_pair(row, key) for key in shown]
        cells += [str(row.get(key, "-")) for key in ratios]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print("POST /data beside DuckDB and Superset, p50 / p95 ms")
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    for size in dict.fromkeys(row["rows"] for row in rows):
        first = next(row for row in rows if row["rows"] == size)
        memory = ", ".join(f"{key.replace(' MiB', '')} {value} MiB" for key, value in first.items() if "RSS" in key)
        print(f"{size} rows: {memory}; load average before / after {first['load average before / after']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--superset", action="store_true", help="measure Apache Superset 6.1 in the same run")
    parser.add_argument("--pandas", action="store_true", help="measure weaverbird's pandas executor in the same run")
    args = parser.parse_args()
    workdir = HERE.parent / "results" / "tmp"
    workdir.mkdir(parents=True, exist_ok=True)
    rows_list = args.rows or [1_000_000]
    all_rows: list[dict[str, Any]] = []
    for rows in rows_list:
        all_rows.extend(run(rows, args.requests, workdir, args.superset, args.pandas))
    print_summary(all_rows)
    command = (
        "python bench/data/run.py "
        + " ".join(f"--rows {r}" for r in rows_list)
        + f" --requests {args.requests}"
        + (" --superset" if args.superset else "")
        + (" --pandas" if args.pandas else "")
    )
    name = "data" if rows_list == [1_000_000] else "data_" + "_".join(str(r) for r in rows_list)
    print(f"wrote {write_result(name, command, all_rows)}")


if __name__ == "__main__":
    main()
