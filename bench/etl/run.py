"""ETL benchmark: a CSV into a domain beside DuckDB alone; a PostgreSQL table beside COPY.

    .venv/bin/python bench/etl/run.py [--rows 10000000] [--pg-rows 1000000] [--runs 3]

`--rows 0` skips the CSV measures, `--pg-rows 0` the PostgreSQL ones.

In one run, every measure `--runs` times, taking turns (so all see the same machine load):
- a CSV of `--rows` rows (10 M rows ≈ 1 GB) is generated once under bench/results/tmp/etl;
- DuckDB's own `COPY (SELECT * FROM read_csv(...)) TO '….parquet'` on that file, in a child
  process (so its peak RSS is its own), with DuckDB's defaults; and, in a child process too,
  the stack's reader (`toucan.etl.readers.copy_to_parquet`) with the stack's DuckDB settings
  (CSV on up to 4 threads, TOUCAN_DUCKDB_MEMORY_MB, LZ4): what the job does, without API or worker;
- `toucan-ctl serve` (embedded worker, its own data dir): the file uploaded through the
  chunked API, then `POST /{app}/data/preprocess` into a domain. Upload time (transfer, and
  `complete`, which reads the whole file once to check it), the job's wall time (its
  started_at → finished_at; client-side from the POST to the job's end; the time queued), and
  peak RSS of the API process during the upload and of the worker's processes during the job;
- a table of `--pg-rows` rows in the local PostgreSQL (db `test`, schema `bench_etl`, dropped
  at the end) loaded by a preprocess with a postgres source, beside
  `COPY (SELECT * FROM …) TO STDOUT` of the same table through psycopg.

Wall times are medians of the runs (every run's is kept); peak RSS is the largest of the
runs: of a group of processes, their sum sampled every 20 ms, and the kernel's exact peak
(VmHWM, reset when the measure starts) of the largest one. Prints a table and writes
bench/results/etl.json (etl_<rows>_<pg-rows>.json for other sizes).
"""

from __future__ import annotations

import argparse
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
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psutil
import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _common import print_table, write_result  # noqa: E402

PASSWORD = "bench-password-1"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_SCHEMA = "bench_etl"
CHUNK_BYTES = 64 * 1024 * 1024
TARGET_RATIO = 1.5
TARGET_PEAK_MIB = 1000 * 1000 * 1000 / 2**20  # "< 1 GB"

GENERATE_CSV = """
COPY (
  SELECT
    i AS order_id,
    DATE '2020-01-01' + CAST(hash(i) % 1826 AS INTEGER) AS order_date,
    TIMESTAMP '2020-01-01' + to_seconds(CAST(hash(i * 3) % 157766400 AS BIGINT)) AS updated_at,
    'C' || lpad(CAST(hash(i * 5) % 1000000 AS VARCHAR), 6, '0') AS customer,
    'Country ' || CAST(hash(i * 7) % 20 AS VARCHAR) AS country,
    'Region ' || CAST((hash(i * 7) % 20) % 5 AS VARCHAR) AS region,
    'Product ' || CAST(hash(i * 13) % 50 AS VARCHAR) AS product,
    ['web', 'store', 'partner', 'phone'][1 + CAST(hash(i * 17) % 4 AS INTEGER)] AS channel,
    CAST(1 + hash(i * 19) % 20 AS INTEGER) AS units,
    round((hash(i * 23) % 100000) / 100.0, 2) AS revenue,
    round((hash(i * 29) % 60000) / 100.0, 2) AS cost
  FROM range({rows}) t(i)
) TO '{path}' (HEADER)
"""

