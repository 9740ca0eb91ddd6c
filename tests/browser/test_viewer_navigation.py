"""The viewer's filters tell the truth and the stories read as a story: the demo home's KPIs
follow the Country filter, a comparison of countries hides it, chapter pages list their
stories with live thumbnails, previous/next links follow the chapters, unknown apps and
stories get a 404 page, and the tab names the story."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_stories import READY, login
from tests.helpers.browser import DEMO_PASSWORD, shot

pytestmark = pytest.mark.browser
APP = "/apps/demo-sales"
KPIS = ".kpis .kpi-card .kpi-value"


def kpi_values(page: Any) -> list[str]:
    return [v.strip() for v in page.locator(KPIS).all_inner_texts()]


def phone(browser: Any, stack: str) -> Any:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    return page


def test_the_home_kpis_follow_the_country_filter_and_tiles_show_mini_charts(stack: str, page: Any) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.goto(stack + APP)
    page.wait_for_selector(READY)
    assert page.input_value("select[data-requester=country]") == "France"
    france = kpi_values(page)
    assert len(france) == 4 and all(france)
    page.select_option("select[data-requester=country]", "Japan")
    page.wait_for_function(
        "(before) => { const now = [...document.querySelectorAll('.kpis .kpi-card .kpi-value')]"
        ".map(e => e.innerText.trim()); return now.length === 4 && now.every((v, i) => v !== before[i]); }",
        arg=france,
    )
    page.wait_for_selector(READY)
    japan = kpi_values(page)
    assert all(a != b for a, b in zip(france, japan, strict=True)), (france, japan)
    assert page.title() == "Demo — Sales · Toucan"
    # Every story tile shows a live thumbnail of its first chart: a drawn canvas, a KPI or a table.
    tiles = page.locator(".home .tiles .tile")
    assert tiles.count() >= 10
    page.wait_for_function(
        "() => [...document.querySelectorAll('.home .tiles .thumb')].every(t => t.dataset.state === 'ready')"
    )
    assert page.locator(".home .tiles .thumb").count() == tiles.count()
    assert page.locator(".home .tiles .thumb canvas").count() >= 8
    # A thumbnail follows the filter as its story applies it: Japan's rows in the table's,
    # every country in the leaderboard's (which hides the filter).
    assert set(page.locator("[data-tile=sales-table] .thumb-table td:first-child").all_inner_texts()) == {"Japan"}
    shot(page, "viewer-home-desktop")
    mobile = phone(page.context.browser, stack)
    mobile.goto(stack + APP)
    mobile.wait_for_selector(READY)
    mobile.wait_for_function(
        "() => { const t = [...document.querySelectorAll('.home .tiles .thumb')];"
        " return t.length >= 10 && t.every(e => e.dataset.state === 'ready'); }"
    )
    shot(mobile, "viewer-home-phone")
    mobile.context.close()


def test_a_comparison_of_countries_hides_the_country_filter_and_category_share_follows_it(
    stack: str, page: Any
) -> None:
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.goto(stack + APP + "/stories/top-countries")
    page.wait_for_selector(READY)
    assert page.locator("[data-filter=country]").count() == 0
    assert page.locator(".tc-story h1").inner_text() == "Countries leaderboard"
    page.goto(stack + APP + "/stories/category-share")
    page.wait_for_selector(READY)
    assert page.input_value("select[data-requester=country]") == "France"
    before = page.locator(".tc-story canvas").first.evaluate("c => c.toDataURL()")
    with page.expect_request(
        lambda r: r.url.endswith("/data?stage=production") and "Japan" in (r.post_data or "")
    ) as sent:
        page.select_option("select[data-requester=country]", "Japan")
    body = sent.value.post_data_json
    assert body["query"][1] == {
        "name": "filter",
        "condition": {"column": "country", "operator": "eq", "value": "{{ country }}"},
    }
    page.wait_for_selector(READY)
    page.wait_for_function("(b) => document.querySelector('.tc-story canvas').toDataURL() !== b", arg=before)


def test_a_chapter_lists_its_stories_with_thumbnails_and_stories_link_to_each_other(stack: str, page: Any) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.goto(stack + APP + "/stories/overview")
    page.wait_for_selector(READY)
    listed = page.locator("[data-chapter-stories] .tile")
    titles = [t.split("\n")[0] for t in listed.all_inner_texts()]
    assert titles == [
        "Country dashboard",
        "Revenue by product",
        "Monthly revenue",
        "Channel mix",
        "Revenue 2024 vs 2023",
    ]
    page.wait_for_function(
        "() => { const t = [...document.querySelectorAll('[data-chapter-stories] .thumb')];"
        " return t.length === 5 && t.every(e => e.dataset.state === 'ready'); }"
    )
    assert [t.get_attribute("data-thumb-type") for t in page.locator("[data-chapter-stories] .thumb").all()] == [
        "kpi",
        "bar",
        "line",
        "donut",
        "kpi",
    ]
    assert page.locator("[data-chapter-stories] .thumb canvas").count() == 3
    assert page.locator("[data-empty-story]").count() == 0
    assert page.title() == "Overview · Demo — Sales · Toucan"
    shot(page, "viewer-chapter-desktop")
    # The chapter page has no "previous" (it is the first page), its "next" is its first story.
    assert page.locator("[data-pager=previous]").count() == 0
    page.click("[data-pager=next]")
    page.wait_for_url(stack + APP + "/stories/country-dashboard")
    page.wait_for_selector(READY)
    assert page.title() == "Country dashboard · Demo — Sales · Toucan"
    assert "Overview" in page.locator("[data-pager=previous]").inner_text()
    assert "Revenue by product" in page.locator("[data-pager=next]").inner_text()
    # Across chapters: the last story of Overview leads to the Details chapter.
    page.goto(stack + APP + "/stories/revenue-kpi")
    page.wait_for_selector(READY)
    assert "Details" in page.locator("[data-pager=next]").inner_text()
    # A tile of the chapter opens its story.
    page.goto(stack + APP + "/stories/overview")
    page.locator("[data-chapter-stories] .tile", has_text="Channel mix").click()
    page.wait_for_url(stack + APP + "/stories/channel-mix")
    # In French too.
    page.goto(stack + APP + "/stories/overview")
    page.wait_for_selector(READY)
    page.select_option("select.lang", "fr")
    page.get_by_role("heading", name="Dans ce chapitre").wait_for()
    assert "Histoire suivante" in page.locator("[data-pager=next]").inner_text()
    shot(page, "viewer-chapter-desktop-fr")
    page.select_option("select.lang", "en")
    mobile = phone(page.context.browser, stack)
    mobile.goto(stack + APP + "/stories/overview")
    mobile.wait_for_function(
        "() => { const t = [...document.querySelectorAll('[data-chapter-stories] .thumb')];"
        " return t.length === 5 && t.every(e => e.dataset.state === 'ready'); }"
    )
    shot(mobile, "viewer-chapter-phone")
    mobile.goto(stack + APP + "/stories/country-dashboard")
    mobile.wait_for_selector(READY)
    mobile.locator("[data-story-pager]").scroll_into_view_if_needed()
    shot(mobile, "viewer-pager-phone")
    mobile.context.close()


def test_unknown_apps_and_stories_get_a_404_page(stack: str, page: Any) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.goto(stack + APP + "/stories/no-such-story")
    page.wait_for_selector("[data-not-found=story]")
    assert "no-such-story" in page.locator("[data-not-found=story]").inner_text()
    assert page.locator(".home").count() == 0 and page.locator(".kpis").count() == 0
    assert page.locator("[data-filter=country]").count() == 0
    assert page.title() == "Page not found · Toucan"
    shot(page, "viewer-404-story-desktop")
    page.click("[data-not-found=story] a")
    page.wait_for_url(stack + APP)
    page.wait_for_selector(".kpis")
    page.goto(stack + "/apps/no-such-app")
    page.wait_for_selector("[data-not-found=app]")
    assert page.locator(".sidebar").count() == 0
    assert page.title() == "Page not found · Toucan"
    shot(page, "viewer-404-app-desktop")
    mobile = phone(page.context.browser, stack)
    mobile.goto(stack + APP + "/stories/no-such-story")
    mobile.wait_for_selector("[data-not-found=story]")
    shot(mobile, "viewer-404-story-phone")
    mobile.context.close()
