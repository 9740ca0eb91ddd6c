"""Frontend benchmark: gzipped JS + CSS of the login and store routes, and the time from
navigation to the readiness marker on the demo's story of 4 charts (the country dashboard)
and on the app home (4 KPI charts), over a 100 k-row domain (`--part viewer`, writes
bench/results/frontend.json).

The studio (`--part studio`, writes bench/results/frontend-studio.json): what a viewer's story
route loads, from the Vite build manifest (the chart builder must stay out of it: lazy
imports), checked in Chromium too; and the chart builder's live preview redraw after a
mapping change, its data request already answered (cached), on the demo's 100 k rows.

The interaction (`--part interaction`, writes bench/results/frontend-interaction.json): on the
same story, a click on a product's bar cross-filters the 3 other charts; the time from the click
to every one of them re-rendered (the readiness marker true again), the first click on each
product (the server's result cache cold for it) and repeated clicks (cached).

    .venv/bin/python bench/frontend/run.py [--part all|viewer|studio|interaction] [--rows 100000] [--runs 10]

Needs frontend/dist (`make frontend`) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import gzip
import json
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


# --- the studio: the viewer's route without the editor, and the live preview -------------------


def _closure(manifest: dict[str, dict[str, object]], key: str, seen: set[str] | None = None) -> set[str]:
    """The files (JS and CSS) a manifest chunk loads with its static imports."""
    seen = set() if seen is None else seen
    chunk = manifest[key]
    files = {str(chunk["file"]), *[str(c) for c in chunk.get("css", [])]}  # type: ignore[attr-defined]
    for imported in chunk.get("imports", []):  # type: ignore[attr-defined]
        if imported not in seen:
            seen.add(imported)
            files |= _closure(manifest, imported, seen)
    return files


def _chunk(manifest: dict[str, dict[str, object]], name: str) -> str:
    return next(k for k, c in manifest.items() if c.get("name") == name or str(c.get("src", "")).endswith(f"/{name}.vue"))


def studio_sizes() -> dict[str, object]:
    """Gzipped bytes of a viewer's story route (entry, AppView and ECharts, which story pages
    always load) and of the chart builder's own chunks, from the Vite manifest."""
    manifest = json.loads((DIST / ".vite" / "manifest.json").read_text())
    viewer = _closure(manifest, "index.html") | _closure(manifest, _chunk(manifest, "AppView"))
    viewer |= _closure(manifest, "src/charts/echarts.ts")
    editor = _closure(manifest, "src/components/StoryEditor.vue") - viewer
    size = lambda files: sum(gz(DIST / f) for f in files)  # noqa: E731
    return {
        "viewer": size(viewer) + gz(DIST / "scripts" / "tc-params.js"),
        "editor": size(editor),
        "editor_in_viewer": manifest["src/components/StoryEditor.vue"]["file"] in viewer,
    }


# Two mapping changes timed in the page: the select changed → the preview's "finished" draw.
MAPPING_CHANGE = """
async ([name, value]) => {
  const chart = document.querySelector('.cb-preview .chart');
  const before = Number(chart.dataset.drawn);
  const select = document.querySelector(`select[name="${name}"]`);
  const start = performance.now();
  select.value = value;
  select.dispatchEvent(new Event('change'));
  await new Promise((resolve) => {
    const watcher = new MutationObserver(() => {
      if (Number(chart.dataset.drawn) > before) { watcher.disconnect(); resolve(); }
    });
    watcher.observe(chart, { attributes: true, attributeFilter: ['data-drawn'] });
  });
  return performance.now() - start;
}
"""

# The raw rows of the 100 k-row domain: the preview draws 10 000 of them (a viewer chart's cap).
RAW_STORY = {
    "id": "bench-raw",
    "title": "Raw rows",
    "chart": {"type": "line", "x": "date", "y": ["revenue"]},
    "query": [{"name": "domain", "domain": "sales"}],
}