# The same columns in PostgreSQL (numeric money columns, as such tables usually have).
GENERATE_PG = """
CREATE TABLE {schema}.orders AS
SELECT
  i AS order_id,
  DATE '2020-01-01' + (i * 7919 % 1826)::int AS order_date,
  TIMESTAMP '2020-01-01' + make_interval(secs => (i * 104729) % 157766400) AS updated_at,
  'C' || lpad(((i * 15485863) % 1000000)::text, 6, '0') AS customer,
  'Country ' || (i * 7 % 20) AS country,
  'Region ' || (i * 7 % 20 % 5) AS region,
  'Product ' || (i * 13 % 50) AS product,
  (ARRAY['web', 'store', 'partner', 'phone'])[1 + i % 4] AS channel,
  (1 + i * 19 % 20)::int AS units,
  ((i * 23 % 100000) / 100.0)::numeric(10, 2) AS revenue,
  ((i * 29 % 60000) / 100.0)::numeric(10, 2) AS cost
FROM generate_series(1::bigint, {rows}) AS t(i)
"""

# Run in a child process: CSV → Parquet, then its wall time and its own peak RSS as JSON.
CHILD = """
import json, sys, time
from pathlib import Path
import duckdb
source, target, mode, temp = sys.argv[1:5]
if mode == "duckdb":
    conn = duckdb.connect()
    sql = f"COPY (SELECT * FROM read_csv('{source}')) TO '{target}' (FORMAT parquet)"
    copy = lambda: conn.execute(sql)
else:
    from toucan.data.engine import load_config
    from toucan.etl.readers import FileOptions, copy_to_parquet
    from toucan.settings import Settings
    conn = duckdb.connect(config=load_config(Settings().duckdb_memory_mb, Path(temp)))
    copy = lambda: copy_to_parquet(conn, Path(source), Path(target), Path(source).name, FileOptions())
conn.execute("SET enable_progress_bar = false")
start, cpu = time.perf_counter(), time.process_time()
copy()
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
rows = conn.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's RSS (kept across exec).
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
peak = int(hwm.split()[1]) / 1024
print(json.dumps({"wall": wall, "cpu": cpu, "rows": rows, "peak_mib": peak}))
"""


def make_csv(directory: Path, rows: int) -> Path:
    path = directory / f"sales_{rows}.csv"
    if not path.exists():
        tmp = path.with_suffix(".csv.tmp")
        with duckdb.connect() as conn:
            conn.execute("SET enable_progress_bar = false")
            conn.execute(GENERATE_CSV.format(rows=rows, path=tmp))
        tmp.rename(path)
    return path


