"""Start-up benchmark: time from `toucan-ctl serve` to `/ready` = 200, and memory per idle worker.

    .venv/bin/python bench/startup.py [--runs 5]

Prints a table and writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_result


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(data_dir: Path, production: bool) -> tuple[float, subprocess.Popen[bytes], str]:
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCAN_")}
    env.update(
        TOUCAN_DATA_DIR=str(data_dir),
        TOUCAN_PORT=str(port),
        TOUCAN_SUPER_ADMIN_PASSWORD="bench-password",
        TOUCAN_GUNICORN_WORKERS="2",
        TOUCAN_LOG_LEVEL="WARNING",
        # No job worker runs beside this server: /ready answers for the API alone.
        TOUCAN_READY_CHECKS_JOBS="false",
    )
    exe = shutil.which("toucan-ctl", path=str(Path(sys.executable).parent)) or "toucan-ctl"
    args = [exe, "serve"] + (["--production"] if production else [])
    url = f"http://127.0.0.1:{port}" + ("/ready" if production else "/_api/ready")
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return time.perf_counter() - start, proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        time.sleep(0.01)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _worker_rss_mib(proc: subprocess.Popen[bytes], production: bool) -> list[float]:
    parent = psutil.Process(proc.pid)
    workers = parent.children() if production else [parent]
    return [p.memory_info().rss / 2**20 for p in workers]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    rows = []
    for production in (False, True):
        mode = "production (gunicorn, 2 workers)" if production else "embedded"
        first, warm, rss = [], [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                elapsed, proc, url = _start(Path(tmp), production)  # empty data dir: migrates
                _stop(proc)
                first.append(elapsed)
                elapsed, proc, url = _start(Path(tmp), production)  # existing data dir
                for _ in range(20):  # a few requests, then idle
                    httpx.get(url)
                time.sleep(1)
                rss.extend(_worker_rss_mib(proc, production))
                _stop(proc)
                warm.append(elapsed)
        rows.append(
            {
                "mode": mode,
                "first start to ready (s, median)": round(statistics.median(first), 3),
                "start to ready (s, median)": round(statistics.median(warm), 3),
                "start to ready (s, max)": round(max(warm), 3),
                "idle RSS per worker (MiB, max)": round(max(rss), 1),
            }
        )
    print_table("toucan-ctl serve → /ready", rows)
    path = write_result("startup", f"python bench/startup.py --runs {runs}", rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
