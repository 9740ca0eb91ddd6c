"""The chart builder in the web app: a type from the gallery, columns mapped to roles, format,
colours and legend with the live chart changing as you edit; a missing column refused with its
name; undo/redo; drafts kept across a reload; two builders warned of each other's saves; a
release refused when staging moved since its diff. Screenshots at desktop and phone sizes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.browser.test_data_page import PASSWORD, builder_of_a_new_app, open_data_page
from tests.browser.test_stories import READY, login
from tests.helpers.browser import shot

pytestmark = pytest.mark.browser
APP = "chart-lab"
CSV = (
    "country,channel,revenue,units\n"
    "France,web,120,10\nFrance,store,80,7\nSpain,web,60,5\nSpain,store,90,9\nItaly,web,40,3\nItaly,store,30,2\n"
)
STORY = {
    "id": "revenue",
    "title": "Revenue",
    "chart": {"type": "bar", "x": "country", "y": ["revenue"]},
    "query": [{"name": "domain", "domain": "sales"}],
}
PREVIEW = ".cb-preview .chart"


def _api(stack: str, username: str) -> tuple[str, dict[str, str]]:
    api = stack + "/_api"
    token = httpx.post(f"{api}/login", json={"username": username, "password": PASSWORD}).json()["token"]
    return api, {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def builder(stack: str) -> str:
    """The app with one story (a bar chart) over a small sales domain; its builder's name."""
    username = builder_of_a_new_app(stack, APP)
    api, headers = _api(stack, username)
    front = {"slides": [STORY], "home": {"title": "Chart lab"}}
    assert httpx.put(f"{api}/{APP}/config?stage=staging", json=front, headers=headers).status_code == 200
    uploaded = httpx.put(f"{api}/{APP}/domain/sales", content=CSV, headers={**headers, "Content-Type": "text/csv"})
    assert uploaded.status_code == 200, uploaded.text
    return username


EMPTY = {"id": "blank", "title": "Blank story", "charts": []}


def _staging(stack: str, username: str) -> tuple[dict[str, Any], int]:
    api, headers = _api(stack, username)
    response = httpx.get(f"{api}/{APP}/config?stage=staging", headers=headers)
    return response.json(), int(response.headers["X-Config-Version"])


def _reset(stack: str, username: str) -> None:
    api, headers = _api(stack, username)
    front = {"slides": [STORY, EMPTY], "home": {"title": "Chart lab"}}
    assert httpx.put(f"{api}/{APP}/config?stage=staging", json=front, headers=headers).status_code == 200


def _open_editor(page: Any, stack: str) -> None:
    page.goto(f"{stack}/apps/{APP}/stories/revenue?stage=staging")
    page.wait_for_selector(READY)
    page.click("button:has-text('Edit')")
    _drawn(page, 1)


def _drawn(page: Any, at_least: int) -> int:
    """Wait until the preview finished `at_least` draws; the count now."""
    page.wait_for_function(
        "n => Number(document.querySelector('.cb-preview .chart')?.dataset.drawn ?? 0) >= n", arg=at_least
    )
    return int(page.locator(PREVIEW).get_attribute("data-drawn"))


def _redrawn(page: Any, before: int) -> int:
    return _drawn(page, before + 1)


def _canvas(page: Any) -> bytes:
    data: bytes = page.locator(".cb-preview canvas").first.screenshot()
    return data


