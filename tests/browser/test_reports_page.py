"""The scheduled reports page as a viewer uses it: create a report in forms (no JSON), test-run
it, download its PDF, pause it; at desktop and phone sizes."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.browser.test_screenshots import _make_app, api_login
from tests.browser.test_stories import login
from tests.helpers.browser import ADMIN_PASSWORD, DEMO_PASSWORD, shot

pytestmark = pytest.mark.browser


def test_a_viewer_schedules_test_runs_downloads_and_pauses_a_report(stack: str, page: Any) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.click("a[href='/reports']")
    page.get_by_text("No scheduled report yet.").wait_for()
    page.click("[data-action=new-report]")
    page.select_option("select[name=app]", "demo-sales")
    page.fill("input[name=name]", "Monday sales")
    page.locator("input[name='page-story:revenue-by-product']").wait_for()
    page.check("input[name='page-story:revenue-by-product']")
    page.select_option("select[name=preset]", "weekly")
    page.fill("input[name=time]", "07:30")
    page.select_option("select[name=time_zone]", "Europe/Paris")
    # The filter offers its values from the data, as the story page's filter does.
    country = page.locator(".report-filters select[name=country]")
    page.locator(".report-filters select[name=country] option[value=Spain]").wait_for(state="attached")
    choices = country.locator("option").all_inner_texts()
    assert choices[0].startswith("Default") and {"Spain", "France"} <= set(choices[1:])
    country.select_option("Spain")
    assert page.locator("code").first.inner_text() == "30 7 * * 1"
    shot(page, "reports-form")
    page.click("[data-action=save-report]")
    report = page.locator(".report").first
    report.get_by_text("Monday sales").wait_for()
    assert "Europe/Paris" in report.inner_text() and "Next:" in report.inner_text()
    assert "App home, Revenue by product" in report.inner_text()  # titles, not ids
    # A wrong schedule is named in the form, not a 500.
    page.click("[data-action=new-report]")
    page.fill("input[name=name]", "Broken")
    page.select_option("select[name=preset]", "custom")
    page.fill("input[name=cron]", "every monday")
    page.click("[data-action=save-report]")
    assert "(cron)" in page.locator(".report-form [role=alert]").inner_text()
    page.click("text=Cancel")

    report.locator("[data-action=run]").click()
    page.locator("tr[data-state=succeeded]").first.wait_for(timeout=90000)
    shot(page, "reports-run")
    with page.expect_download() as download:
        page.locator("[data-action=pdf]").first.click()
    path = download.value.path()
    assert path is not None
    with open(path, "rb") as f:
        reader = PdfReader(io.BytesIO(f.read()))
    assert len(reader.pages) == 2  # the home and the story
    assert "Revenue by product" in reader.pages[1].extract_text()
    assert "Country Spain" in reader.pages[1].extract_text()

    report.locator("[data-action=pause]").click()
    report.locator(".badge", has_text="Paused").wait_for()
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "reports-phone")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    # Only the refused schedule's 400, which the form explained.
    assert [e for e in page.console_errors if "400" not in e] == []


def test_the_owner_sees_a_failed_run_and_why(stack: str, page: Any) -> None:
    admin = api_login(stack, "admin", ADMIN_PASSWORD)
    table = {"type": "table"}
    query = [{"name": "domain", "domain": "sales"}]
    story = {"id": "soon-gone", "title": "Soon gone", "chart": table, "query": query}
    _make_app(stack, admin, "gone-story", {"home": {"title": "Gone story"}, "slides": [story]})
    api = stack + "/_api"
    body = {"app": "gone-story", "name": "Lost story", "pages": ["story:soon-gone"], "cron": "0 8 * * 1"}
    created = httpx.post(f"{api}/reports", json=body, headers=admin)
    assert created.status_code == 201, created.text
    # The story leaves the app after the report was made.
    httpx.put(
        f"{api}/gone-story/config?stage=staging", json={"home": {"title": "Gone story"}, "slides": []}, headers=admin
    )
    httpx.post(
        f"{api}/gone-story/config/operations", json={"operations": ["release_design"]}, headers=admin
    ).raise_for_status()

    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.goto(stack + "/reports")
    report = page.locator(".report", has_text="Lost story")
    report.locator("[data-action=run]").click()
    failed = page.locator("tr[data-state=failed]").first
    failed.wait_for(timeout=90000)
    assert "no story 'soon-gone'" in failed.locator(".run-error").inner_text()
    shot(page, "reports-failed-run")


def test_the_report_form_offers_each_filters_values_by_its_type(stack: str, page: Any) -> None:
    admin = api_login(stack, "admin", ADMIN_PASSWORD)
    domain = [{"name": "domain", "domain": "sales"}]
    cities = [*domain, {"name": "uniquegroups", "on": ["city"]}]
    requesters = [
        {"id": "cities", "label": "Cities", "type": "multiselect", "query": cities, "column": "city"},
        {"id": "year", "label": "Year", "type": "dropdown", "options": ["2023", "2024"]},
        {"id": "day", "label": "Day", "type": "date"},
    ]
    story = {"id": "all", "title": "All", "chart": {"type": "table"}, "query": domain}
    _make_app(stack, admin, "picky", {"home": {"title": "Picky"}, "slides": [story], "requesters": requesters})

    login(page, stack, "admin", ADMIN_PASSWORD)
    for width, height, name in ((1440, 900, "reports-filters"), (390, 844, "reports-filters-phone")):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(stack + "/reports")
        page.click("[data-action=new-report]")
        page.select_option("select[name=app]", "picky")
        form = page.locator(".report-filters")
        # A multiselect of the data's cities, a dropdown of the declared years, a date.
        form.locator("[data-requester=cities] summary").click()
        boxes = form.locator("[data-requester=cities] input[type=checkbox]")
        boxes.first.wait_for()
        cities_shown = [b.get_attribute("value") for b in boxes.all()]
        assert set(cities_shown) == {"Paris", "Lyon", "Madrid", "Sevilla", "Roma"}
        assert form.locator("select[name=year] option").all_inner_texts()[1:] == ["2023", "2024"]
        assert form.locator("input[name=day]").get_attribute("type") == "date"
        shot(page, name)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
    form.locator("[data-requester=cities] input[value=Madrid]").check()
    form.locator("[data-requester=cities] input[value=Roma]").check()
    form.locator("select[name=year]").select_option("2024")
    form.locator("input[name=day]").fill("2024-03-01")
    page.fill("input[name=name]", "Picked")
    page.click("[data-action=save-report]")
    page.locator(".report", has_text="Picked").wait_for()
    saved = [r for r in httpx.get(f"{stack}/_api/reports", headers=admin).json()["reports"] if r["name"] == "Picked"]
    assert saved[0]["variables"] == {"cities": ["Madrid", "Roma"], "year": "2024", "day": "2024-03-01"}
