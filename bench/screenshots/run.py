"""Screenshots: what a capture costs once its page is ready, captures per second with the
cap, memory of the warm browser, against a fixed-sleep baseline (3 s for the page + 5 s for
the charts, as peers wait), all in one run on the embedded stack with the demo app.

    .venv/bin/python bench/screenshots/run.py [--captures 30] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import contextlib

from _common import print_table, write_result

from toucan.auth.capture_tokens import issue_capture_token
from toucan.screenshots.browser import BrowserPool, find_browser
from toucan.screenshots.capture import capture, capture_url, with_token

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-screenshots-secret"
STORY = "revenue-by-product"  # one bar chart
APP = "demo-sales"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_stack(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCAN_")}
    port = _port()
    env.update(
        TOUCAN_DATA_DIR=str(data_dir),
        TOUCAN_SECRET_KEY=SECRET,
        TOUCAN_SUPER_ADMIN_PASSWORD="bench-admin-pw",
        TOUCAN_PORT=str(port),
        TOUCAN_EMBEDDED_WORKER="false",
        TOUCAN_READY_CHECKS_JOBS="false",
        TOUCAN_LOG_LEVEL="WARNING",
    )
    ctl = [sys.executable, "-m", "toucan.cli"]
    subprocess.run([*ctl, "demo", "--users-password", "bench-demo-pw"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([*ctl, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/_api/ready", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the stack did not start")


def viewer_id(data_dir: Path) -> int:
    import sqlite3

    with sqlite3.connect(data_dir / "toucan.sqlite") as conn:
        row = conn.execute("SELECT id FROM users WHERE username = 'demo-viewer'").fetchone()
    return int(row[0])


def url_for(base: str, user_id: int) -> str:
    variables: dict[str, object] = {"country": "Spain"}
    token = issue_capture_token(
        SECRET, user_id=user_id, app=APP, stage="production", page=f"story:{STORY}", ttl=600, variables=variables
    )
    return with_token(capture_url(base, APP, STORY, "production", variables), token)


async def sleeping_capture(browser: Any, url: str) -> float:
    """The peers' way: open, sleep 3 s for the page and 5 s for the charts, shoot."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = await context.new_page()
        started = time.perf_counter()
        await page.goto(url)
        await page.wait_for_timeout(3000)
        await page.wait_for_timeout(5000)
        await page.screenshot(full_page=True)
        return time.perf_counter() - started
    finally:
        await context.close()


def rss_mib(pids: list[int]) -> float:
    import psutil

    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += psutil.Process(pid).memory_full_info().pss
    return round(total / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--captures", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--baseline", type=int, default=4)
    args = parser.parse_args()
    executable = find_browser()
    if executable is None:
        raise SystemExit("no chromium-headless-shell or chromium")
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_stack(Path(tmp))
        try:
            user = viewer_id(Path(tmp))
            pool = BrowserPool(executable, args.concurrency)
            started = time.perf_counter()
            pool.warm()
            warm_s = time.perf_counter() - started
            for _ in range(3):  # the page's assets into the cache, the data answers too
                pool.run(partial(capture, url=url_for(base, user), fmt="png", timeout=30))
            sequential = [
                pool.run(partial(capture, url=url_for(base, user), fmt="png", timeout=30)) for _ in range(args.captures)
            ]
            after_ready = sorted(c.capture_ms for c in sequential)
            render = sorted(c.ready_ms for c in sequential)
            pdf = [
                pool.run(partial(capture, url=url_for(base, user), fmt="pdf", timeout=30, title="t")) for _ in range(5)
            ]
            # Throughput: every capture asked at once, the cap lets `concurrency` run.
            done: list[float] = []
            urls = [url_for(base, user) for _ in range(args.captures)]
            t0 = time.perf_counter()
            threads = [
                threading.Thread(
                    target=lambda u=u: done.append(pool.run(partial(capture, url=u, fmt="png", timeout=60)).capture_ms)
                )
                for u in urls
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            burst_s = time.perf_counter() - t0
            memory = rss_mib(pool.browser_pids())
            # The fixed-sleep baseline, on the same browser and cap.
            t1 = time.perf_counter()
            sleepers = [
                threading.Thread(target=lambda u=u: pool.run(partial(sleeping_capture, url=u)))
                for u in [url_for(base, user) for _ in range(args.baseline)]
            ]
            for thread in sleepers:
                thread.start()
            for thread in sleepers:
                thread.join()
            baseline_s = time.perf_counter() - t1
            pool.close()
        finally:
            proc.terminate()
            proc.wait(15)

    def pct(values: list[float], q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 1)

    rows = [
        {"measure": "browser start (first capture's extra)", "value": f"{warm_s * 1000:.0f} ms"},
        {
            "measure": "PNG after ready (median / p95)",
            "value": f"{statistics.median(after_ready):.0f} / {pct(after_ready, 0.95):.0f} ms",
        },
        {
            "measure": "page render to ready (median / p95)",
            "value": f"{statistics.median(render):.0f} / {pct(render, 0.95):.0f} ms",
        },
        {"measure": "PDF after ready (median)", "value": f"{statistics.median(c.capture_ms for c in pdf):.0f} ms"},
        {
            "measure": f"captures/s, {args.captures} at once, cap {args.concurrency}",
            "value": f"{args.captures / burst_s:.2f}/s",
        },
        {"measure": "memory of the warm browser (PSS, all its processes)", "value": f"{memory} MiB"},
        {
            "measure": f"fixed-sleep baseline: {args.baseline} at once, cap {args.concurrency}",
            "value": f"{args.baseline / baseline_s:.2f}/s ({baseline_s / args.baseline * args.concurrency:.1f} s each)",
        },
    ]
    print_table("Screenshots (demo app, one bar chart, 1440x900)", rows)
    command = "bench/screenshots/run.py " + " ".join(sys.argv[1:])
    print(write_result("screenshots", command, rows))


if __name__ == "__main__":
    main()