def preview_updates(rows: int, runs: int) -> dict[str, object]:
    """Milliseconds from a mapping change to the preview's redraw: the demo's stacked bars
    (aggregated from `rows` rows; the series role on and off) and 10 000 raw rows (a line,
    revenue ↔ cost); and whether the viewer's story page loaded any editor chunk."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = clean_env(TOUCAN_DATA_DIR=data_dir, TOUCAN_SUPER_ADMIN_PASSWORD="bench-password-1")
        subprocess.run([*TOUCAN_CTL, "demo", "--rows", str(rows)], env=env, check=True, capture_output=True)
        with running_server(env) as (base, _proc), chromium() as browser:
            login = {"username": "admin", "password": "bench-password-1"}
            token = httpx.post(base + "/_api/login", json=login).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            front = httpx.get(base + "/_api/demo-sales/config?stage=staging", headers=headers).json()
            front["slides"].append(RAW_STORY)
            httpx.put(base + "/_api/demo-sales/config?stage=staging", json=front, headers=headers).raise_for_status()
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.add_init_script(f"localStorage.setItem('toucan.token', '{token}')")
            page = context.new_page()
            scripts: list[str] = []
            page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
            page.goto(base + "/apps/demo-sales/stories/channels-by-year")
            page.wait_for_selector("body[data-render-complete='true']", timeout=30000)
            viewer_loaded_editor = any("StoryEditor" in url for url in scripts)
            timings: dict[str, list[float]] = {}
            cases = (
                ("channels-by-year", "aggregated", "role-series", ("", "channel")),
                ("bench-raw", "raw", "role-y-0", ("cost", "revenue")),
            )
            for story, name, select, values in cases:
                page.goto(f"{base}/apps/demo-sales/stories/{story}?stage=staging")
                page.wait_for_selector("body[data-render-complete='true']", timeout=60000)
                page.click("button:has-text('Edit')")
                page.wait_for_function(
                    "() => Number(document.querySelector('.cb-preview .chart')?.dataset.drawn ?? 0) >= 1", timeout=60000
                )
                page.evaluate(MAPPING_CHANGE, [select, values[0]])  # a first change: warm
                timings[name] = [page.evaluate(MAPPING_CHANGE, [select, values[(i + 1) % 2]]) for i in range(runs)]
            context.close()
    return {"timings": timings, "viewer_loaded_editor": viewer_loaded_editor}


def studio(rows: int, runs: int) -> None:
    sizes = studio_sizes()
    updates = preview_updates(rows, runs)
    timings: dict[str, list[float]] = updates["timings"]  # type: ignore[assignment]
    p50 = statistics.median
    if sizes["editor_in_viewer"]:
        raise SystemExit("the chart builder's chunk is loaded by the viewer's story route: import it lazily")
    table = [
        row("viewer story route JS+CSS, ECharts included (gzip KB)", round(int(sizes["viewer"]) / 1024, 1), "< 350"),  # type: ignore[call-overload]
        row("chart builder's own chunks, loaded on Edit only (gzip KB)", round(int(sizes["editor"]) / 1024, 1)),  # type: ignore[call-overload]
        row("editor chunk requested by a viewer's story page (Chromium)", "yes" if updates["viewer_loaded_editor"] else "no", "no"),
        row(f"preview redraw after a mapping change, stacked bars from {rows} rows (ms, p50)", round(p50(timings["aggregated"]), 1), "< 300"),
        row("the same (ms, max)", round(max(timings["aggregated"]), 1)),
        row(f"preview redraw after a mapping change, line of 10000 of {rows} rows (ms, p50)", round(p50(timings["raw"]), 1), "< 300"),
        row("the same (ms, max)", round(max(timings["raw"]), 1)),
    ]
    print_table("frontend — studio", table)
    command = f"python bench/frontend/run.py --part studio --rows {rows} --runs {runs}"
    print(f"wrote {write_result('frontend-studio', command, table)}")


# --- the interaction: a click on a bar filters the story's other charts ------------------------

# The page's clock at each click (window capture: before ECharts' handler) and when the marker,
# turned false by that click's new requests, is true again: every re-requested chart drawn.
CLICK_CLOCK = """
window.__clicks = [];
window.addEventListener('click', () => window.__clicks.push({ at: performance.now(), left: false, done: null }), true);
new MutationObserver(() => {
  const last = window.__clicks[window.__clicks.length - 1];
  if (!last || last.done !== null) return;
  const complete = document.body?.dataset.renderComplete;
  if (complete === 'false') last.left = true;
  else if (complete === 'true' && last.left) last.done = performance.now();
}).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-render-complete'] });
"""

# The bars of a horizontal bar chart, top to bottom, found in its canvas (the series' colour,
# the palette's first):
# where to click each, from the canvas's corner, whatever the labels' width and the grid.
FIND_BARS = """
(chart) => {
  const canvas = chart.querySelector('canvas');
  const ratio = canvas.width / canvas.getBoundingClientRect().width;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  // The default palette's first colour, #0072b2 (src/charts/options.ts PALETTE), give or take.
  const blue = (x, y) => { const i = (y * canvas.width + x) * 4; return pixels[i] < 40 && Math.abs(pixels[i + 1] - 114) < 40 && Math.abs(pixels[i + 2] - 178) < 40; };
  const bars = [];
  let open = null;
  for (let y = 0; y < canvas.height; y++) {
    let first = -1, last = -1;
    for (let x = 0; x < canvas.width; x++) if (blue(x, y)) { if (first < 0) first = x; last = x; }
    const wide = first >= 0 && last - first > 2;
    if (wide && !open) open = { top: y, first, last };
    if (wide && open) { open.first = Math.min(open.first, first); open.last = Math.max(open.last, last); }
    if (!wide && open) { bars.push({ ...open, bottom: y }); open = null; }
  }
  return bars.map((b) => ({ x: (b.first + b.last) / 2 / ratio, y: (b.top + b.bottom) / 2 / ratio }));
}
"""


def cross_filter(rows: int, runs: int) -> dict[str, list[float]]:
    """Milliseconds from a click on a product's bar to the story's other 3 charts re-rendered:
    the first selection of each product (cold), then `runs` selections and clears (cached)."""
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as data_dir:
        env = clean_env(TOUCAN_DATA_DIR=data_dir, TOUCAN_SUPER_ADMIN_PASSWORD="bench-password-1")
        subprocess.run([*TOUCAN_CTL, "demo", "--rows", str(rows)], env=env, check=True, capture_output=True)
        with running_server(env) as (base, _proc), chromium() as browser:
            login = {"username": "admin", "password": "bench-password-1"}
            token = httpx.post(base + "/_api/login", json=login).json()["token"]
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script(f"localStorage.setItem('toucan.token', '{token}')")
            context.add_init_script(CLICK_CLOCK)
            page = context.new_page()
            page.goto(base + STORY)
            page.wait_for_selector("body[data-render-complete='true']", timeout=30000)
            chart = page.locator(".chart[data-chart-type=bar]")
            chart.scroll_into_view_if_needed()
            bars = chart.evaluate(FIND_BARS)
            if len(bars) < 2:
                raise SystemExit(f"{len(bars)} bars found in the product chart's canvas")

            def click(bar: dict[str, float], selected: bool) -> float:
                # The selection's chip moves the charts down: click where the canvas is now.
                chart.scroll_into_view_if_needed()
                box = chart.locator("canvas").bounding_box()
                assert box is not None
                page.mouse.click(box["x"] + bar["x"], box["y"] + bar["y"])
                page.wait_for_function("() => window.__clicks.at(-1).done !== null", timeout=60000)
                if (page.locator("[data-selection]").count() > 0) != selected:
                    raise SystemExit(f"the click at {bar} did not {'select' if selected else 'clear'} a product")
                if page.locator(".chart[data-state=ready]").count() != 4:
                    raise SystemExit("not every chart is rendered after the click")
                last: dict[str, float] = page.evaluate("window.__clicks.at(-1)")
                return float(last["done"] - last["at"])

            timings: dict[str, list[float]] = {"cold": [], "cached": [], "clear": []}
            for bar in bars:
                timings["cold"].append(click(bar, True))
                timings["clear"].append(click(bar, False))
            for i in range(runs):
                bar = bars[i % len(bars)]
                timings["cached"].append(click(bar, True))
                timings["clear"].append(click(bar, False))
            context.close()
    return timings


def interaction(rows: int, runs: int) -> None:
    timings = cross_filter(rows, runs)
    p50 = statistics.median
    cold, cached, clear = timings["cold"], timings["cached"], timings["clear"]
    table = [
        row(f"cross-filter click → 3 charts re-rendered, cached data, {rows} rows (ms, p50)", round(p50(cached), 1), "< 400"),
        row("the same (ms, max)", round(max(cached), 1), "< 400"),
        row(f"the same, first click on each of the {len(cold)} products: server cache cold (ms, p50)", round(p50(cold), 1)),
        row("the same, cold (ms, max)", round(max(cold), 1)),
        row("a click clearing the selection → 3 charts re-rendered, cached (ms, p50)", round(p50(clear), 1), "< 400"),
        row("the same (ms, max)", round(max(clear), 1)),
    ]
    print_table("frontend — interaction", table)
    command = f"python bench/frontend/run.py --part interaction --rows {rows} --runs {runs}"
    print(f"wrote {write_result('frontend-interaction', command, table)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=("all", "viewer", "studio", "interaction"), default="all")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if args.part in ("all", "studio"):
        studio(args.rows, args.runs)
    if args.part in ("all", "interaction"):
        interaction(args.rows, args.runs)
    if args.part in ("studio", "interaction"):
        return
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


def row(measure: str, value: float | str, target: str = "") -> dict[str, object]:
    return {"measure": measure, "value": value, "target": target}


if __name__ == "__main__":
    main()