def test_build_a_chart_without_json_and_see_it_change_live(stack: str, browser: Any, builder: str) -> None:
    _reset(stack, builder)
    for name, viewport in (("desktop", {"width": 1440, "height": 900}), ("phone", {"width": 390, "height": 844})):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        login(page, stack, builder, PASSWORD)
        _open_editor(page, stack)
        preview = page.locator(PREVIEW)
        assert preview.get_attribute("data-chart-type") == "bar"
        assert preview.get_attribute("data-series") == "revenue"
        bar = _canvas(page)

        # The gallery: a line chart at once, its mapping kept.
        n = int(preview.get_attribute("data-drawn"))
        page.click("[data-chart-type-pick=line]")
        n = _redrawn(page, n)
        assert preview.get_attribute("data-chart-type") == "line"
        assert _canvas(page) != bar

        # Columns to roles, listed with their types: one series per channel.
        options = page.locator("select[name=role-series] option").all_inner_texts()
        assert "channel · string" in options or any(o.startswith("channel") for o in options)
        page.select_option("select[name=role-series]", "channel")
        n = _redrawn(page, n)
        assert preview.get_attribute("data-series") == "web|store"

        # Format, axis title, sort, palette and legend: each redraws the real chart.
        before = _canvas(page)
        page.fill("input[name=format-unit]", "€")
        page.select_option("select[name=format-decimals]", "1")
        page.select_option("select[name=format-notation]", "compact")
        page.fill("input[name=y-title]", "Revenue (€)")
        page.select_option("select[name=sort-by]", "revenue")
        page.click("[data-palette=warm]")
        page.select_option("select[name=legend-position]", "bottom")
        n = _drawn(page, n + 1)
        page.wait_for_timeout(100)
        assert _canvas(page) != before
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, f"chart-builder-{name}")

        # Undo and redo, with the buttons and the keyboard.
        assert page.get_attribute("[data-palette=warm]", "aria-checked") == "true"
        page.click("[data-action=undo]")  # the legend position
        page.click("[data-action=undo]")  # the palette
        assert page.get_attribute("[data-palette=default]", "aria-checked") == "true"
        page.click("[data-action=redo]")
        assert page.get_attribute("[data-palette=warm]", "aria-checked") == "true"
        page.locator("body").press("Control+z")
        assert page.get_attribute("[data-palette=default]", "aria-checked") == "true"
        page.locator("body").press("Control+Shift+z")
        assert page.get_attribute("[data-palette=warm]", "aria-checked") == "true"
        page.click("[data-action=redo]")  # the legend again

        # The data toggle shows the rows behind the chart.
        page.click("[data-action=show-data]")
        assert "France" in page.locator(".cb-preview .table").inner_text()
        page.click("[data-action=show-data]")

        # Save: what the forms built is what staging holds.
        page.click("button:has-text('Save'):not([data-action])")
        page.wait_for_selector(".tc-story .chart[data-chart-type=line][data-state=ready]")
        page.wait_for_selector("[data-editor=chart-builder]", state="detached")
        saved, _ = _staging(stack, builder)
        chart = saved["slides"][0]["chart"]
        assert chart["type"] == "line" and chart["x"] == "country" and chart["y"] == ["revenue"]
        assert chart["series"] == "channel"
        assert chart["format"] == {"unit": "€", "decimals": 1, "compact": True}
        assert chart["yTitle"] == "Revenue (€)" and chart["sort"] == {"by": "revenue", "order": "asc"}
        assert chart["legend"] == {"show": True, "position": "bottom"} and chart["colors"][0] == "#9a3412"
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, f"chart-builder-saved-{name}")
        assert errors == []
        context.close()
        _reset(stack, builder)


def test_a_chart_from_nothing_picks_its_domain_and_draws(stack: str, page: Any, builder: str) -> None:
    _reset(stack, builder)
    login(page, stack, builder, PASSWORD)
    page.goto(f"{stack}/apps/{APP}/stories/blank?stage=staging")
    page.click("button:has-text('Edit')")
    page.click("[data-action=add-chart]")
    page.click("[data-tab=data]")
    page.locator("select[name=data-domain] option[value=sales]").wait_for(state="attached")
    page.select_option("select[name=data-domain]", "sales")
    # The new chart's roles are filled from the domain's columns: it draws at once.
    _drawn(page, 1)
    assert page.locator(PREVIEW).get_attribute("data-series") == "revenue"
    # Once it reads a domain, the visual pipeline builder edits the request's steps.
    page.locator("[data-slot=pipeline-builder]").wait_for()
    assert page.locator("select[name=data-domain]").count() == 0
    shot(page, "chart-builder-data-tab")
    page.click("[data-tab=chart]")
    assert page.input_value("select[name=role-x]") == "country"
    page.click("[data-chart-type-pick=donut]")
    page.wait_for_selector(f"{PREVIEW}[data-chart-type=donut][data-state=ready]")
    page.fill("input[name=chart-title]", "Revenue share")
    page.click("button:has-text('Save'):not([data-action])")
    page.wait_for_selector(".tc-chart .chart[data-chart-type=donut][data-state=ready]")
    blank = _staging(stack, builder)[0]["slides"][1]
    assert blank["charts"] == [
        {
            "chart": {"type": "donut", "label": "country", "value": "revenue"},
            "query": [{"name": "domain", "domain": "sales"}],
            "title": "Revenue share",
        }
    ]
    _reset(stack, builder)


