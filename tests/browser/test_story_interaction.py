"""A viewer explores a story beyond its filters: a click on a bar filters the story's other
charts (a chip clears it), a chart with a hierarchy drills down with a breadcrumb, the whole view
is in the address (a reload or a shared link reproduces it), and on a phone the story comes
before the story list."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.browser.test_stories import READY, login
from tests.helpers.browser import ADMIN_PASSWORD, shot

pytestmark = pytest.mark.browser
APP = "explore"
SALES = (
    "region,country,city,revenue\n"
    "Europe,France,Paris,100\nEurope,France,Lyon,60\nEurope,Spain,Madrid,80\n"
    "Asia,Japan,Tokyo,120\nAsia,Japan,Osaka,40\nAmericas,Brazil,Rio,50\n"
)


def _by(column: str) -> list[dict[str, Any]]:
    return [
        {"name": "domain", "domain": "sales"},
        {
            "name": "aggregate",
            "on": [column],
            "aggregations": [{"columns": ["revenue"], "aggfunction": "sum", "newcolumns": ["revenue"]}],
        },
        {"name": "sort", "columns": [{"column": column, "order": "asc"}]},
    ]


FRONT = {
    "requesters": [],
    "slides": [
        {
            "id": "world",
            "title": "World",
            "charts": [
                {
                    "id": "regions",
                    "title": "By region",
                    "width": "full",
                    "chart": {"type": "bar", "x": "region", "y": ["revenue"], "drill": ["region", "country", "city"]},
                    "query": _by("region"),
                },
                {
                    "id": "cities",
                    "title": "Cities",
                    "width": "full",
                    "chart": {"type": "table"},
                    "query": [{"name": "domain", "domain": "sales"}],
                },
                {
                    "id": "countries",
                    "title": "By country",
                    "width": "full",
                    "chart": {"type": "bar", "x": "country", "y": ["revenue"]},
                    "query": _by("country"),
                },
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def app(stack: str) -> str:
    api = stack + "/_api"
    token = httpx.post(f"{api}/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    httpx.post(f"{api}/small-apps", json={"id": APP, "name": "Explore"}, headers=headers).raise_for_status()
    httpx.put(
        f"{api}/{APP}/domain/sales?stage=staging", content=SALES, headers={**headers, "Content-Type": "text/csv"}
    ).raise_for_status()
    httpx.put(f"{api}/{APP}/config?stage=staging", json=FRONT, headers=headers).raise_for_status()
    released = httpx.post(
        f"{api}/{APP}/config/operations", json={"operations": ["release_design", "release_data"]}, headers=headers
    )
    released.raise_for_status()
    return APP


def _click_bar(page: Any, chart: Any, index: int, count: int) -> None:
    """Click the `index`-th of `count` bars, low in the plot where every bar is drawn."""
    chart.scroll_into_view_if_needed()
    box = chart.locator("canvas").bounding_box()
    assert box is not None
    left = box["x"] + 60  # the value axis's labels
    width = box["width"] - 60 - 24
    page.mouse.click(left + width * (index + 0.5) / count, box["y"] + box["height"] - 40)


def _requests(page: Any) -> list[dict[str, Any]]:
    return page.requests_seen  # type: ignore[no-any-return]


def _assert_drilled_into_region(page: Any, region: str) -> None:
    """The last by-country request of the page filters on `region` (a drill-down's request)."""
    drilled = [
        r
        for r in _requests(page)
        if any(s.get("on") == ["country"] for s in r["query"] if isinstance(s, dict))
        and any(s.get("name") == "filter" and s["condition"].get("column") == "region" for s in r["query"])
    ]
    assert drilled and drilled[-1]["query"][1]["condition"] == {"column": "region", "operator": "eq", "value": region}


def _watch(page: Any) -> None:
    page.requests_seen = []
    page.on(
        "request",
        lambda r: (
            page.requests_seen.append(json.loads(r.post_data)) if "/data?" in r.url and r.method == "POST" else None
        ),
    )


def _open_world(stack: str, page: Any, app: str) -> None:
    """The story of the drillable charts, as an admin at desktop size, its data requests watched."""
    page.set_viewport_size({"width": 1440, "height": 900})
    _watch(page)
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.goto(f"{stack}/apps/{app}/stories/world")
    page.wait_for_selector(READY)


def test_a_click_filters_the_other_charts_and_the_view_is_a_link(stack: str, page: Any, app: str) -> None:
    _open_world(stack, page, app)
    countries = page.locator("[data-chart-key='world/countries'] .chart")
    # Brazil, France, Japan, Spain: click France.
    _click_bar(page, countries, 1, 4)
    page.locator("[data-selection]").get_by_text("country: France").wait_for()
    page.wait_for_selector(READY)
    table = page.locator("[data-chart-key='world/cities'] table")
    page.wait_for_function(
        "() => !document.querySelector(\"[data-chart-key='world/cities'] table\")?.innerText.includes('Tokyo')"
    )
    assert "Paris" in table.inner_text() and "Madrid" not in table.inner_text()
    # The clicked chart keeps every country; the address holds the selection.
    assert countries.get_attribute("data-state") == "ready"
    query = parse_qs(urlparse(page.url).query)
    assert query["sel.column"] == ["country"] and query["sel.value"] == ["France"]
    shot(page, "story-cross-filter")

    # The link reproduces the view: a reload (or another browser) shows the same selection.
    page.reload()
    page.wait_for_selector(READY)
    page.locator("[data-selection]").get_by_text("country: France").wait_for()
    assert "Tokyo" not in page.locator("[data-chart-key='world/cities'] table").inner_text()
    page.click("[data-action=clear-selection]")
    page.wait_for_function(
        "() => document.querySelector(\"[data-chart-key='world/cities'] table\")?.innerText.includes('Tokyo')"
    )
    assert "sel.column" not in page.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("[data-action=copy-link]")
    page.locator("[data-link-status]").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == page.url


def test_a_chart_drills_down_its_hierarchy_with_a_breadcrumb(stack: str, page: Any, app: str) -> None:
    _open_world(stack, page, app)
    regions = page.locator("[data-chart-key='world/regions'] .chart")
    # Americas, Asia, Europe: click Europe, then its countries are drawn.
    _click_bar(page, regions, 2, 3)
    page.locator("[data-drill-path]").get_by_text("Europe").wait_for()
    page.wait_for_selector(READY)
    _assert_drilled_into_region(page, "Europe")
    # France, Spain: click France, then its cities.
    _click_bar(page, regions, 0, 2)
    page.locator("[data-drill-path]").get_by_text("France").wait_for()
    page.wait_for_selector(READY)
    assert json.loads(parse_qs(urlparse(page.url).query)["drill.world/regions"][0]) == ["Europe", "France"]
    shot(page, "story-drill-down")
    # The breadcrumb goes back up.
    page.click("[data-drill-path] [data-drill-depth='0']")
    page.wait_for_function("() => !document.querySelector('[data-drill-path]')")
    assert "drill." not in page.url


def test_on_a_phone_the_story_comes_first(stack: str, browser: Any, app: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        login(page, stack, "admin", ADMIN_PASSWORD)
        page.goto(f"{stack}/apps/demo-sales/stories/monthly-revenue")
        page.wait_for_selector(READY)
        story = page.locator(".tc-story").bounding_box()
        assert story is not None and story["y"] < 844 / 2, story  # not below a list of every story
        assert not page.locator("#story-nav").is_visible()
        shot(page, "phone-story-first")
        page.click("[data-action=story-nav]")
        page.locator("#story-nav").get_by_text("Channel mix").click()
        page.wait_for_url(f"{stack}/apps/demo-sales/stories/channel-mix")
        assert not page.locator("#story-nav").is_visible()  # closed again on the new story
    finally:
        context.close()


def _tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until the element `selector` has the focus (a keyboard user's way there)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
    raise AssertionError(f"{selector} was not reached with {limit} presses of Tab")


def _focused(page: Any) -> str:
    return page.evaluate("document.activeElement?.innerText ?? ''").strip()  # type: ignore[no-any-return]


def test_a_keyboard_user_filters_and_drills_as_a_click_does(stack: str, page: Any, app: str) -> None:
    _open_world(stack, page, app)
    countries_menu = "[data-chart-key='world/countries'] [data-action=chart-menu]"

    # The chart's menu, then "Filter the story by…": its categories, the first one focused.
    _tab_to(page, countries_menu)
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert _focused(page) == "Filter the story by…"
    page.keyboard.press("Enter")
    assert _focused(page) == "Brazil"
    page.keyboard.press("ArrowDown")
    assert _focused(page) == "France"
    page.keyboard.press("Enter")
    page.locator("[data-selection]").get_by_text("country: France").wait_for()
    page.wait_for_function(
        "() => !document.querySelector(\"[data-chart-key='world/cities'] table\")?.innerText.includes('Tokyo')"
    )
    table = page.locator("[data-chart-key='world/cities'] table").inner_text()
    assert "Paris" in table and "Madrid" not in table
    query = parse_qs(urlparse(page.url).query)
    assert query["sel.column"] == ["country"] and query["sel.value"] == ["France"]
    # The focus is back on the chart's menu button; the list marks the chosen category.
    assert page.evaluate("(s) => document.activeElement.matches(s)", countries_menu)
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.locator("[data-chart-key='world/countries'] [aria-checked=true]").inner_text() == "France"
    shot(page, "story-keyboard-filter")
    # Escape closes the menu, back on its button.
    page.keyboard.press("Escape")
    assert page.locator("[data-chart-key='world/countries'] [role=menu]").count() == 0
    assert page.evaluate("(s) => document.activeElement.matches(s)", countries_menu)
    # The chip clears the selection.
    _tab_to(page, "[data-action=clear-selection]")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector(\"[data-chart-key='world/cities'] table\")?.innerText.includes('Tokyo')"
    )
    assert "sel.column" not in page.url

    # A chart with a hierarchy: "Drill into…" goes one level down per choice.
    page.wait_for_selector(READY)
    regions_menu = "[data-chart-key='world/regions'] [data-action=chart-menu]"
    page.focus("body")
    _tab_to(page, regions_menu)
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert _focused(page) == "Drill into…"
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert _focused(page) == "Europe"  # Americas, Asia, Europe
    page.keyboard.press("Enter")
    page.locator("[data-drill-path]").get_by_text("Europe").wait_for()
    page.wait_for_selector(READY)
    _assert_drilled_into_region(page, "Europe")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert _focused(page) == "France"  # France, Spain
    page.keyboard.press("Enter")
    page.locator("[data-drill-path]").get_by_text("France").wait_for()
    assert json.loads(parse_qs(urlparse(page.url).query)["drill.world/regions"][0]) == ["Europe", "France"]
    # At the hierarchy's last level, a choice filters the story instead.
    page.wait_for_selector(READY)
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert _focused(page) == "Filter the story by…"
    shot(page, "story-keyboard-drill")
    assert page.console_errors == []
