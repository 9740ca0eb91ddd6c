"""What a person does in the web app: log in, browse stories, filter, edit and release."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers.browser import ADMIN_PASSWORD, DEMO_PASSWORD, shot

pytestmark = pytest.mark.browser
READY = "body[data-render-complete='true']"


def login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_login_page_shows_both_versions_and_rejects_bad_passwords(stack: str, page: Any) -> None:
    page.goto(stack + "/login")
    versions = page.locator("[data-testid=versions]")
    versions.get_by_text("backend v0.1.0").wait_for()
    assert "frontend v0.1.0" in versions.inner_text()
    assert page.locator(".version-warning").count() == 0
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert "Wrong username or password" in page.locator("[role=alert]").inner_text()
    shot(page, "login")
    assert [e for e in page.console_errors if "401" not in e] == []


def test_viewer_browses_a_story_and_filters_it(stack: str, page: Any) -> None:
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.get_by_text("Demo — Sales").wait_for()
    shot(page, "store")
    page.click("text=Demo — Sales")
    page.wait_for_selector(READY)
    assert page.locator(".kpi-value").count() == 4
    shot(page, "app-home")
    with page.expect_response(lambda r: "/data" in r.url and r.request.method == "POST") as first:
        page.click(".story-link:has-text('Revenue by product')")
    page.wait_for_selector(".tc-story .tc-slide__content canvas")
    page.wait_for_selector(READY)
    france = first.value.json()["data"]
    assert json.loads(first.value.request.post_data)["variables"] == {"country": "France"}
    shot(page, "story-france")
    with page.expect_response(lambda r: "/data" in r.url and r.request.method == "POST") as second:
        page.select_option("select[data-requester=country]", "Spain")
    page.wait_for_selector(READY)
    spain = second.value.json()["data"]
    assert json.loads(second.value.request.post_data)["variables"] == {"country": "Spain"}
    assert spain != france and spain
    shot(page, "story-spain")
    # The viewer sees no staging switch and no editor.
    assert page.locator(".stage-switch").count() == 0
    assert page.console_errors == []


@pytest.mark.parametrize(
    "story",
    [
        "channels-by-year",
        "regions-area",
        "channel-mix",
        "revenue-kpi",
        "sales-table",
        "top-countries",
        "margin-waterfall",
        "heatmap",
        "scatter",
        "margin-gauge",
        "monthly-revenue",
        "category-share",
    ],
)
def test_each_chart_type_renders(stack: str, page: Any, story: str) -> None:
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.goto(f"{stack}/apps/demo-sales/stories/{story}")
    page.wait_for_selector(READY)
    assert page.locator(".chart[data-state=ready]").count() == 1, page.locator(".chart").get_attribute("data-state")
    shot(page, f"chart-{story}")
    assert page.console_errors == []


def test_builder_edits_a_chart_and_releases_it(stack: str, page: Any) -> None:
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.goto(f"{stack}/apps/demo-sales/stories/category-share")
    page.wait_for_selector(READY)
    page.click(".stage-switch button:has-text('Staging')")
    page.wait_for_selector(READY)
    page.click("button:has-text('Edit')")
    page.click("[data-tab=advanced]")  # the chart builder's JSON view
    spec = json.loads(page.input_value("textarea[name=chart-spec]"))
    assert spec["type"] == "pie"
    spec["type"] = "bar"
    spec["x"], spec["y"] = "category", ["revenue"]
    page.fill("textarea[name=chart-spec]", json.dumps(spec))
    page.click("[data-action=show-data]")  # the live preview's rows
    page.wait_for_selector(".editor .table")
    shot(page, "builder-editor")
    page.click("[data-action=release]")  # saves, then the release dialog shows what changes
    page.wait_for_selector(".chart[data-chart-type=bar]")
    dialog = page.locator("[data-dialog=release]")
    dialog.locator("[data-story-change=changed][data-story=category-share]").wait_for()
    dialog.locator("[data-action=confirm-release]").click()  # design and data: both stages now match
    page.get_by_text("Released").wait_for()
    page.click(".stage-switch button:has-text('Production')")
    page.wait_for_selector(READY)
    page.wait_for_selector(".chart[data-chart-type=bar][data-state=ready]")
    shot(page, "builder-released")
    assert page.console_errors == []


def test_story_is_readable_at_tablet_width_and_usable_with_the_keyboard(stack: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 768, "height": 1024})
    page = context.new_page()
    try:
        page.goto(stack + "/login")
        page.wait_for_selector("input[name=username]:focus")  # focused on arrival
        page.keyboard.type("demo-viewer")
        page.keyboard.press("Tab")
        page.keyboard.type(DEMO_PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(stack + "/")
        page.goto(f"{stack}/apps/demo-sales/stories/monthly-revenue")
        page.wait_for_selector(READY)
        box = page.locator(".tc-story").bounding_box()
        assert box is not None and box["width"] <= 768
        # No horizontal scrolling at tablet width.
        assert page.evaluate("document.documentElement.scrollWidth") <= 768
        shot(page, "tablet-story")
    finally:
        context.close()


def test_super_admin_round_trips_instance_settings(stack: str, page: Any) -> None:
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.goto(stack + "/settings/instance")
    page.click("button[data-view=cson]")  # the CSON is the advanced view beside the forms
    area = page.locator("textarea[name=instance-settings]")
    page.wait_for_function("() => document.querySelector('textarea[name=instance-settings]')?.value.length > 0")
    original = area.input_value()
    area.fill(original + "\nauth: [\n")
    page.click("[data-action=save-cson]")
    alert = page.locator("[role=alert]")
    alert.wait_for()
    assert "line" in alert.inner_text().lower()
    area.fill(original)
    page.click("[data-action=save-cson]")
    page.get_by_text("Saved.").wait_for()
    shot(page, "settings-cson")
    page.reload()
    page.click("button[data-view=cson]")
    page.wait_for_function("() => document.querySelector('textarea[name=instance-settings]')?.value.length > 0")
    assert "providers" in area.input_value()
    assert [e for e in page.console_errors if "400" not in e] == []


def test_a_table_of_thousands_of_rows_renders_only_what_is_in_view(stack: str, page: Any) -> None:
    import httpx

    api = stack + "/_api"
    token = httpx.post(f"{api}/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    config = httpx.get(f"{api}/demo-sales/config?stage=staging", headers=headers).json()
    config["slides"].append(
        {
            "id": "all-sales",
            "level": 1,
            "title": "Every sale",
            # Every country's sales: the demo's Country filter is hidden here (and so not applied).
            "requesters": [],
            "chart": {"type": "table", "columns": ["date", "country", "product", "revenue"]},
            "query": [
                {"name": "domain", "domain": "sales"},
                {"name": "sort", "columns": [{"column": "revenue", "order": "desc"}]},
            ],
        }
    )
    httpx.put(f"{api}/demo-sales/config?stage=staging", json=config, headers=headers).raise_for_status()
    httpx.post(
        f"{api}/demo-sales/config/operations", json={"operations": ["release_design"]}, headers=headers
    ).raise_for_status()
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.goto(f"{stack}/apps/demo-sales/stories/all-sales")
    page.wait_for_selector(READY)
    rendered = page.locator("[data-virtual-table] tbody tr").count()
    assert 10 < rendered < 60  # 3,000 rows in the table, a few dozen in the page
    page.locator("[data-virtual-table]").evaluate("el => el.scrollTo(0, el.scrollHeight)")
    # Scrolled to the end: the rendered window reaches the last row (no spacer below it).
    page.wait_for_function(
        "() => !document.querySelector('[data-virtual-table] tbody tr:last-child').hasAttribute('aria-hidden')"
    )
    assert page.locator("[data-virtual-table] tbody tr").count() < 60
    last = page.locator("[data-virtual-table] tbody tr:not([aria-hidden]) td.num").last.inner_text()
    first_value = httpx.post(
        f"{api}/demo-sales/data",
        json={
            "query": [
                {"name": "domain", "domain": "sales"},
                {"name": "sort", "columns": [{"column": "revenue", "order": "asc"}]},
            ],
            "limit": 1,
        },
        headers=headers,
    ).json()["data"][0]["revenue"]
    assert last.replace(",", "").startswith(str(int(first_value)))  # the smallest revenue is at the bottom
    shot(page, "table-virtual")
    assert page.console_errors == []


def test_an_app_created_from_the_store_can_be_built_at_once(stack: str, page: Any) -> None:
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.fill("input[aria-label='App name']", "Fresh app")
    page.click("button:has-text('New app')")
    page.click("a:has-text('Fresh app')")
    # No reload: the store read the creator's new privileges along with the list.
    page.wait_for_selector(".stage-switch")
    page.click(".stage-switch button:has-text('Staging')")
    page.wait_for_selector("[data-action=open-data]")
    shot(page, "store-new-app")
    assert page.console_errors == []
