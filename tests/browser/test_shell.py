"""The web app's frame on every page: titles, language, skip link, and the top bar on a phone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_stories import login
from tests.helpers.browser import ADMIN_PASSWORD, DEMO_PASSWORD, shot

pytestmark = pytest.mark.browser


def test_pages_are_titled_and_the_language_choice_survives_a_reload(stack: str, page: Any) -> None:
    page.goto(stack + "/login")
    assert page.title() == "Sign in · Toucan"
    login(page, stack, "admin", ADMIN_PASSWORD)
    assert page.title() == "Apps · Toucan"
    assert page.evaluate("document.documentElement.lang") == "en"
    page.select_option("select.lang", "fr")
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.title() == "Applications · Toucan"
    page.reload()
    page.wait_for_selector("select.lang")
    assert page.locator("select.lang").input_value() == "fr"
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.title() == "Applications · Toucan"
    page.goto(stack + "/settings/users")
    page.wait_for_selector("text=Utilisateurs")
    assert page.title() == "Utilisateurs · Paramètres · Toucan"
    page.select_option("select.lang", "en")
    assert page.title() == "Users · Settings · Toucan"
    assert page.console_errors == []


def test_a_keyboard_user_skips_the_navigation(stack: str, page: Any) -> None:
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.goto(stack + "/settings/users")
    page.wait_for_selector("text=Users")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_on_a_phone_the_top_bar_folds_into_a_menu(stack: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        login(page, stack, "admin", ADMIN_PASSWORD)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        signout = page.locator("[data-action=logout]")
        assert not signout.is_visible()
        bar = page.locator(".topbar").bounding_box()
        assert bar is not None and bar["height"] < 70, bar
        shot(page, "phone-topbar-closed")
        page.click("[data-action=menu]")
        assert page.locator("[data-action=menu]").get_attribute("aria-expanded") == "true"
        assert signout.is_visible() and page.locator(".topnav >> text=Settings").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "phone-topbar-open")
        # Following a link closes the menu.
        page.click(".topnav >> text=Settings")
        page.wait_for_url(stack + "/settings/users")
        assert not signout.is_visible()
        page.click("[data-action=menu]")
        signout.click()
        page.wait_for_url(stack + "/login**")
    finally:
        context.close()


# ECharts' tooltip: the absolutely placed box it stacks above everything (z-index 9999999).
TOOLTIP = """() => [...document.querySelectorAll(".tc-story .chart div")].find((d) => {
  const s = getComputedStyle(d);
  return d.innerText && s.position === "absolute" && s.zIndex === "9999999" && s.display !== "none"
    && s.visibility !== "hidden" && s.opacity !== "0";
})"""


def test_a_tap_on_a_phone_shows_the_exact_value_inside_the_screen(stack: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.goto(f"{stack}/apps/demo-sales/stories/monthly-revenue")
    page.wait_for_selector("body[data-render-complete='true'] .tc-story canvas")
    canvas = page.locator(".tc-story .chart canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    # Near the right edge, where an unconfined tooltip would run off the screen.
    page.touchscreen.tap(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.5)
    tip = page.wait_for_function(TOOLTIP).as_element()
    assert tip is not None
    text = tip.inner_text()
    assert "€" in text and any(c.isdigit() for c in text), text
    assert not any(text.strip().endswith(s + "\u00a0€") for s in ("K", "M")), text  # exact, not compact
    where = tip.bounding_box()
    assert where is not None and where["x"] >= 0 and where["x"] + where["width"] <= 390, where
    shot(page, "phone-tooltip")
    context.close()