def test_a_missing_column_is_named_and_the_save_refused(stack: str, page: Any, builder: str) -> None:
    _reset(stack, builder)
    _, version = _staging(stack, builder)
    login(page, stack, builder, PASSWORD)
    _open_editor(page, stack)
    page.click("[data-tab=advanced]")
    spec = json.loads(page.input_value("textarea[name=chart-spec]"))
    spec["y"] = ["margin"]
    page.fill("textarea[name=chart-spec]", json.dumps(spec))
    page.click("[data-tab=chart]")
    assert "margin" in page.locator("[data-missing]").inner_text()
    assert page.get_attribute("select[name=role-y-0]", "aria-invalid") == "true"
    page.click("button:has-text('Save'):not([data-action])")
    problem = page.locator("[data-save-problem]")
    problem.wait_for()
    assert "margin" in problem.inner_text() and "Not saved" in problem.inner_text()
    assert "margin" in page.locator("[data-preview-error]").inner_text()  # no blank axes
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "chart-builder-missing-column")
    assert _staging(stack, builder)[1] == version  # nothing written
    # Fixed by picking a real column: saved.
    page.select_option("select[name=role-y-0]", "units")
    assert page.locator("[data-missing]").count() == 0
    page.click("button:has-text('Save'):not([data-action])")
    page.wait_for_selector("[data-editor=chart-builder]", state="detached")
    assert _staging(stack, builder)[0]["slides"][0]["chart"]["y"] == ["units"]
    _reset(stack, builder)


def test_unsaved_edits_survive_a_reload(stack: str, page: Any, builder: str) -> None:
    _reset(stack, builder)
    login(page, stack, builder, PASSWORD)
    _open_editor(page, stack)
    page.click("[data-chart-type-pick=pie]")
    page.wait_for_selector(f"{PREVIEW}[data-chart-type=pie]")
    page.reload()
    page.wait_for_selector(READY)
    page.click("button:has-text('Edit')")
    prompt = page.locator("[data-draft-prompt]")
    prompt.wait_for()
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "chart-builder-draft-prompt")
    page.click("[data-action=restore-draft]")
    page.wait_for_selector(f"{PREVIEW}[data-chart-type=pie][data-state=ready]")
    assert prompt.count() == 0
    # Discarded, the draft is gone for good.
    page.reload()
    page.wait_for_selector(READY)
    page.click("button:has-text('Edit')")
    page.click("[data-action=discard-draft]")
    page.wait_for_selector(f"{PREVIEW}[data-chart-type=bar]")
    page.reload()
    page.wait_for_selector(READY)
    page.click("button:has-text('Edit')")
    _drawn(page, 1)
    assert page.locator("[data-draft-prompt]").count() == 0


def test_two_builders_are_warned_of_each_others_saves(stack: str, browser: Any, builder: str) -> None:
    _reset(stack, builder)
    api, admin = stack + "/_api", None
    token = httpx.post(f"{api}/login", json={"username": "admin", "password": "browser-admin-pw"}).json()["token"]
    admin = {"Authorization": f"Bearer {token}"}
    second = f"second-{APP}"
    httpx.post(
        f"{api}/users",
        json={"username": second, "password": PASSWORD, "privileges": {APP: ["contribute"]}},
        headers=admin,
    )
    pages = []
    for user in (builder, second):
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        login(page, stack, user, PASSWORD)
        _open_editor(page, stack)
        pages.append(page)
    mine, theirs = pages
    # The second builder switches to a pie and saves first.
    theirs.click("[data-chart-type-pick=pie]")
    theirs.click("button:has-text('Save'):not([data-action])")
    theirs.wait_for_selector("[data-editor=chart-builder]", state="detached")
    # The first, still on the version they opened, is warned: who, and which story differs.
    mine.click("[data-chart-type-pick=area]")
    mine.click("button:has-text('Save'):not([data-action])")
    conflict = mine.locator("[data-conflict]")
    conflict.wait_for()
    assert second in conflict.inner_text() and "Revenue" in conflict.inner_text()
    mine.evaluate("window.scrollTo(0, 0)")
    shot(mine, "chart-builder-conflict")
    assert _staging(stack, builder)[0]["slides"][0]["chart"]["type"] == "pie"
    # Overwrite: theirs is replaced by mine, knowingly.
    mine.click("[data-action=overwrite]")
    mine.wait_for_selector("[data-editor=chart-builder]", state="detached")
    assert _staging(stack, builder)[0]["slides"][0]["chart"]["type"] == "area"
    # Now the second builder is behind: "reload theirs" shows the saved chart.
    theirs.click("button:has-text('Edit')")
    _drawn(theirs, 1)
    theirs.click("[data-chart-type-pick=donut]")
    mine.click("button:has-text('Edit')")
    _drawn(mine, 1)
    mine.click("[data-chart-type-pick=scatter]")
    mine.click("button:has-text('Save'):not([data-action])")
    mine.wait_for_selector("[data-editor=chart-builder]", state="detached")
    theirs.click("button:has-text('Save'):not([data-action])")
    theirs.locator("[data-conflict]").wait_for()
    assert builder in theirs.locator("[data-conflict]").inner_text()
    theirs.click("[data-action=reload-theirs]")
    theirs.wait_for_selector(".tc-story .chart[data-chart-type=scatter][data-state=ready]")
    assert _staging(stack, builder)[0]["slides"][0]["chart"]["type"] == "scatter"
    for page in pages:
        page.context.close()
    _reset(stack, builder)