def duckdb_alone(csv: Path, workdir: Path, mode: str) -> dict[str, Any]:
    """CSV → Parquet in a child process: `duckdb` (DuckDB's defaults) or `reader` (the stack's reader)."""
    target = workdir / f"alone-{mode}.parquet"
    target.unlink(missing_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(csv), str(target), mode, str(workdir / "duckdb-tmp")],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("TOUCAN_")},
    )
    if out.returncode != 0:
        raise SystemExit(f"CSV → Parquet ({mode}) failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    result["parquet_mib"] = target.stat().st_size / 2**20
    target.unlink()
    return result


# --- memory of a group of processes ----------------------------------------------------------------


def _hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _reset_hwm(pid: int) -> None:
    with suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # 5: reset the peak RSS (VmHWM)


def _cpu_seconds(process: psutil.Process) -> float:
    with suppress(psutil.Error):
        times = process.cpu_times()
        return float(times.user + times.system)
    return 0.0


class PeakRss(threading.Thread):
    """Peak resident memory of the processes `group()` returns, from `reset()` to `peak()`;
    and the CPU time they used meanwhile (`cpu()`), which the machine's load barely changes."""

    def __init__(self, group: Callable[[], list[psutil.Process]]) -> None:
        super().__init__(daemon=True)
        self.group = group
        self.total = 0.0
        self.largest = 0.0
        self.cpu_at_reset: dict[int, float] = {}
        self.largest_at_reset = 0.0  # the largest process's RSS when the measure started
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            sizes = []
            for process in self.group():
                with suppress(psutil.Error):
                    sizes.append(process.memory_info().rss / 2**20)
            self.total = max(self.total, sum(sizes))
            self.largest = max([self.largest, *sizes])

    def reset(self) -> None:
        processes = self.group()
        for process in processes:
            _reset_hwm(process.pid)
        self.cpu_at_reset = {process.pid: _cpu_seconds(process) for process in processes}
        self.largest_at_reset = max([0.0, *(_hwm_mib(process.pid) for process in processes)])
        self.total = self.largest = 0.0

    def cpu(self) -> float:
        """CPU seconds (user + system) of the group since `reset()`."""
        return sum(_cpu_seconds(p) - self.cpu_at_reset.get(p.pid, 0.0) for p in self.group())

    def peak(self) -> tuple[float, float]:
        """(sum of the group, sampled; largest single process, exact where it still runs)."""
        largest = max([self.largest, *(_hwm_mib(p.pid) for p in self.group())])
        return self.total, largest


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


# --- the stack ----------------------------------------------------------------------------------------


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def embedded_stack(data_dir: Path) -> Iterator[tuple[str, psutil.Process]]:
    """`toucan-ctl serve` with its embedded worker; yields the API's base URL and the serve process."""
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCAN_")}
    env.update(
        TOUCAN_DATA_DIR=str(data_dir),
        TOUCAN_PORT=str(port),
        TOUCAN_SUPER_ADMIN_PASSWORD=PASSWORD,
        TOUCAN_LOG_LEVEL="WARNING",
    )
    exe = shutil.which("toucan-ctl", path=str(Path(sys.executable).parent)) or "toucan-ctl"
    log_path = data_dir.with_name(data_dir.name + ".log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([exe, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/_api"
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
        yield base, psutil.Process(proc.pid)
    finally:
        children = _descendants(psutil.Process(proc.pid))[1:]
        proc.terminate()
        proc.wait(timeout=60)
        psutil.wait_procs(children, timeout=30)  # the worker and its scheduler still write to the data dir


class Toucan:
    """A logged-in client of the stack."""

    def __init__(self, base: str, client: httpx.Client) -> None:
        self.base = base
        self.client = client
        token = client.post(f"{base}/login", json={"username": "admin", "password": PASSWORD}).json()["token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.client.request(method, f"{self.base}{path}", headers=headers, **kwargs)
        if response.status_code >= 400:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:1000]}")
        result: dict[str, Any] = response.json() if response.content else {}
        return result

    def create_app(self, app: str, etl: dict[str, Any]) -> None:
        self.call("POST", "/small-apps", json={"id": app, "name": app})
        self.call("PUT", f"/{app}/config/etl", json=etl)

    def upload(self, app: str, filename: str, path: Path) -> tuple[float, float]:
        """Chunked upload; returns (transfer s, complete s)."""
        size = path.stat().st_size
        start = time.perf_counter()
        upload_id = self.call("POST", f"/{app}/data/sources/uploads", json={"filename": filename, "size": size})["id"]
        offset = 0
        with open(path, "rb") as handle:
            while offset < size:
                handle.seek(offset)
                chunk = handle.read(CHUNK_BYTES)
                state = self.call(
                    "PATCH",
                    f"/{app}/data/sources/uploads/{upload_id}",
                    content=chunk,
                    headers={"Upload-Offset": str(offset), "Content-Type": "application/octet-stream"},
                )
                offset = state["offset"]
        transferred = time.perf_counter()
        self.call("POST", f"/{app}/data/sources/uploads/{upload_id}/complete")
        return transferred - start, time.perf_counter() - transferred

    def preprocess(self, app: str) -> tuple[dict[str, Any], float]:
        """Queue a preprocess of staging and wait for its end; returns the job and the client-side wall."""
        start = time.perf_counter()
        job_id = self.call("POST", f"/{app}/data/preprocess?stage=staging")["id"]
        while True:
            job = self.call("GET", f"/jobs/{job_id}")
            if job["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.5)  # polls cost the API CPU that the job, on a small machine, shares
        wall = time.perf_counter() - start
        if job["state"] != "succeeded":
            raise SystemExit(f"preprocess of {app} failed: {job['error']}\n{job.get('traceback') or ''}")
        return job, wall

    def domain_rows(self, app: str) -> dict[str, int]:
        metadata = self.call("GET", f"/{app}/metadata?stage=staging")
        return {d["name"]: d["rows"] for d in metadata["domains"]}


def _job_seconds(job: dict[str, Any]) -> float:
    return (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()


def _worker_group(serve: psutil.Process) -> Callable[[], list[psutil.Process]]:
    """The embedded worker (`python -m toucan.cli worker`) and its children (Celery pool, beat)."""

    def group() -> list[psutil.Process]:
        try:
            children = serve.children()
        except psutil.Error:
            return []
        processes: list[psutil.Process] = []
        for child in children:
            try:
                if "worker" in child.cmdline():
                    processes.extend(_descendants(child))
            except psutil.Error:
                pass
        return processes

    return group


# --- PostgreSQL ---------------------------------------------------------------------------------------


@contextmanager
def pg_table(rows: int) -> Iterator[str]:
    """A `rows`-row table in the local PostgreSQL's `test` db, dropped on the way out."""
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        try:
            conn.execute(GENERATE_PG.format(schema=PG_SCHEMA, rows=rows))
            conn.execute(f"VACUUM ANALYZE {PG_SCHEMA}.orders")
            yield f"{PG_SCHEMA}.orders"
        finally:
            conn.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")


def pg_copy(table: str) -> tuple[float, int]:
    """`COPY (SELECT * FROM table) TO STDOUT` through psycopg; returns (wall s, bytes)."""
    with psycopg.connect(PG_DSN) as conn, conn.cursor() as cursor:
        start = time.perf_counter()
        size = 0
        with cursor.copy(f"COPY (SELECT * FROM {table}) TO STDOUT") as copy:
            for block in copy:
                size += len(block)
        return time.perf_counter() - start, size


# --- the run ------------------------------------------------------------------------------------------


def _load() -> float:
    """The machine's 1-minute load average when a measure starts (other work shares the machine)."""
    return round(os.getloadavg()[0], 1)


def upload_once(toucan: Toucan, api: PeakRss, csv: Path) -> dict[str, Any]:
    load = _load()
    api.reset()
    transfer, complete = toucan.upload("bench", "sales.csv", csv)
    return {
        "wall": transfer + complete,
        "transfer": transfer,
        "check": complete,
        "cpu": api.cpu(),
        "peak": api.peak()[1],
        "load": load,
    }


def preprocess_once(toucan: Toucan, worker: PeakRss, app: str, domain: str, rows: int) -> dict[str, Any]:
    load = _load()
    worker.reset()
    before = worker.largest_at_reset
    job, client_wall = toucan.preprocess(app)
    tree, largest = worker.peak()
    cpu = worker.cpu()
    loaded = toucan.domain_rows(app)
    if loaded != {domain: rows}:
        raise SystemExit(f"{app}: the domains hold {loaded}, not {rows} rows of {domain}")
    queued = datetime.fromisoformat(job["started_at"]) - datetime.fromisoformat(job["created_at"])
    return {
        "wall": _job_seconds(job),
        "client": client_wall,
        "queued": queued.total_seconds(),
        "cpu": cpu,
        "before": before,
        "peak": largest,
        "tree": tree,
        "load": load,
    }


def measure(rows: int, pg_rows: int, runs: int, workdir: Path, csv: Path | None) -> dict[str, list[dict[str, Any]]]:
    """Every measure `runs` times, taking turns, so that all see the same machine load."""
    samples: dict[str, list[dict[str, Any]]] = {key: [] for key in MEASURES}
    data_dir = workdir / "stack"
    data_dir.mkdir()
    with ExitStack() as stack:
        client = stack.enter_context(httpx.Client(timeout=3600))
        base, serve = stack.enter_context(embedded_stack(data_dir))
        api = PeakRss(lambda: [serve])
        worker = PeakRss(_worker_group(serve))
        for sampler in (api, worker):
            sampler.start()
            stack.callback(sampler.stop.set)
        toucan = Toucan(base, client)
        # Warm-up, and the worker's readiness signal: a one-row file through a preprocess.
        warm = workdir / "warm-up.csv"
        warm.write_text("a,b\n1,x\n")
        toucan.create_app("warm-up", {"DATA_SOURCES": [{"domain": "w", "file": "w.csv"}]})
        toucan.upload("warm-up", "w.csv", warm)
        toucan.preprocess("warm-up")
        if csv is not None:
            toucan.create_app("bench", {"DATA_SOURCES": [{"domain": "sales", "file": "sales.csv"}]})
        table = stack.enter_context(pg_table(pg_rows)) if pg_rows else None
        if table is not None:
            pg_copy(table)  # warm-up: the table in PostgreSQL's buffers and the OS cache
            provider = {"name": "pg", "type": "postgres", "host": "127.0.0.1", "port": 5432, "user": "postgres"}
            toucan.create_app(
                "bench-pg",
                {
                    "DATA_PROVIDERS": [{**provider, "database": "test"}],
                    "DATA_SOURCES": [{"domain": "orders", "name": "pg", "table": table}],
                },
            )
        for run in range(runs):
            print(f"run {run + 1} of {runs}")
            if csv is not None:
                for mode in ("duckdb", "reader"):
                    load = _load()
                    found = duckdb_alone(csv, workdir, mode)
                    if found["rows"] != rows:
                        raise SystemExit(f"{mode}: read {found['rows']} rows, not {rows}")
                    samples[mode].append({**found, "peak": found["peak_mib"], "load": load})
                samples["upload"].append(upload_once(toucan, api, csv))
                samples["preprocess"].append(preprocess_once(toucan, worker, "bench", "sales", rows))
            if table is not None:
                samples["pg preprocess"].append(preprocess_once(toucan, worker, "bench-pg", "orders", pg_rows))
                load = _load()
                wall, size = pg_copy(table)
                samples["pg copy"].append({"wall": wall, "bytes": size, "load": load})
    return samples


# What each measure is, its case, and the fields of its samples the JSON keeps (median, or max for peaks).
MEASURES = {
    "duckdb": ("CSV", "DuckDB alone: read_csv → Parquet, defaults"),
    "reader": ("CSV", "the stack's reader alone (as the job reads it)"),
    "upload": ("CSV", "upload through the chunked API"),
    "preprocess": ("CSV", "preprocess job"),
    "pg preprocess": ("PG", "preprocess job, postgres source"),
    "pg copy": ("PG", "psycopg COPY (SELECT *) TO STDOUT"),
}


def _median(samples: list[dict[str, Any]], key: str) -> float:
    return statistics.median(sample[key] for sample in samples)


def summarise(samples: dict[str, list[dict[str, Any]]], rows: int, pg_rows: int, csv_mb: float) -> list[dict[str, Any]]:
    """One row per measure: median wall time, every run's, and the largest peak RSS."""
    out: list[dict[str, Any]] = []
    for key, found in samples.items():
        if not found:
            continue
        case, system = MEASURES[key]
        count = rows if case == "CSV" else pg_rows
        wall = _median(found, "wall")
        row: dict[str, Any] = {
            "case": f"CSV {csv_mb:.0f} MB → domain" if case == "CSV" else "PostgreSQL table → domain",
            "system": system,
            "rows": count,
            "wall s": round(wall, 2),
            "wall s, every run": [round(sample["wall"], 2) for sample in found],
            "wall s, best": round(min(sample["wall"] for sample in found), 2),
            "rows/s": round(count / wall),
            "load, every run": [sample["load"] for sample in found],
        }
        if "cpu" in found[0]:
            row["CPU s"] = round(_median(found, "cpu"), 2)
        if "peak" in found[0]:
            row["peak RSS MiB"] = round(max(sample["peak"] for sample in found), 1)
        if "tree" in found[0]:
            row["worker tree peak RSS MiB"] = round(max(sample["tree"] for sample in found), 1)
            row["client wall s"] = round(_median(found, "client"), 2)
            row["queued s"] = round(_median(found, "queued"), 2)
            row["job process RSS at start MiB"] = round(_median(found, "before"), 1)
        if key == "upload":
            row["transfer s"] = round(_median(found, "transfer"), 2)
            row["check s"] = round(_median(found, "check"), 2)
            row["peak RSS of"] = "API process"
        if key in ("preprocess", "pg preprocess"):
            row["peak RSS of"] = "job process; worker tree: sum of its processes"
        out.append(row)
    by_key = dict(zip((k for k in samples if samples[k]), out, strict=True))
    if "duckdb" in by_key:
        duckdb_wall = _median(samples["duckdb"], "wall")
        for key in ("reader", "preprocess"):
            by_key[key]["÷ DuckDB"] = round(_median(samples[key], "wall") / duckdb_wall, 2)
        job = by_key["preprocess"]
        job["target"] = f"<= {TARGET_RATIO} x DuckDB, worker < 1 GB"
        job["met"] = job["÷ DuckDB"] <= TARGET_RATIO and job["worker tree peak RSS MiB"] < TARGET_PEAK_MIB
    if "pg copy" in by_key:
        copy_wall = _median(samples["pg copy"], "wall")
        by_key["pg preprocess"]["÷ COPY"] = round(_median(samples["pg preprocess"], "wall") / copy_wall, 2)
        by_key["pg copy"]["copy MB"] = round(samples["pg copy"][0]["bytes"] / 1e6, 1)
    return out


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    """A row of the printed table (the JSON keeps every field)."""
    wall = f"{row['wall s']} ({' '.join(str(w) for w in row['wall s, every run'])})"
    if "transfer s" in row:
        wall += f"; transfer {row['transfer s']} + check {row['check s']}"
    peak = str(row.get("peak RSS MiB", ""))
    if "worker tree peak RSS MiB" in row:
        peak += f" (tree {row['worker tree peak RSS MiB']})"
    ratio = next((f"{row[k]} x {k[2:]}" for k in ("÷ DuckDB", "÷ COPY") if k in row), "")
    return {
        "what": f"{row['case'].split()[0]}: {row['system']}",
        "rows": f"{row['rows']:,}",
        "wall s: median (runs)": wall,
        "rows/s": row["rows/s"],
        "CPU s": row.get("CPU s", ""),
        "peak RSS MiB": peak,
        "ratio": ratio,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the CSV (10 M ≈ 1 GB; 0: skip)")
    parser.add_argument("--pg-rows", type=int, default=1_000_000, help="rows of the PostgreSQL table (0: skip)")
    parser.add_argument("--runs", type=int, default=3, help="runs of every measure, taking turns")
    args = parser.parse_args()
    workdir = HERE.parent / "results" / "tmp" / "etl"
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    csv = make_csv(workdir, args.rows) if args.rows else None
    csv_mb = csv.stat().st_size / 1e6 if csv else 0.0
    if csv is not None:
        print(f"CSV: {csv} ({csv_mb:.0f} MB, {args.rows} rows; {time.perf_counter() - started:.1f} s)")
    with tempfile.TemporaryDirectory(prefix="run-", dir=workdir) as run_dir:  # this run's own files
        samples = measure(args.rows, args.pg_rows, args.runs, Path(run_dir), csv)
    rows = summarise(samples, args.rows, args.pg_rows, csv_mb)
    print_table("Data in: CSV and PostgreSQL → domain, beside DuckDB and COPY", [_summary(row) for row in rows])
    command = f"python bench/etl/run.py --rows {args.rows} --pg-rows {args.pg_rows} --runs {args.runs}"
    default = (args.rows, args.pg_rows) == (10_000_000, 1_000_000)
    name = "etl" if default else f"etl_{args.rows}_{args.pg_rows}"
    print(f"wrote {write_result(name, command, rows)}")


if __name__ == "__main__":
    main()
