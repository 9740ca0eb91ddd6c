"""Before/after in one run, interleaved so both see the same load: the capture module of an
earlier commit (a fresh browser context per capture) and the current one (a warm tab per
capture slot), on one warm browser with the cap of 2, the demo story of run.py.

    git show 88e8520:src/toucan/screenshots/capture.py > /tmp/old_capture.py
    .venv/bin/python bench/screenshots/ab.py --before /tmp/old_capture.py --captures 20
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import run as bench_run

from toucan.screenshots.browser import BrowserPool, find_browser
from toucan.screenshots.capture import capture as new_capture


def burst(pool: BrowserPool, fn: Callable[..., Any], base: str, user: int, n: int) -> float:
    """Captures per second, `n` asked at once."""
    urls = [bench_run.url_for(base, user) for _ in range(n)]
    started = time.perf_counter()
    threads = [threading.Thread(target=lambda u=u: pool.run(partial(fn, url=u, fmt="png", timeout=60))) for u in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="the earlier capture.py")
    parser.add_argument("--captures", type=int, default=20)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("before_capture", args.before)
    assert spec is not None and spec.loader is not None
    before = importlib.util.module_from_spec(spec)
    sys.modules["before_capture"] = before  # its dataclasses look their module up
    spec.loader.exec_module(before)
    executable = find_browser()
    if executable is None:
        raise SystemExit("no chromium-headless-shell or chromium")
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = bench_run.start_stack(Path(tmp))
        try:
            user = bench_run.viewer_id(Path(tmp))
            pool = BrowserPool(executable, 2)
            pool.warm()
            fns = {"before": before.capture, "after": new_capture}
            for fn in fns.values():
                for _ in range(3):
                    pool.run(partial(fn, url=bench_run.url_for(base, user), fmt="png", timeout=30))
            one: dict[str, list[tuple[float, float, float]]] = {k: [] for k in fns}
            for _ in range(args.captures):
                for name, fn in fns.items():
                    started = time.perf_counter()
                    shot = pool.run(partial(fn, url=bench_run.url_for(base, user), fmt="png", timeout=30))
                    one[name].append(((time.perf_counter() - started) * 1000, shot.ready_ms, shot.capture_ms))
            rates: dict[str, list[float]] = {k: [] for k in fns}
            loads = []
            for _ in range(3):
                for name, fn in fns.items():
                    loads.append(round(os.getloadavg()[0], 1))
                    rates[name].append(round(burst(pool, fn, base, user, 20), 2))
            pool.close()
        finally:
            proc.terminate()
            proc.wait(15)
    for name in fns:
        total, ready, after = (statistics.median(x[i] for x in one[name]) for i in range(3))
        print(
            f"{name}: one capture {total:.0f} ms (to ready {ready:.0f}, after ready {after:.0f}); "
            f"captures/s, 20 at once, cap 2: {rates[name]}"
        )
    print("load average (1 min) at each burst:", loads)


if __name__ == "__main__":
    main()
