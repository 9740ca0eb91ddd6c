"""Each chart's menu, as a viewer uses it: the chart's data downloaded as CSV and Excel with the
current filter applied (the same rows `/data` gives), the data shown as a table (the chart's
text alternative), and fullscreen."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from tests.browser.test_stories import READY, login
from tests.helpers.browser import DEMO_PASSWORD, shot

pytestmark = pytest.mark.browser
STORY = "top-countries"


def test_a_viewer_downloads_a_charts_data_and_reads_it_as_a_table(stack: str, page: Any) -> None:
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.goto(f"{stack}/apps/demo-sales/stories/{STORY}")
    page.wait_for_selector(READY)
    chart = page.locator(".chart[data-state=ready]").first
    chart.locator("[data-action=chart-menu]").click()
    shot(page, "chart-menu-open")
    with page.expect_request(lambda r: "/data/export" in r.url) as sent, page.expect_download() as csv_download:
        chart.locator("[data-action=export-csv]").click()
    download = csv_download.value
    # The file holds what /data answers for the chart's own request, every row of it.
    request = json.loads(sent.value.post_data)
    token = page.evaluate("() => localStorage.getItem('toucan.token')")
    everything = httpx.post(
        f"{stack}/_api/demo-sales/data?stage=production",
        json={"query": request["query"], "variables": request["variables"]},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    # The drawn chart says what it is to a screen reader.
    label = chart.locator(".echart").get_attribute("aria-label") or ""
    assert chart.locator(".echart").get_attribute("role") == "img"
    assert f"{everything['total']} rows" in label, label
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert len(rows) == everything["total"]
    first = everything["data"][0]
    assert {k: str(v) for k, v in first.items()} == rows[0]

    chart.locator("[data-action=chart-menu]").click()
    with page.expect_download() as xlsx_download:
        chart.locator("[data-action=export-xlsx]").click()
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(xlsx_download.value.path().read_bytes()), read_only=True).active
    assert sheet is not None
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0] == [c["name"] for c in everything["columns"]]
    assert len(table) == everything["total"] + 1

    # The data as a table: the values a chart only shows as shapes.
    chart.locator("[data-action=chart-menu]").click()
    chart.locator("[data-action=as-table]").click()
    table_rows = chart.locator("table tbody tr:not([aria-hidden])")
    assert table_rows.count() == min(everything["total"], table_rows.count()) and table_rows.count() > 0
    assert str(first[everything["columns"][0]["name"]]) in chart.locator("table").inner_text()
    shot(page, "chart-as-table")
    chart.locator("[data-action=chart-menu]").click()
    chart.locator("[data-action=as-table]").click()
    chart.locator(".echart").wait_for()
    assert page.console_errors == []


def test_a_download_follows_the_filter_and_the_viewers_rows(stack: str, page: Any) -> None:
    """With the Country filter on Spain, the monthly revenue's file holds Spain's rows only."""
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.goto(f"{stack}/apps/demo-sales/stories/revenue-by-product")
    page.wait_for_selector(READY)
    page.select_option("select[data-requester=country]", "Spain")
    page.wait_for_selector(READY)
    chart = page.locator(".chart[data-state=ready]").first
    chart.locator("[data-action=chart-menu]").click()
    with page.expect_request(lambda r: "/data/export" in r.url) as sent, page.expect_download() as file:
        chart.locator("[data-action=export-csv]").click()
    assert json.loads(sent.value.post_data)["variables"]["country"] == "Spain"
    assert file.value.suggested_filename.endswith(".csv")


def test_on_a_phone_a_wide_table_scrolls_with_a_hint_and_its_first_column_stays(stack: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        login(page, stack, "demo-viewer", DEMO_PASSWORD)
        page.goto(f"{stack}/apps/demo-sales/stories/sales-table")
        page.wait_for_selector(READY)
        hint = page.locator("[data-scroll-hint]")
        hint.wait_for()
        wrap = page.locator("[data-virtual-table]").first
        first = page.locator("[data-virtual-table] tbody tr:not([aria-hidden]) td").first
        before = first.bounding_box()
        shot(page, "phone-table-hint")
        wrap.evaluate("el => { el.scrollLeft = el.scrollWidth; el.dispatchEvent(new Event('scroll')); }")
        page.wait_for_function("() => !document.querySelector('[data-scroll-hint]')")
        after = first.bounding_box()
        assert before is not None and after is not None and abs(after["x"] - before["x"]) < 1  # sticky
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "phone-table-scrolled")
    finally:
        context.close()
