"""Safe release in the web app: a story changed in staging, released through the dialog that
shows the change, seen in production, then production rolled back from the Releases page."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.browser.test_data_page import PASSWORD, builder_of_a_new_app
from tests.browser.test_stories import READY, login
from tests.helpers.browser import shot

pytestmark = pytest.mark.browser
APP = "release-flow"
STORY = {
    "id": "share",
    "title": "Category share",
    "chart": {"type": "pie", "label": "category", "value": "revenue"},
    "query": [{"name": "domain", "domain": "sales"}],
}


def _prepare(stack: str) -> str:
    """The app with one story (a pie) and one domain, released once; its builder's name."""
    username = builder_of_a_new_app(stack, APP)
    api = stack + "/_api"
    token = httpx.post(f"{api}/login", json={"username": username, "password": PASSWORD}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    front = {"slides": [STORY], "home": {"title": "Release flow"}}
    assert httpx.put(f"{api}/{APP}/config?stage=staging", json=front, headers=headers).status_code == 200
    csv = "category,revenue\nBooks,10\nGames,30\nMusic,20\n"
    uploaded = httpx.put(f"{api}/{APP}/domain/sales", content=csv, headers={**headers, "Content-Type": "text/csv"})
    assert uploaded.status_code == 200, uploaded.text
    first = httpx.post(
        f"{api}/{APP}/config/operations", json={"operations": ["release_design", "release_data"]}, headers=headers
    )
    assert first.status_code == 200, first.text
    return username


def _production_chart(page: Any, stack: str, kind: str) -> None:
    page.goto(f"{stack}/apps/{APP}/stories/share")
    page.wait_for_selector(READY)
    page.wait_for_selector(f".chart[data-chart-type={kind}][data-state=ready]")


def test_release_through_the_dialog_then_roll_back(stack: str, browser: Any) -> None:
    username = _prepare(stack)
    for name, viewport in (("desktop", {"width": 1280, "height": 800}), ("phone", {"width": 390, "height": 844})):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        login(page, stack, username, PASSWORD)
        _production_chart(page, stack, "pie")

        # Change the story in staging: the pie becomes a bar chart, saved and released.
        page.click(".stage-switch button:has-text('Staging')")
        page.wait_for_selector(READY)
        page.click("button:has-text('Edit')")
        page.click("[data-tab=advanced]")  # the chart builder's JSON view
        spec = json.loads(page.input_value("textarea[name=chart-spec]"))
        spec.update({"type": "bar", "x": "category", "y": ["revenue"]})
        page.fill("textarea[name=chart-spec]", json.dumps(spec))
        page.click("[data-action=release]")
        dialog = page.locator("[data-dialog=release]")
        changed = dialog.locator("[data-story-change=changed][data-story=share]")
        changed.wait_for()
        assert "Category share" in changed.inner_text()
        sales = dialog.locator("[data-domain=sales]")
        assert sales.get_attribute("data-change") == "unchanged"
        assert [c.inner_text() for c in sales.locator("td.num").all()] == ["3", "3"]
        page.evaluate("window.scrollTo(0, 0)")  # the editor scrolled the page; the dialog is fixed
        shot(page, f"release-dialog-{name}")
        dialog.locator("[data-action=confirm-release]").click()
        page.get_by_role("status").get_by_text("Released").wait_for()
        assert dialog.count() == 0

        # Viewers' stage shows the change.
        _production_chart(page, stack, "bar")

        # The Releases page: the newest release is this one; roll back to the one before.
        page.goto(f"{stack}/apps/{APP}/releases")
        items = page.locator("[data-release]")
        items.first.wait_for()
        assert username in items.first.inner_text()
        assert "Stories: 1 changed" in items.first.locator("[data-what]").inner_text()
        previous = items.nth(1)
        previous.locator("[data-action=rollback]").click()
        assert "Staging does not change" in previous.inner_text()
        shot(page, f"releases-confirm-{name}")
        previous.locator("[data-action=confirm-rollback]").click()
        page.get_by_role("status").get_by_text("Production is back to release").wait_for()
        assert "Rollback to release #" in page.locator("[data-release]").first.inner_text()
        shot(page, f"releases-rolled-back-{name}")

        # Production shows the old story again; staging keeps the change.
        _production_chart(page, stack, "pie")
        page.click(".stage-switch button:has-text('Staging')")
        page.wait_for_selector(".chart[data-chart-type=bar][data-state=ready]")
        assert errors == []
        context.close()
