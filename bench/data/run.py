"""Data benchmark: `POST /data` through HTTP (uncached, cached) beside the same SQL in DuckDB.

    .venv/bin/python bench/data/run.py --rows 1000000 [--rows 10000000] [--requests 40]

Starts `toucan-ctl serve --production` (2 gunicorn workers) twice — result cache off, then
on — on a synthetic sales domain, runs six dashboard pipelines, and measures:
- p50/p95 latency of `POST /data`, uncached and cached, one sequential client;
- the compiled SQL run directly in DuckDB on the same Parquet file (same process as the
  benchmark, so no HTTP);
- cached throughput with wrk (when installed), 2 threads x 16 connections;
- the largest resident memory of a worker during the runs.
Prints a table and writes bench/results/data.json.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from _common import print_table, write_result  # noqa: E402
from pipelines import GENERATE_SALES, GENERATE_TARGETS, PIPELINES  # noqa: E402

from toucan.data.domains import sql_string  # noqa: E402
from toucan.data.query import compile_request  # noqa: E402

PASSWORD = "bench-password-1"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_data(directory: Path, rows: int) -> tuple[Path, Path]:
    sales = directory / f"sales_{rows}.parquet"
    targets = directory / "targets.parquet"
    if not sales.exists():
        duckdb.sql(GENERATE_SALES.format(rows=rows, path=sales))
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
        TOUCAN_UPLOAD_MAX_BYTES=str(8 * 1024**3),
    )
    exe = shutil.which("toucan-ctl", path=str(Path(sys.executable).parent)) or "toucan-ctl"
    proc = subprocess.Popen(
        [exe, "serve", "--production"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
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


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def time_http(
    client: httpx.Client, base: str, headers: dict[str, str], pipeline: list[dict[str, Any]], n: int
) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.post(f"{base}/bench/data", json={"query": pipeline, "limit": 1000}, headers=headers)
        samples.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"POST /data failed: {response.status_code} {response.text[:500]}")
    return samples


def time_duckdb(sales: Path, targets: Path, pipeline: list[dict[str, Any]], n: int) -> list[float]:
    files = {"sales": sales, "targets": targets}
    compiled = compile_request(
        pipeline,
        resolve_domain=lambda d: f"read_parquet({sql_string(str(files[d]))})",
        row_filters={},
    )
    conn = duckdb.connect(config={"threads": 2})
    sql = f"SELECT * FROM ({compiled.sql}) q LIMIT 1000"
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        conn.sql(sql, params=compiled.params).to_arrow_table()
        samples.append(time.perf_counter() - start)
    conn.close()
    return samples


def wrk_throughput(base: str, headers: dict[str, str], pipeline: list[dict[str, Any]]) -> float | None:
    if not shutil.which("wrk"):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        body = json.dumps({"query": pipeline, "limit": 1000}).replace("\\", "\\\\").replace('"', '\\"')
        script.write(
            f'wrk.method = "POST"\nwrk.body = "{body}"\n'
            f'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "{headers["Authorization"]}"\n'
        )
    out = subprocess.run(
        ["wrk", "-t2", "-c16", "-d10s", "-s", script.name, f"{base}/bench/data"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    os.unlink(script.name)
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    return None


def run(rows: int, requests: int, workdir: Path) -> list[dict[str, Any]]:
    sales, targets = make_data(workdir, rows)
    results: dict[str, dict[str, Any]] = {name: {"rows": rows, "pipeline": name} for name in PIPELINES}
    peak = 0.0
    for cache_mb in (0, 256):
        with (
            tempfile.TemporaryDirectory(dir=workdir) as data_dir,
            server(Path(data_dir), cache_mb) as (base, proc),
        ):
            sampler = RssSampler(proc.pid)
            sampler.start()
            with httpx.Client(timeout=120) as client:
                token = client.post(f"{base}/login", json={"username": "admin", "password": PASSWORD}).json()["token"]
                headers = {"Authorization": f"Bearer {token}"}
                client.post(
                    f"{base}/small-apps", json={"id": "bench", "name": "Bench"}, headers=headers
                ).raise_for_status()
                for name, path in (("sales", sales), ("targets", targets)):
                    with open(path, "rb") as handle:
                        client.put(
                            f"{base}/bench/domain/{name}?stage=staging&format=parquet",
                            content=handle,
                            headers=headers,
                        ).raise_for_status()
                client.post(f"{base}/bench/data/release", headers=headers).raise_for_status()
                for name, pipeline in PIPELINES.items():
                    time_http(client, base, headers, pipeline, 2)  # warm-up: both workers, OS cache
                    p50, p95 = _percentiles(time_http(client, base, headers, pipeline, requests))
                    key = "cached" if cache_mb else "uncached"
                    results[name][f"{key} p50 ms"] = round(p50, 1)
                    results[name][f"{key} p95 ms"] = round(p95, 1)
                if cache_mb:
                    rps = wrk_throughput(base, headers, PIPELINES["filter+aggregate+sort"])
                    results["filter+aggregate+sort"]["cached req/s (wrk)"] = round(rps) if rps else "wrk missing"
            sampler.stop.set()
            sampler.join()
            peak = max(peak, sampler.peak)
    for name, pipeline in PIPELINES.items():
        p50, p95 = _percentiles(time_duckdb(sales, targets, pipeline, requests))
        results[name]["duckdb p50 ms"] = round(p50, 1)
        results[name]["duckdb p95 ms"] = round(p95, 1)
        results[name]["uncached / duckdb"] = round(results[name]["uncached p50 ms"] / max(p50, 0.001), 2)
        results[name]["peak worker RSS MiB"] = round(peak, 1)
    return list(results.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    workdir = HERE.parent / "results" / "tmp"
    workdir.mkdir(parents=True, exist_ok=True)
    rows_list = args.rows or [1_000_000]
    all_rows: list[dict[str, Any]] = []
    for rows in rows_list:
        all_rows.extend(run(rows, args.requests, workdir))
    print_table("POST /data vs DuckDB (ms)", all_rows)
    command = "python bench/data/run.py " + " ".join(f"--rows {r}" for r in rows_list) + f" --requests {args.requests}"
    name = "data" if rows_list == [1_000_000] else "data_" + "_".join(str(r) for r in rows_list)
    print(f"wrote {write_result(name, command, all_rows)}")


if __name__ == "__main__":
    main()
