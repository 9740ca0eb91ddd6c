"""A story of several charts (the demo's country dashboard): laid out on a grid, the
readiness marker waits for all of them, a requester re-runs them all, a builder edits each."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.browser.test_stories import READY, login
from tests.helpers.browser import ADMIN_PASSWORD, DEMO_PASSWORD, shot

pytestmark = pytest.mark.browser
STORY = "/apps/demo-sales/stories/country-dashboard"
CHARTS = ".tc-story .tc-slide__content .tc-chart"

# Records every write of the readiness marker, so a test sees it reset and come back.
WATCH_MARKER = """() => {
  window.__marks = [];
  new MutationObserver(() => window.__marks.push(document.body.dataset.renderComplete))
    .observe(document.body, { attributes: true, attributeFilter: ["data-render-complete"] });
}"""


def snapshot(page: Any) -> dict[str, Any]:
    """What the four charts show: the KPI's text, the table's rows and both canvases' pixels."""
    charts = page.locator(CHARTS)
    return {
        "kpi": charts.nth(0).locator(".kpi").inner_text(),
        "line": charts.nth(1).locator("canvas").first.evaluate("c => c.toDataURL()"),
        "bar": charts.nth(2).locator("canvas").first.evaluate("c => c.toDataURL()"),
        "table": charts.nth(3).locator("tbody").inner_text(),
    }


def test_a_story_of_four_charts_waits_for_all_of_them_and_follows_the_requester(stack: str, page: Any) -> None:
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    requests: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: (
            requests.append(json.loads(r.post_data))
            if r.method == "POST" and r.url.endswith("/data?stage=production")
            else None
        ),
    )
    page.goto(stack + STORY)
    page.wait_for_selector(READY)
    charts = page.locator(CHARTS)
    assert charts.count() == 4
    assert [charts.nth(i).locator(".chart").get_attribute("data-chart-type") for i in range(4)] == [
        "kpi",
        "line",
        "bar",
        "table",
    ]
    # The marker waited for every chart: each is drawn when it turns true.
    assert page.locator(f"{CHARTS} .chart[data-state=ready]").count() == 4
    assert page.locator(f"{CHARTS} canvas").count() >= 2
    assert [charts.nth(i).locator(".tc-chart__title").inner_text() for i in range(4)] == [
        "Revenue 2024 vs 2023",
        "Monthly revenue",
        "Revenue by product",
        "Products",
    ]
    story_requests = [r for r in requests if r["variables"] == {"country": "France"} and r["limit"] == 10000]
    assert len(story_requests) == 4
    # A grid: the KPI beside the line chart, the bar chart beside the table below them.
    boxes = [charts.nth(i).bounding_box() for i in range(4)]
    assert boxes[0]["y"] == boxes[1]["y"] < boxes[2]["y"] == boxes[3]["y"]
    assert boxes[0]["width"] < boxes[1]["width"] and abs(boxes[2]["width"] - boxes[3]["width"]) < 2
    assert page.input_value("select[data-requester=country]") == "France"
    france = snapshot(page)
    shot(page, "story-dashboard-france")

    page.evaluate(WATCH_MARKER)
    requests.clear()
    page.select_option("select[data-requester=country]", "Spain")
    # Reset to false by the change, then true once all four charts have drawn Spain's data.
    page.wait_for_function("() => window.__marks[0] === 'false' && window.__marks.at(-1) === 'true'")
    page.wait_for_selector(READY)
    assert page.locator(f"{CHARTS} .chart[data-state=ready]").count() == 4
    assert sorted(r["variables"]["country"] for r in requests) == ["Spain"] * 4
    spain = snapshot(page)
    assert {key for key in france if france[key] != spain[key]} == {"kpi", "line", "bar", "table"}
    shot(page, "story-dashboard-spain")
    assert page.console_errors == []


def test_the_four_charts_stack_at_tablet_width(stack: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 768, "height": 1024})
    page = context.new_page()
    try:
        login(page, stack, "demo-viewer", DEMO_PASSWORD)
        page.goto(stack + STORY)
        page.wait_for_selector(READY)
        charts = page.locator(CHARTS)
        boxes = [charts.nth(i).bounding_box() for i in range(4)]
        # Each chart on its own row (the KPI takes half of it), and no horizontal scrolling.
        assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"] < boxes[3]["y"]
        assert boxes[1]["width"] == boxes[2]["width"] == boxes[3]["width"] > boxes[0]["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= 768
        shot(page, "story-dashboard-tablet")
    finally:
        context.close()


def test_builder_picks_a_chart_of_the_story_edits_it_and_previews_its_request(stack: str, page: Any) -> None:
    api = stack + "/_api"
    token = httpx.post(f"{api}/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    original = httpx.get(f"{api}/demo-sales/config?stage=staging", headers=headers).json()
    try:
        login(page, stack, "admin", ADMIN_PASSWORD)
        page.goto(stack + STORY)
        page.wait_for_selector(READY)
        page.click(".stage-switch button:has-text('Staging')")
        page.wait_for_selector(READY)
        page.click("button:has-text('Edit')")
        page.click("[data-tab=advanced]")  # the chart builder's JSON view
        tabs = page.locator(".editor-picker [role=tab]")
        assert tabs.all_inner_texts() == ["Revenue 2024 vs 2023", "Monthly revenue", "Revenue by product", "Products"]
        assert json.loads(page.input_value("textarea[name=chart-spec]"))["type"] == "kpi"
        tabs.nth(1).click()
        spec = json.loads(page.input_value("textarea[name=chart-spec]"))
        assert spec["type"] == "line"
        spec["type"] = "area"
        page.fill("textarea[name=chart-spec]", json.dumps(spec))
        page.fill("input[name=chart-title]", "Monthly revenue (area)")
        # Another chart's request, then back: the draft of the line chart is kept.
        tabs.nth(3).click()
        assert json.loads(page.input_value("textarea[name=chart-spec]"))["type"] == "table"
        page.click("[data-action=show-data]")  # the live preview's rows
        page.wait_for_selector(".editor .table")
        assert "Espresso machine" in page.locator(".editor .table").inner_text()
        tabs.nth(1).click()
        assert json.loads(page.input_value("textarea[name=chart-spec]"))["type"] == "area"
        page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays on top of the full-page shot
        shot(page, "builder-dashboard-editor")
        page.click("button:has-text('Save'):not([data-action])")
        page.wait_for_selector(f"{CHARTS} .chart[data-chart-type=area][data-state=ready]")
        page.wait_for_selector(READY)
        assert page.locator(f"{CHARTS} .chart[data-state=ready]").count() == 4
        assert page.locator(f"{CHARTS} .tc-chart__title").nth(1).inner_text() == "Monthly revenue (area)"
        saved = httpx.get(f"{api}/demo-sales/config?stage=staging", headers=headers).json()
        dashboard = next(s for s in saved["slides"] if s["id"] == "country-dashboard")
        before = next(s for s in original["slides"] if s["id"] == "country-dashboard")
        assert dashboard["charts"][1]["chart"] == spec and dashboard["charts"][1]["title"] == "Monthly revenue (area)"
        assert [dashboard["charts"][i] for i in (0, 2, 3)] == [before["charts"][i] for i in (0, 2, 3)]
        page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays on top of the full-page shot
        shot(page, "builder-dashboard-saved")
        assert page.console_errors == []
    finally:
        # The tests share one server: staging goes back to what the other tests expect.
        httpx.put(f"{api}/demo-sales/config?stage=staging", json=original, headers=headers).raise_for_status()