def test_a_release_is_refused_when_staging_moved_since_the_diff(stack: str, page: Any, builder: str) -> None:
    _reset(stack, builder)
    login(page, stack, builder, PASSWORD)
    page.goto(f"{stack}/apps/{APP}?stage=staging")
    page.click("[data-action=release-all]")
    dialog = page.locator("[data-dialog=release]")
    dialog.locator("[data-part=design]").wait_for()
    # Someone saves staging while the dialog is open.
    api, headers = _api(stack, builder)
    front = {"slides": [STORY, {**STORY, "id": "late", "title": "Late story"}]}
    assert httpx.put(f"{api}/{APP}/config?stage=staging", json=front, headers=headers).status_code == 200
    dialog.locator("[data-action=confirm-release]").click()
    dialog.locator("[data-stale]").wait_for()
    assert dialog.locator("[data-action=confirm-release]").is_disabled()
    shot(page, "release-dialog-stale")
    assert httpx.get(f"{api}/{APP}/releases", headers=headers).json()["releases"] == []
    dialog.locator("[data-action=reload-diff]").click()
    dialog.locator("[data-story-change=added][data-story=late]").wait_for()
    dialog.locator("[data-action=confirm-release]").click()
    page.get_by_role("status").get_by_text("Released").wait_for()
    assert len(httpx.get(f"{api}/{APP}/releases", headers=headers).json()["releases"]) == 1


def test_the_etl_editor_warns_of_a_save_made_meanwhile(stack: str, page: Any, builder: str) -> None:
    api, headers = _api(stack, builder)
    url = f"{api}/{APP}/config/etl?stage=staging"
    assert httpx.put(url, json={"DATA_SOURCES": [], "PIPELINE": []}, headers=headers).status_code == 200
    open_data_page(page, stack, APP, builder)
    page.click("[data-etl-tab=json]")  # the JSON is the Advanced tab beside the forms
    area = page.locator("textarea[name=etl-config]")
    area.wait_for()
    page.wait_for_function("() => document.querySelector('textarea[name=etl-config]').value.includes('DATA_SOURCES')")
    # Another builder adds a source while this page is open.
    theirs = {"DATA_SOURCES": [{"domain": "sales", "file": "sales.csv"}], "PIPELINE": []}
    assert httpx.put(url, json=theirs, headers=headers).status_code == 200
    area.fill(json.dumps({"DATA_SOURCES": [], "PIPELINE": [], "DATA_PERMISSIONS": []}))
    page.click("[data-action=save-etl]")
    error = page.locator("[data-etl-error]")
    error.wait_for()
    assert builder in error.inner_text() and "version" in error.inner_text()
    assert httpx.get(url, headers=headers).json() == theirs
    page.click("[data-action=reload-theirs]")
    page.wait_for_function("() => document.querySelector('textarea[name=etl-config]').value.includes('sales.csv')")
    # Theirs reloaded, edited and saved: no conflict now. Then an overwrite after another save.
    area.fill(json.dumps({**theirs, "DATA_PERMISSIONS": []}))
    page.click("[data-action=save-etl]")
    page.get_by_role("status").wait_for()
    assert httpx.put(url, json={"DATA_SOURCES": []}, headers=headers).status_code == 200
    area.fill(json.dumps({"DATA_SOURCES": [], "PIPELINE": []}))
    page.click("[data-action=save-etl]")
    page.click("[data-action=overwrite]")
    page.get_by_role("status").wait_for()
    assert httpx.get(url, headers=headers).json() == {"DATA_SOURCES": [], "PIPELINE": []}
