"""The main pages pass axe-core (Deque's accessibility engine, frontend/node_modules/axe-core)
with no serious or critical violation, on a desktop and on a phone: login, the app list, an
app's home, a story with charts, a chapter, the 404 page, the data page, the story editor and
an admin page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.test_stories import READY, login
from tests.helpers import ROOT
from tests.helpers.browser import ADMIN_PASSWORD, shot

pytestmark = pytest.mark.browser
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
APP = "/apps/demo-sales"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
BLOCKING = ("serious", "critical")


def _story_editor(page: Any, base: str) -> None:
    page.goto(base + APP + "/stories/monthly-revenue?stage=staging")
    page.wait_for_selector(READY)
    page.click("[data-action=edit-story]")
    page.wait_for_selector("[data-story-studio]")


def _story_explored(page: Any, base: str) -> None:
    """A story with a chart shown as a table and another's menu listing its categories."""
    page.goto(base + APP + "/stories/country-dashboard")
    page.wait_for_selector(READY + " canvas")
    page.click("[data-chart-type=bar] [data-action=chart-menu]")
    page.click("[data-action=as-table]")
    page.click("[data-chart-type=line] [data-action=chart-menu]")
    page.click("[data-chart-type=line] [data-action^=pick-]")
    page.wait_for_selector("[data-pick-index]")


def _open(url: str, ready: str) -> Callable[[Any, str], None]:
    def go(page: Any, base: str) -> None:
        page.goto(base + url)
        page.wait_for_selector(ready)

    return go


# name → how to reach the page once signed in (the login page is checked signed out).
PAGES: dict[str, Callable[[Any, str], None]] = {
    "store": _open("/", ".tile"),
    "app-home": _open(APP, READY + " .kpi-value"),
    "story": _open(APP + "/stories/monthly-revenue", READY + " canvas"),
    "story-explored": _story_explored,
    "chapter": _open(APP + "/stories/overview", "[data-chapter-stories] .thumb"),
    "not-found": _open(APP + "/stories/no-such-story", "[data-not-found=story]"),
    "data": _open(APP + "/data", "[data-dropzone]"),
    "story-editor": _story_editor,
    "admin-users": _open("/settings/users", "table"),
}


def violations(page: Any) -> list[str]:
    """The page's serious and critical axe violations, one line each: rule, impact, element."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {', '.join(' '.join(n['target']) for n in v['nodes'][:5])} — {v['help']}"
        for v in found
        if v["impact"] in BLOCKING
    ]


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, browser: Any) -> Any:
    width, height = SIZES[request.param]
    phone = request.param == "phone"
    # The app's CSP forbids inline scripts; axe is injected by the test, not served by the app.
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone, bypass_csp=True
    )
    page = context.new_page()
    page.size_name = request.param
    yield page
    context.close()


def test_the_login_page_has_no_serious_violation(stack: str, sized: Any) -> None:
    sized.goto(stack + "/login")
    sized.wait_for_selector("input[name=username]")
    found = violations(sized)
    shot(sized, f"a11y-login-{sized.size_name}")
    assert found == [], "\n".join(found)


def test_a_violation_is_reported_with_its_rule_and_element(stack: str, sized: Any) -> None:
    """The check itself: a nameless button on the page fails it, named by rule and target."""
    sized.goto(stack + "/login")
    sized.wait_for_selector("input[name=username]")
    sized.evaluate("document.body.insertAdjacentHTML('beforeend', '<button id=nameless></button>')")
    found = violations(sized)
    assert any(line.startswith("button-name (critical): #nameless") for line in found), found


@pytest.mark.parametrize("name", list(PAGES))
def test_the_main_pages_have_no_serious_violation(stack: str, sized: Any, name: str) -> None:
    login(sized, stack, "admin", ADMIN_PASSWORD)
    PAGES[name](sized, stack)
    found = violations(sized)
    shot(sized, f"a11y-{name}-{sized.size_name}")
    assert found == [], f"{name} at {sized.size_name}:\n" + "\n".join(found)
