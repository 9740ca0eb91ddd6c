"""Frontend benchmark: gzipped JS + CSS of the login and store routes, and the time from
navigation to the readiness marker on the demo app's home (4 charts) over 100 k rows.

    .venv/bin/python bench/frontend/run.py [--rows 100000] [--runs 10]

Needs frontend/dist (`make frontend`) and /usr/bin/chromium. Writes bench/results/frontend.json.
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from _common import print_table, write_result  # noqa: E402

from tests.helpers import TOUCAN_CTL, chromium, clean_env, running_server  # noqa: E402

DIST = ROOT / "frontend" / "dist"


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), 9))


def route_bytes() -> dict[str, int]:
    """Gzipped bytes the login and store routes load: the entry chunk, CSS, and the route chunk."""
    html = (DIST / "index.html").read_text()
    entry = [DIST / p.lstrip("/") for p in re.findall(r'(?:src|href)="(/assets/[^"]+\.(?:js|css))"', html)]
    base = sum(gz(p) for p in entry) + gz(DIST / "scripts" / "tc-params.js")
    out = {}
    for route in ("LoginView", "StoreView"):
        chunk = next((DIST / "assets").glob(f"{route}-*.js"))
        out[route] = base + gz(chunk)
    return out


def readiness(rows: int, runs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as data_dir:
        env = clean_env(TOUCAN_DATA_DIR=data_dir, TOUCAN_SUPER_ADMIN_PASSWORD="bench-password-1")
        subprocess.run([*TOUCAN_CTL, "demo", "--rows", str(rows)], env=env, check=True, capture_output=True)
        with running_server(env) as (base, _proc), chromium() as browser:
            token = httpx.post(base + "/_api/login", json={"username": "admin", "password": "bench-password-1"}).json()["token"]
            samples = []
            for i in range(runs + 1):
                # A fresh context each time: no HTTP cache, like a first visit (the server's result cache stays warm after the first run).
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_init_script(f"localStorage.setItem('toucan.token', '{token}')")
                page = context.new_page()
                start = time.perf_counter()
                page.goto(base + "/apps/demo-sales")
                page.wait_for_selector("body[data-render-complete='true']", timeout=30000)
                if i:  # the first run warms the server up
                    samples.append(time.perf_counter() - start)
                context.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    sizes = route_bytes()
    samples = readiness(args.rows, args.runs)
    rows = [
        {"measure": "login route JS+CSS (gzip KB)", "value": round(sizes["LoginView"] / 1024, 1), "target": "< 350"},
        {"measure": "store route JS+CSS (gzip KB)", "value": round(sizes["StoreView"] / 1024, 1), "target": "< 350"},
        {"measure": f"navigation → ready, home with 4 charts, {args.rows} rows (s, p50)", "value": round(statistics.median(samples), 3), "target": "< 1.5"},
        {"measure": "navigation → ready (s, max)", "value": round(max(samples), 3), "target": ""},
    ]
    print_table("frontend", rows)
    print(f"wrote {write_result('frontend', f'python bench/frontend/run.py --rows {args.rows} --runs {args.runs}', rows)}")


if __name__ == "__main__":
    main()
