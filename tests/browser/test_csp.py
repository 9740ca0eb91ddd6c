"""The web app under its Content-Security-Policy in Chromium: a person's usual round (log in,
a story of ECharts charts with a tooltip, the data page, settings) raises no violation and
logs nothing; what the policy forbids is really refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_stories import READY, login
from tests.helpers.browser import ADMIN_PASSWORD, shot

pytestmark = pytest.mark.browser

# Every violation the page sees, reported to the test (kept across navigations).
REPORT_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const text = [e.effectiveDirective, e.blockedURI, e.sourceFile, e.lineNumber].join(" ");
  window.__violations.push(text);
  window.reportViolation(text);
});
"""


TOOLTIP_SHOWN = """() => [...document.querySelectorAll(".tc-story .chart div")].some(
  (d) => d.innerText && getComputedStyle(d).position === "absolute" && getComputedStyle(d).display !== "none"
)"""


@pytest.fixture
def watched(browser: Any) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A page, the CSP violations it reported and every console message it wrote."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    violations: list[str] = []
    console: list[str] = []
    context.expose_binding("reportViolation", lambda _source, text: violations.append(text))
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    try:
        yield page, violations, console
    finally:
        context.close()


def test_the_usual_round_raises_no_violation_and_logs_nothing(
    stack: str, watched: tuple[Any, list[str], list[str]]
) -> None:
    page, violations, console = watched
    with page.expect_response(lambda r: r.url == stack + "/login") as document:
        page.goto(stack + "/login")
    policy = document.value.header_value("content-security-policy")
    assert policy and "script-src 'self'" in policy and "frame-ancestors 'self'" in policy
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.get_by_text("Demo — Sales").wait_for()

    # A story of four charts (ECharts canvases, a KPI, a table), then one chart's tooltip:
    # ECharts writes the tooltip as HTML with style attributes.
    page.goto(stack + "/apps/demo-sales/stories/country-dashboard")
    page.wait_for_selector(READY)
    page.goto(stack + "/apps/demo-sales/stories/channels-by-year")
    page.wait_for_selector(READY)
    canvas = page.locator(".tc-story .chart canvas").first
    box = canvas.bounding_box()
    assert box is not None
    for step in range(1, 10):
        page.mouse.move(box["x"] + box["width"] * step / 10, box["y"] + box["height"] / 2)
    page.wait_for_function(TOOLTIP_SHOWN)
    shot(page, "csp-tooltip")

    page.goto(stack + "/apps/demo-sales/data")
    page.get_by_role("heading", name="Data sources").wait_for()
    page.goto(stack + "/settings")
    page.wait_for_selector("[data-user=demo-viewer]")
    page.goto(stack + "/settings/privileges?user=demo-viewer")
    page.wait_for_selector("[data-table=privileges] [data-app]")
    page.goto(stack + "/settings/permissions")
    page.wait_for_selector("[data-testid=permission-preview]")
    page.goto(stack + "/settings/instance")
    page.wait_for_selector("[data-provider=local]")
    page.goto(stack + "/settings/instance?view=cson")
    page.wait_for_function("() => document.querySelector('textarea[name=instance-settings]')?.value.length > 0")
    shot(page, "csp-settings")

    assert violations == []
    assert console == []


def test_what_the_policy_forbids_is_refused_and_reported(stack: str, watched: tuple[Any, list[str], list[str]]) -> None:
    page, _violations, console = watched
    page.goto(stack + "/login")
    page.wait_for_selector("input[name=username]")
    ran = page.evaluate(
        """() => {
          window.injected = false;
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.head.appendChild(script);
          const style = document.createElement("style");
          style.textContent = "body { background: red }";
          document.head.appendChild(style);
          const framed = document.createElement("object");
          framed.data = "/favicon.svg";
          document.body.appendChild(framed);
          return { injected: window.injected, styled: getComputedStyle(document.body).backgroundColor };
        }"""
    )
    assert ran["injected"] is False and ran["styled"] != "rgb(255, 0, 0)"
    # Reports are events: wait until the three refusals have arrived.
    page.wait_for_function("() => window.__violations.length >= 3")
    directives = {v.split(" ")[0] for v in page.evaluate("window.__violations")}
    assert {"script-src-elem", "style-src-elem", "object-src"} <= directives, directives
    assert any("Content Security Policy" in m for m in console)
