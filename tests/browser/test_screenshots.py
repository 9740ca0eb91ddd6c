"""Screenshots and PDF exports against the real stack: the embedded worker's warm Chromium
captures the capture view with a capture token; the PNGs and PDFs are read back (pixels of
the chart's area, the page count and text of a PDF), and kept under test-artifacts/ to look at."""

from __future__ import annotations

import io
import json
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pypdf import PdfReader

from tests.api.test_data import PERMISSIONS, SALES_CSV
from tests.helpers.browser import ADMIN_PASSWORD, DEMO_PASSWORD, SCREENSHOTS
from tests.helpers.png import read_png

pytestmark = pytest.mark.browser
READY = "body[data-render-complete='true']"
DEMO = "demo-sales"


def api_login(stack: str, username: str, password: str) -> dict[str, str]:
    response = httpx.post(f"{stack}/_api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def export(stack: str, headers: dict[str, str], app: str, body: dict[str, Any], timeout: float = 90) -> bytes:
    """Queue an export, wait for it, and download its file through its link (no credentials)."""
    created = httpx.post(f"{stack}/_api/{app}/exports", json=body, headers=headers)
    assert created.status_code == 202, created.text
    export_id = created.json()["id"]
    deadline = time.monotonic() + timeout
    while True:
        job = httpx.get(f"{stack}/_api/exports/{export_id}", headers=headers).json()
        if job["state"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    if job["state"] == "failed" and job.get("partial_url"):
        keep(f"export-failed-{export_id[:8]}.png", httpx.get(stack + "/_api" + job["partial_url"]).content)
    assert job["state"] == "succeeded", (job["error"], job.get("report"))
    assert job["download_url"].startswith(f"/exports/{export_id}/file?expires=")
    downloaded = httpx.get(stack + "/_api" + job["download_url"])
    assert downloaded.status_code == 200, downloaded.text
    return downloaded.content


def keep(name: str, data: bytes) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / name).write_bytes(data)


def open_capture(page: Any, stack: str, token_headers: dict[str, str], path: str) -> None:
    """The capture view in the test's own browser, with the given session (to measure it)."""
    page.goto(stack + "/login")
    page.evaluate("t => localStorage.setItem('toucan.token', t)", token_headers["Authorization"][7:])
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(stack + path)
    page.wait_for_selector(READY + " .tc-story")


def test_a_story_png_shows_its_chart(stack: str, page: Any) -> None:
    viewer = api_login(stack, "demo-viewer", DEMO_PASSWORD)
    body = {"page": "story", "story": "revenue-by-product", "format": "png", "variables": {"country": "Spain"}}
    png = export(stack, viewer, DEMO, body)
    keep("export-story.png", png)
    image = read_png(png)
    assert image.width == 1440
    # Where the chart is on the same page, measured in the test's browser.
    vars_ = quote(json.dumps({"country": "Spain"}, separators=(",", ":")))
    open_capture(page, stack, viewer, f"/capture/apps/{DEMO}/stories/revenue-by-product?stage=production&vars={vars_}")
    box = page.locator(".tc-chart canvas").first.bounding_box()
    assert box and box["height"] > 100
    ink, colored, colors = image.region_stats(int(box["x"]), int(box["y"]), int(box["width"]), int(box["height"]))
    # Bars and their labels: many coloured pixels, many colours — not a blank or grey box.
    assert colored > 2000 and colors > 20, (ink, colored, colors)
    # The filter the capture was asked with is the one shown.
    assert page.locator(".capture-filters").inner_text().replace("\n", " ").endswith("Spain")
    # Above the chart, the page's header band is plain background: the chart is where it should be.
    assert image.region_stats(0, 0, 1440, 8)[1] == 0


def _make_app(
    stack: str, admin: dict[str, str], app: str, front: dict[str, Any], etl: dict[str, Any] | None = None
) -> None:
    api = stack + "/_api"
    created = httpx.post(f"{api}/small-apps", json={"id": app, "name": app.replace("-", " ").title()}, headers=admin)
    if created.status_code == 409:
        return
    assert created.status_code in (200, 201), created.text
    response = httpx.put(
        f"{api}/{app}/domain/sales?stage=staging", content=SALES_CSV, headers={**admin, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    httpx.post(f"{api}/{app}/data/release", headers=admin).raise_for_status()
    if etl:
        httpx.put(f"{api}/{app}/config/etl?stage=staging", json=etl, headers=admin).raise_for_status()
    httpx.put(f"{api}/{app}/config?stage=staging", json=front, headers=admin).raise_for_status()
    httpx.post(
        f"{api}/{app}/config/operations", json={"operations": ["release_design"]}, headers=admin
    ).raise_for_status()


def test_a_tall_home_is_captured_whole(stack: str, page: Any) -> None:
    admin = api_login(stack, "admin", ADMIN_PASSWORD)
    kpi_query = [
        {"name": "domain", "domain": "sales"},
        {
            "name": "aggregate",
            "on": [],
            "aggregations": [{"columns": ["revenue"], "aggfunction": "sum", "newcolumns": ["revenue"]}],
        },
    ]
    kpis = [{"title": f"Revenue {i + 1}", "query": kpi_query, "value": "revenue"} for i in range(60)]
    _make_app(stack, admin, "tall-home", {"home": {"title": "A tall home", "kpis": kpis}, "slides": []})
    png = export(stack, admin, "tall-home", {"page": "home", "format": "png"})
    keep("export-tall-home.png", png)
    image = read_png(png)
    open_capture(page, stack, admin, "/capture/apps/tall-home?stage=production")
    height = page.evaluate("Math.ceil(document.querySelector('.capture').getBoundingClientRect().bottom)")
    assert height > 1200  # well past the first screen (900 px)
    assert abs(image.height - height) <= 1 and image.width == 1440
    last = page.locator(".kpi-card").last.bounding_box()
    assert last and last["y"] > 900  # below the first screen
    ink, _, _ = image.region_stats(int(last["x"]), int(last["y"]), int(last["width"]), int(last["height"]))
    assert ink > 300  # the last KPI (title and value) is drawn, not cut off


def test_a_report_pdf_has_one_page_per_story_with_text(stack: str) -> None:
    viewer = api_login(stack, "demo-viewer", DEMO_PASSWORD)
    stories = ["revenue-by-product", "sales-table", "monthly-revenue"]
    body = {"page": "report", "stories": stories, "format": "pdf", "variables": {"country": "Spain"}}
    pdf = export(stack, viewer, DEMO, body)
    keep("export-report.pdf", pdf)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3
    texts = [p.extract_text() for p in reader.pages]
    titles = ["Revenue by product", "Sales by country and product", "Monthly revenue"]
    for text, title in zip(texts, titles, strict=True):
        assert title in text, text[:500]
        assert "Demo — Sales" in text  # the header: app and story titles
        assert time.strftime("%Y-%m-%d", time.gmtime()) in text  # and the date
        assert "Country Spain" in text  # the filter applied
    # The table's cells are text too: Spain's rows, no other country's.
    assert "Spain" in texts[1] and "France" not in texts[1]
    assert reader.metadata is not None and reader.metadata.title == "Demo — Sales"


def test_a_pdf_table_follows_the_filter_as_the_story_page_does(stack: str) -> None:
    """A filter with `filter_column` filters the table of the captured story, as on the page."""
    admin = api_login(stack, "admin", ADMIN_PASSWORD)
    front = {
        "requesters": [
            {
                "id": "country",
                "label": "Country",
                "type": "dropdown",
                "options": ["France", "Spain", "Italy"],
                "filter_column": "country",
            }
        ],
        "slides": [
            {
                "id": "cities",
                "title": "Cities",
                "chart": {"type": "table"},
                "query": [{"name": "domain", "domain": "sales"}],
            }
        ],
    }
    _make_app(stack, admin, "pdf-filter", front)
    pdf = export(
        stack,
        admin,
        "pdf-filter",
        {"page": "story", "story": "cities", "format": "pdf", "variables": {"country": "Spain"}},
    )
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    # The table's cells are text: Spain's rows, no other country's.
    assert "Country Spain" in text and "Madrid" in text and "Sevilla" in text
    assert "Paris" not in text and "Roma" not in text


def test_a_viewer_capture_keeps_their_row_filter(stack: str) -> None:
    admin = api_login(stack, "admin", ADMIN_PASSWORD)
    table = [{"name": "domain", "domain": "sales"}, {"name": "sort", "columns": [{"column": "city", "order": "asc"}]}]
    front = {"slides": [{"id": "cities", "title": "Cities", "chart": {"type": "table"}, "query": table}]}
    _make_app(stack, admin, "rows-app", front, PERMISSIONS)
    user = {
        "username": "capture-fr",
        "password": "capture-fr-password",
        "privileges": {"rows-app": ["view"]},
        "attributes": {"country": "France"},
    }
    created = httpx.post(f"{stack}/_api/users", json=user, headers=admin)
    assert created.status_code in (200, 201, 409), created.text
    viewer = api_login(stack, "capture-fr", "capture-fr-password")
    body = {"page": "story", "story": "cities", "format": "pdf"}
    viewer_text = PdfReader(io.BytesIO(export(stack, viewer, "rows-app", body))).pages[0].extract_text()
    admin_pdf = export(stack, admin, "rows-app", body)
    keep("export-rows-admin.pdf", admin_pdf)
    admin_text = PdfReader(io.BytesIO(admin_pdf)).pages[0].extract_text()
    assert "Paris" in viewer_text and "Lyon" in viewer_text
    assert "Madrid" not in viewer_text and "Roma" not in viewer_text
    # The same page as an admin (who sees every row): the test can tell them apart.
    assert "Madrid" in admin_text and "Roma" in admin_text


def test_a_capture_is_drawn_in_the_requesters_language(stack: str) -> None:
    admin = api_login(stack, "admin", ADMIN_PASSWORD)
    table = [{"name": "domain", "domain": "sales"}]
    front = {"slides": [{"id": "cities", "title": "Cities", "chart": {"type": "table"}, "query": table}]}
    _make_app(stack, admin, "lang-app", front)
    for username in ("capture-en", "capture-lang-fr"):
        user = {"username": username, "password": f"{username}-password", "privileges": {"lang-app": ["view"]}}
        created = httpx.post(f"{stack}/_api/users", json=user, headers=admin)
        assert created.status_code in (200, 201, 409), created.text
    french = api_login(stack, "capture-lang-fr", "capture-lang-fr-password")
    chosen = httpx.patch(f"{stack}/_api/me", json={"locale": "fr"}, headers=french)
    assert chosen.status_code == 200, chosen.text
    english = api_login(stack, "capture-en", "capture-en-password")
    body = {"page": "home", "format": "pdf"}
    french_text = PdfReader(io.BytesIO(export(stack, french, "lang-app", body))).pages[0].extract_text()
    english_text = PdfReader(io.BytesIO(export(stack, english, "lang-app", body))).pages[0].extract_text()
    assert "Histoires" in french_text and "Stories" not in french_text
    assert "Stories" in english_text and "Histoires" not in english_text
