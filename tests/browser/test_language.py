"""The language a user picks follows them: it is saved on the server, so another device (a
fresh browser, whatever its own language or stored choice) opens in it after login, and the
charts already drawn are redrawn in its number formats."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.test_stories import READY, login
from tests.helpers.browser import ADMIN_PASSWORD, record_errors, shot

pytestmark = pytest.mark.browser
USER = "polyglot"
PASSWORD = "polyglot-password-1"
STORY = "/apps/demo-sales/stories/country-dashboard"


@pytest.fixture
def polyglot(stack: str) -> str:
    api = stack + "/_api"
    token = httpx.post(f"{api}/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    httpx.delete(f"{api}/users/{USER}", headers=headers)
    created = httpx.post(
        f"{api}/users",
        json={"username": USER, "password": PASSWORD, "privileges": {"demo-sales": ["view"]}},
        headers=headers,
    )
    created.raise_for_status()
    return USER


def _device(browser: Any, stored: str | None = None) -> Any:
    """A fresh browser profile speaking English (and, when given, an earlier choice stored)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    if stored:
        context.add_init_script(f"localStorage.setItem('toucan.locale', '{stored}')")
    page = record_errors(context.new_page())
    return page


def test_french_chosen_on_one_device_opens_in_french_on_another(stack: str, browser: Any, polyglot: str) -> None:
    laptop = _device(browser)
    login(laptop, stack, polyglot, PASSWORD)
    laptop.goto(stack + STORY)
    laptop.wait_for_selector(READY)
    assert laptop.evaluate("document.documentElement.lang") == "en"
    drawn = laptop.locator(".chart[data-chart-type=line]")
    assert drawn.get_attribute("data-drawn-locale") == "en"
    kpi_en = laptop.locator(".kpi-value").first.inner_text()

    with laptop.expect_response(lambda r: r.url.endswith("/_api/me") and r.request.method == "PATCH") as saved:
        laptop.select_option("select[name=language]", "fr")
    assert saved.value.status == 200 and saved.value.json()["locale"] == "fr"
    laptop.get_by_role("button", name="Se déconnecter").wait_for()
    assert laptop.evaluate("document.documentElement.lang") == "fr"
    # The charts already drawn follow at once: the line redrawn in French, the KPI in French.
    laptop.wait_for_selector(".chart[data-chart-type=line][data-drawn-locale=fr]")
    kpi_fr = laptop.locator(".kpi-value").first.inner_text()
    assert kpi_fr != kpi_en and "\u00a0€" in kpi_fr, (kpi_en, kpi_fr)
    shot(laptop, "language-laptop-fr")
    assert laptop.console_errors == []

    # Another device: an English browser that even chose English before. The server's choice wins.
    phone = _device(browser, stored="en")
    login(phone, stack, polyglot, PASSWORD)
    phone.get_by_role("button", name="Se déconnecter").wait_for()
    assert phone.evaluate("document.documentElement.lang") == "fr"
    phone.goto(stack + STORY)  # a page load restores the session: still French
    phone.wait_for_selector(READY)
    phone.wait_for_selector(".chart[data-chart-type=line][data-drawn-locale=fr]")
    assert phone.locator(".kpi-value").first.inner_text() == kpi_fr
    assert phone.get_by_role("button", name="Se déconnecter").is_visible()
    shot(phone, "language-other-device-fr")

    # Back to English on the second device: the first one follows at its next page load.
    with phone.expect_response(lambda r: r.url.endswith("/_api/me") and r.request.method == "PATCH"):
        phone.select_option("select[name=language]", "en")
    phone.get_by_role("button", name="Sign out").wait_for()
    laptop.reload()
    laptop.wait_for_selector(READY)
    laptop.get_by_role("button", name="Sign out").wait_for()
    assert laptop.evaluate("document.documentElement.lang") == "en"
    assert phone.console_errors == []
    laptop.context.close()
    phone.context.close()
