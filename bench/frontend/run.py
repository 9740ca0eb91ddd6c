"""Frontend benchmark: gzipped JS + CSS of the login and store routes, and the time from
navigation to the readiness marker on the demo's story of 4 charts (the country dashboard)
and on the app home (4 KPI charts), over a 100 k-row domain.

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
from dataclasses import dataclass, field
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


# The pages measured: the demo's story of 4 charts (KPI, line, bar, table), the same for a
# browser that asks for reduced motion (no chart animation), and the app home (4 KPIs).
STORY = "/apps/demo-sales/stories/country-dashboard"
PAGES = {
    "story": (STORY, "no-preference"),
    "story-still": (STORY, "reduce"),
    "home": ("/apps/demo-sales", "no-preference"),
}
# The page's own clock when the marker first turns true (0 = the navigation's start).
MARKER_CLOCK = """
new MutationObserver(() => {
  if (document.body?.dataset.renderComplete === "true") window.__ready ??= performance.now() / 1000;
}).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-render-complete"] });
"""


@dataclass
class Visits:
    """Seconds from navigation to the readiness marker, per visit of one page."""

    wall: list[float] = field(default_factory=list)  # page.goto → marker seen by Playwright
    page: list[float] = field(default_factory=list)  # the page's navigation start → marker
    cold: float = 0.0  # the first visit (wall), when the server's result cache is still cold


def readiness(rows: int, runs: int) -> dict[str, Visits]:
    """`runs` visits of each page (the pages take turns) after a first, cold one."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = clean_env(TOUCAN_DATA_DIR=data_dir, TOUCAN_SUPER_ADMIN_PASSWORD="bench-password-1")
        subprocess.run([*TOUCAN_CTL, "demo", "--rows", str(rows)], env=env, check=True, capture_output=True)
        with running_server(env) as (base, _proc), chromium() as browser:
            login = {"username": "admin", "password": "bench-password-1"}
            token = httpx.post(base + "/_api/login", json=login).json()["token"]
            visits = {name: Visits() for name in PAGES}
            for i in range(runs + 1):
                for name, (path, motion) in PAGES.items():
                    # A fresh context each time: no HTTP cache, like a first visit.
                    context = browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion=motion)
                    context.add_init_script(f"localStorage.setItem('toucan.token', '{token}')")
                    context.add_init_script(MARKER_CLOCK)
                    page = context.new_page()
                    start = time.perf_counter()
                    page.goto(base + path)
                    page.wait_for_selector("body[data-render-complete='true']", timeout=30000)
                    elapsed = time.perf_counter() - start
                    charts = page.locator(".chart[data-state=ready]").count()
                    if charts != 4:
                        raise SystemExit(f"{path}: {charts} charts rendered, 4 expected")
                    if i:
                        visits[name].wall.append(elapsed)
                        visits[name].page.append(page.evaluate("window.__ready"))
                    else:
                        visits[name].cold = elapsed
                    context.close()
    return visits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    sizes = route_bytes()
    visits = readiness(args.rows, args.runs)
    story, still, home = visits["story"], visits["story-still"], visits["home"]
    n, p50 = args.rows, statistics.median
    rows = [
        row("login route JS+CSS (gzip KB)", round(sizes["LoginView"] / 1024, 1), "< 350"),
        row("store route JS+CSS (gzip KB)", round(sizes["StoreView"] / 1024, 1), "< 350"),
        row(f"navigation → ready, story of 4 charts, {n} rows (s, p50)", round(p50(story.wall), 3), "< 1.5"),
        row("navigation → ready, story of 4 charts (s, max)", round(max(story.wall), 3)),
        row("the same, page clock: navigation start → marker (s, p50)", round(p50(story.page), 3)),
        row("navigation → ready, story of 4 charts, first visit, server cache cold (s)", round(story.cold, 3)),
        row("navigation → ready, story of 4 charts, reduced motion (s, p50)", round(p50(still.wall), 3)),
        row(f"navigation → ready, home with 4 KPI charts, {n} rows (s, p50)", round(p50(home.wall), 3), "< 1.5"),
        row("navigation → ready, home with 4 KPI charts (s, max)", round(max(home.wall), 3)),
    ]
    print_table("frontend", rows)
    command = f"python bench/frontend/run.py --rows {args.rows} --runs {args.runs}"
    print(f"wrote {write_result('frontend', command, rows)}")


def row(measure: str, value: float, target: str = "") -> dict[str, object]:
    return {"measure": measure, "value": value, "target": target}


if __name__ == "__main__":
    main()
