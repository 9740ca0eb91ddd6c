"""Cached `/data` throughput: `wrk` against `toucan-ctl serve --production` with 2 workers.

    .venv/bin/python bench/data/throughput.py [--rows 1000000] [--duration 10] [--connections 32]
        [--metadata sqlite|postgresql ...] [--redis-url redis://127.0.0.1:6379/13]

Starts the production server (gunicorn, TOUCAN_GUNICORN_WORKERS=2; result cache in memory, or
in Redis with --redis-url) with SQLite metadata, then with PostgreSQL metadata
(TOUCAN_BENCH_POSTGRES_URL, by default the local server; a fresh database is created and
dropped), loads the synthetic 1 M-row sales domain, warms the cache, then runs wrk with a Lua
script that POSTs each pipeline with a Bearer token, as the super admin and as a viewer whose
rows a data-permission rule filters. A non-2xx answer fails the bench; socket errors
(timeouts) are counted. Each run also records the cores the server's processes and wrk kept
busy, and the load average before it (the machine may be shared).

wrk shares the 2 cores with the server. Each case runs twice: wrk free to use both cores
(`-t2`), then wrk pinned to core 1 with `taskset -c 1` (`-t1`), the server's workers not
pinned. Prints a table and writes bench/results/throughput.json (throughput_redis.json).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from _common import print_table, write_result  # noqa: E402
from pipelines import PIPELINES  # noqa: E402
from run import PASSWORD, _port, make_data  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_PIPELINES = ("filter+aggregate+sort", "pivot")
VIEWER = "bench-viewer"
VIEWER_PASSWORD = "bench-viewer-password"
# The viewer sees one country of `sales`: the cached answer depends on the permission rule.
RULES = {
    "DATA_PERMISSIONS": [
        {
            "domain": "sales",
            "scope": "ALL_USERS",
            "effect": "CUSTOM",
            "condition": {"column": "country", "operator": "eq", "value": "{{ user.attributes.country }}"},
        },
    ]
}

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {authorization}

done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT {{\\"requests\\": %d, \\"seconds\\": %.6f, \\"p50_us\\": %d, \\"p99_us\\": %d, "
    .. "\\"non_2xx\\": %d, \\"socket_errors\\": %d}}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def _lua_string(value: str) -> str:
    # A Lua long string cannot be escaped out of; JSON never contains "]==]".
    assert "]==]" not in value
    return f"[==[{value}]==]"


@contextmanager
def metadata_database(kind: str, postgres_url: str) -> Iterator[str | None]:
    """None for SQLite (the default under the data dir), or a fresh PostgreSQL database."""
    if kind == "sqlite":
        yield None
        return
    name = f"toucan_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def production_server(
    data_dir: Path, database_url: str | None, redis_url: str | None
) -> Iterator[tuple[str, psutil.Process]]:
    """`toucan-ctl serve --production` with 2 workers and the in-process cache; yields its URL
    and the gunicorn master process."""
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCAN_")}
    env.update(
        TOUCAN_DATA_DIR=str(data_dir),
        TOUCAN_PORT=str(port),
        TOUCAN_SUPER_ADMIN_PASSWORD=PASSWORD,
        TOUCAN_GUNICORN_WORKERS="2",
        TOUCAN_CACHE_MAX_MB="256",
        TOUCAN_LOG_LEVEL="WARNING",
        # No job worker runs beside this server: /ready answers for the API alone.
        TOUCAN_READY_CHECKS_JOBS="false",
        TOUCAN_UPLOAD_MAX_BYTES=str(8 * 1024**3),
    )
    if database_url:
        env["TOUCAN_DATABASE_URL"] = database_url
    if redis_url:
        env["TOUCAN_REDIS_URL"] = redis_url
    exe = shutil.which("toucan-ctl", path=str(Path(sys.executable).parent)) or "toucan-ctl"
    log = data_dir / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([exe, "serve", "--production"], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(base + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise SystemExit("the server was not ready within 30 s")
        yield base, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def load_app(client: httpx.Client, base: str, sales: Path, targets: Path) -> dict[str, dict[str, str]]:
    """The bench app with both domains released and a permission rule; headers per caller."""
    token = client.post(f"{base}/login", json={"username": "admin", "password": PASSWORD}).json()["token"]
    admin = {"Authorization": f"Bearer {token}"}
    client.post(f"{base}/small-apps", json={"id": "bench", "name": "Bench"}, headers=admin).raise_for_status()
    for name, path in (("sales", sales), ("targets", targets)):
        with open(path, "rb") as handle:
            client.put(
                f"{base}/bench/domain/{name}?stage=staging&format=parquet", content=handle, headers=admin
            ).raise_for_status()
    client.post(f"{base}/bench/data/release", headers=admin).raise_for_status()
    client.put(f"{base}/bench/config/etl?stage=staging", json=RULES, headers=admin).raise_for_status()
    client.post(
        f"{base}/bench/config/operations", json={"operations": ["release_design"]}, headers=admin
    ).raise_for_status()
    client.post(
        f"{base}/users",
        json={
            "username": VIEWER,
            "password": VIEWER_PASSWORD,
            "privileges": {"bench": ["view"]},
            "attributes": {"country": "Country 3"},
        },
        headers=admin,
    ).raise_for_status()
    viewer = client.post(f"{base}/login", json={"username": VIEWER, "password": VIEWER_PASSWORD}).json()["token"]
    return {"admin": admin, "viewer": {"Authorization": f"Bearer {viewer}"}}


def warm(client: httpx.Client, base: str, headers: dict[str, str], body: dict[str, Any]) -> None:
    """Answer the request enough times that both workers hold it in their cache."""
    for _ in range(20):
        response = client.post(f"{base}/bench/data", json=body, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"POST /data failed: {response.status_code} {response.text[:500]}")


def _cpu_seconds(master: psutil.Process) -> float:
    """CPU time of the server's processes (master and workers) so far."""
    total = 0.0
    for process in (master, *master.children(recursive=True)):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def run_wrk(
    base: str,
    master: psutil.Process,
    headers: dict[str, str],
    body: dict[str, Any],
    duration: int,
    connections: int,
    pinned: bool,
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            WRK_SCRIPT.format(body=_lua_string(json.dumps(body)), authorization=_lua_string(headers["Authorization"]))
        )
    threads = 1 if pinned else 2
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "-s", script.name, f"{base}/bench/data"]
    if pinned:
        command = ["taskset", "-c", "1", *command]
    load = os.getloadavg()[0]
    server_before = _cpu_seconds(master)
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = _cpu_seconds(master) - server_before
    wrk_cpu = (wrk_after.ru_utime - wrk_before.ru_utime) + (wrk_after.ru_stime - wrk_before.ru_stime)
    match = re.search(r"^RESULT (\{.*\})$", out, re.MULTILINE)
    if match is None:
        raise SystemExit(f"no result from wrk:\n{out}")
    result: dict[str, Any] = json.loads(match.group(1))
    if result["non_2xx"]:
        raise SystemExit(f"wrk saw answers other than 200: {result}\n{out}")
    return {
        "wrk": " ".join(command[command.index("wrk") :]).replace(script.name, "post.lua"),
        "pinned": "wrk on core 1" if pinned else "no",
        "req/s": round(result["requests"] / result["seconds"]),
        "p50 ms": round(result["p50_us"] / 1000, 2),
        "p99 ms": round(result["p99_us"] / 1000, 2),
        "requests": result["requests"],
        "socket errors": result["socket_errors"],  # timeouts (> 2 s) included
        # Cores busy on average: the server's processes, wrk itself.
        "server cores": round(server_cpu / result["seconds"], 2),
        "wrk cores": round(wrk_cpu / result["seconds"], 2),
        "load before": round(load, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--metadata", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--postgres-url", default=os.environ.get("TOUCAN_BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--redis-url", help="result cache in Redis (TOUCAN_REDIS_URL) instead of in memory")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    workdir = HERE.parent / "results" / "tmp"
    workdir.mkdir(parents=True, exist_ok=True)
    sales, targets = make_data(workdir, args.rows)
    rows: list[dict[str, Any]] = []
    cache = "redis" if args.redis_url else "memory"
    for kind in args.metadata or ["sqlite", "postgresql"]:
        with (
            metadata_database(kind, args.postgres_url) as database_url,
            tempfile.TemporaryDirectory(dir=workdir) as data_dir,
            production_server(Path(data_dir), database_url, args.redis_url) as (base, master),
            httpx.Client(timeout=120) as client,
        ):
            callers = load_app(client, base, sales, targets)
            for name in BENCH_PIPELINES:
                body = {"query": PIPELINES[name], "limit": 1000}
                for caller, headers in callers.items():
                    warm(client, base, headers, body)
                    for pinned in (False, True):
                        result = run_wrk(base, master, headers, body, args.duration, args.connections, pinned)
                        rows.append({"metadata": kind, "cache": cache, "pipeline": name, "caller": caller, **result})
                        print(rows[-1], flush=True)
    shown = (
        "metadata",
        "cache",
        "pipeline",
        "caller",
        "pinned",
        "req/s",
        "p50 ms",
        "p99 ms",
        "server cores",
        "wrk cores",
    )
    print_table(
        f"Cached POST /data, {args.rows:,} rows, 2 gunicorn workers, wrk -c{args.connections} {args.duration} s",
        [{k: row[k] for k in shown} for row in rows],
    )
    command = (
        f"python bench/data/throughput.py --rows {args.rows} --duration {args.duration} "
        f"--connections {args.connections}"
        + "".join(f" --metadata {kind}" for kind in args.metadata or [])
        + (" --redis-url REDIS" if args.redis_url else "")
    )
    name = "throughput" if not args.redis_url else "throughput_redis"
    print(f"wrote {write_result(name, command, rows)}")


if __name__ == "__main__":
    main()
