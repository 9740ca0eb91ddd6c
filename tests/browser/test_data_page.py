"""A builder's data page: upload files (chunked, resumable), set the ETL config, preprocess, release."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.test_stories import READY, login
from tests.helpers.browser import ADMIN_PASSWORD, DEMO_PASSWORD, shot

pytestmark = pytest.mark.browser
CHUNK = 5 * 1024 * 1024  # the page sends files in parts of this size
PASSWORD = "builder-data-pw"

SALES = "country,revenue\nFrance,10\nSpain,20\nFrance,5\n"
ETL = {
    "DATA_SOURCES": [{"domain": "sales", "file": "sales.csv"}],
    "PIPELINE": [
        {
            "input_domains": ["sales"],
            "output_domain": "by_country",
            "pipeline": [
                {"name": "domain", "domain": "sales"},
                {
                    "name": "aggregate",
                    "on": ["country"],
                    "aggregations": [{"aggfunction": "sum", "columns": ["revenue"], "newcolumns": ["revenue"]}],
                },
                {"name": "sort", "columns": [{"column": "country", "order": "asc"}]},
            ],
        }
    ],
}


def builder_of_a_new_app(stack: str, app: str) -> str:
    """Create `app` and a user (not an admin) who contributes to it; returns the username."""
    api = stack + "/_api"
    token = httpx.post(f"{api}/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    httpx.post(f"{api}/small-apps", json={"id": app, "name": app.replace("-", " ").title()}, headers=headers)
    username = f"builder-{app}"
    created = httpx.post(
        f"{api}/users",
        json={"username": username, "password": PASSWORD, "privileges": {app: ["contribute"]}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return username


def open_data_page(page: Any, stack: str, app: str, username: str) -> None:
    login(page, stack, username, PASSWORD)
    page.goto(f"{stack}/apps/{app}")
    page.click(".stage-switch button:has-text('Staging')")
    page.click("[data-action=open-data]")
    page.wait_for_url(f"{stack}/apps/{app}/data")
    page.get_by_role("heading", name="Data sources").wait_for()


def drop_file(page: Any, name: str, text: str) -> None:
    """Drag a file onto the drop zone, as a person dragging it from their desktop would."""
    page.evaluate(
        """([name, text]) => {
          const transfer = new DataTransfer();
          transfer.items.add(new File([text], name, { type: "text/csv" }));
          const zone = document.querySelector("[data-dropzone]");
          for (const type of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
          }
        }""",
        [name, text],
    )


def record_progress(page: Any, bar: str) -> None:
    """Note every value the progress bar matching `bar` shows from now on (read with `progress_seen`)."""
    page.evaluate(
        """(bar) => {
          window.progressSeen = [];
          new MutationObserver(() => {
            const value = Number(document.querySelector(bar)?.getAttribute("aria-valuenow") ?? NaN);
            if (!Number.isNaN(value) && window.progressSeen.at(-1) !== value) window.progressSeen.push(value);
          }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
        }""",
        bar,
    )


def progress_seen(page: Any) -> list[int]:
    seen: list[int] = page.evaluate("window.progressSeen")
    return seen


def page_shot(page: Any, name: str) -> None:
    # Scrolled to the top first: a full-page screenshot taken lower down paints the sticky top bar mid-page.
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, name)


def only_expected_errors(page: Any) -> list[str]:
    # Refused files and the cut connection are answered with errors the browser logs.
    expected = ("status of 400", "status of 409", "net::ERR_CONNECTION_RESET")
    return [e for e in page.console_errors if not any(text in e for text in expected)]


def test_builder_uploads_configures_preprocesses_and_releases(stack: str, page: Any, tmp_path: Path) -> None:
    app = "data-page"
    open_data_page(page, stack, app, builder_of_a_new_app(stack, app))
    assert page.locator("[data-panel=preprocess]").get_by_text("Staging has no data yet").is_visible()

    sales = tmp_path / "sales.csv"
    sales.write_text(SALES)
    page.set_input_files("input[name=source-file]", str(sales))
    done = page.locator("[data-upload='sales.csv'][data-state=done]")
    done.wait_for()
    assert "sales.csv uploaded: 3 rows." in done.inner_text()
    assert done.get_by_role("progressbar").get_attribute("aria-valuenow") == "100"
    row = page.locator("[data-source='sales.csv']")
    row.wait_for()
    assert f"builder-{app}" in row.inner_text() and f"{len(SALES)} B" in row.inner_text()

    # A file the server cannot read: its message, with the line, and nothing stored.
    drop_file(page, "broken.csv", "a,b\n1,2\n3,4,5\n")
    refused = page.locator("[data-upload='broken.csv'][data-state=refused]")
    refused.wait_for()
    assert refused.locator("[data-line]").inner_text() == "Line 3"
    assert "line 3: expected 2 fields like the header, found 3" in refused.get_by_role("alert").inner_text()
    assert page.locator("[data-source='broken.csv']").count() == 0
    page_shot(page, "data-uploads")

    # The ETL config: the server's errors say where, then a good one is saved (the JSON is
    # the Advanced tab beside the forms).
    page.click("[data-etl-tab=json]")
    etl = page.locator("textarea[name=etl-config]")
    etl.fill('{"DATA_SOURCES": [\n  {"domain": "sales", "file": "sales.csv"},\n]}')
    page.click("[data-action=save-etl]")
    error = page.locator("[data-etl-error]")
    error.wait_for()
    assert "line 3" in error.inner_text()
    etl.fill(json.dumps({"PIPELINE": [{"input_domains": ["sales"], "output_domain": "x"}]}))
    page.click("[data-action=save-etl]")
    page.locator("[data-etl-error]:has-text('PIPELINE[0]')").wait_for()
    assert etl.get_attribute("aria-invalid") == "true"
    etl.fill(json.dumps(ETL))
    page.click("[data-action=save-etl]")
    page.get_by_text("Saved to staging.").wait_for()
    assert page.locator("[data-etl-error]").count() == 0

    # Preprocess: the job runs on the server's worker; its progress, log and result show up.
    record_progress(page, "[data-panel=preprocess] .job [role=progressbar]")
    page.click("[data-action=preprocess]")
    job = page.locator("[data-panel=preprocess] .job")
    job.wait_for()
    page.locator("[data-panel=preprocess] .job[data-state=succeeded]").wait_for(timeout=60_000)
    assert job.get_by_role("progressbar").get_attribute("aria-valuenow") == "100"
    seen = progress_seen(page)
    assert seen[0] == 0 and seen[-1] == 100 and seen == sorted(seen), seen
    log = job.locator(".job-log").inner_text()
    assert "Preprocess of data-page (staging)" in log and "Wrote 2 domains to staging" in log
    domains = page.locator("[data-table=domains]")
    assert domains.locator("[data-domain=sales] [data-rows]").inner_text() == "3"
    assert domains.locator("[data-domain=by_country] [data-rows]").inner_text() == "2"
    page.click("[data-domain=by_country] [data-action=preview]")
    preview = page.locator("[data-preview=by_country] table")
    preview.wait_for()
    assert [r.inner_text().split("\t") for r in preview.locator("tbody tr:not([aria-hidden])").all()] == [
        ["France", "15"],
        ["Spain", "20"],
    ]
    assert page.locator("[data-table=jobs] tbody tr").count() == 1
    assert "Succeeded" in page.locator("[data-table=jobs] tbody tr").inner_text()
    page_shot(page, "data-preprocess-succeeded")

    page.click("[data-action=release-data]")
    dialog = page.locator("[data-dialog=release]")
    assert dialog.locator("[data-domain=by_country][data-change=added] td").last.inner_text() == "2"
    dialog.locator("[data-action=confirm-release]").click()
    page.get_by_text("Released: production now serves 2 domains.").wait_for()
    page.click("a:has-text('Back to staging')")
    page.wait_for_url(f"{stack}/apps/{app}?stage=staging")
    assert page.locator(".stage-switch button.active").inner_text() == "Staging"
    page.wait_for_selector(READY)
    assert page.locator("[data-action=open-data]").is_visible()
    page_shot(page, "data-back-to-staging")
    # Viewers' stage (production) now has the data.
    api = stack + "/_api"
    token = page.evaluate("() => localStorage.getItem('toucan.token')")
    metadata = httpx.get(f"{api}/{app}/metadata?stage=production", headers={"Authorization": f"Bearer {token}"})
    assert sorted(d["name"] for d in metadata.json()["domains"]) == ["by_country", "sales"]
    assert only_expected_errors(page) == []


def test_a_failed_preprocess_shows_its_error_and_traceback(stack: str, page: Any, tmp_path: Path) -> None:
    app = "data-page-failing"
    open_data_page(page, stack, app, builder_of_a_new_app(stack, app))
    sales = tmp_path / "sales.csv"
    sales.write_text(SALES)
    page.set_input_files("input[name=source-file]", str(sales))
    page.locator("[data-upload='sales.csv'][data-state=done]").wait_for()
    checked = {"DATA_SOURCES": [{**ETL["DATA_SOURCES"][0], "validation": [{"type": "columns", "expected": ["cost"]}]}]}
    page.click("[data-etl-tab=json]")
    page.fill("textarea[name=etl-config]", json.dumps(checked))
    page.click("[data-action=save-etl]")
    page.get_by_text("Saved to staging.").wait_for()
    page.click("[data-action=preprocess]")
    page.locator("[data-panel=preprocess] .job[data-state=failed]").wait_for(timeout=60_000)
    error = page.locator("[data-job-error]").inner_text()
    assert "DATA_SOURCES[0] (sales)" in error and "column 'cost' is missing" in error
    assert "cost" in page.locator(".traceback pre").inner_text()
    assert "Failed" in page.locator("[data-table=jobs] tbody tr").first.inner_text()
    assert page.get_by_text("Staging has no data yet").is_visible()
    assert page.locator("[data-action=release-data]").is_disabled()
    page_shot(page, "data-preprocess-failed")
    assert only_expected_errors(page) == []


def test_a_cut_connection_resumes_from_the_server_offset(stack: str, page: Any, tmp_path: Path) -> None:
    app = "data-page-resume"
    open_data_page(page, stack, app, builder_of_a_new_app(stack, app))
    big = tmp_path / "big.csv"
    with big.open("w") as out:
        out.write("id,label,value\n")
        for i in range(420_000):
            out.write(f"{i},row number {i},{i % 97}\n")
    size = big.stat().st_size
    assert size > 2 * CHUNK  # three parts

    patches: list[int] = []
    cut = {"done": False}

    def on_patch(route: Any) -> None:
        if route.request.method != "PATCH":
            route.continue_()
            return
        offset = int(route.request.headers["upload-offset"])
        patches.append(offset)
        if offset == CHUNK and not cut["done"]:
            cut["done"] = True
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/data/sources/uploads/*", on_patch)
    record_progress(page, "[data-upload='big.csv'] [role=progressbar]")
    page.set_input_files("input[name=source-file]", str(big))
    failed = page.locator("[data-upload='big.csv'][data-state=failed]")
    failed.wait_for()
    # The bar falls back to what the server confirmed: the first part.
    assert failed.get_by_role("progressbar").get_attribute("aria-valuenow") == str(CHUNK * 100 // size)
    assert "The upload stopped" in failed.get_by_role("alert").inner_text()
    page_shot(page, "data-upload-cut")
    with page.expect_request(lambda r: r.method == "GET" and "/data/sources/uploads/" in r.url) as asked:
        page.get_by_role("button", name="Retry the upload of big.csv").click()
    assert re.search(rf"/_api/{app}/data/sources/uploads/[0-9a-f-]{{36}}$", asked.value.url)
    done = page.locator("[data-upload='big.csv'][data-state=done]")
    done.wait_for(timeout=60_000)
    assert "big.csv uploaded: 420,000 rows." in done.inner_text()
    assert patches == [0, CHUNK, CHUNK, 2 * CHUNK]
    # The bar moved part by part, fell back to the confirmed first part when the connection broke,
    # and reached 100 % only at the end.
    seen = progress_seen(page)
    first, second = CHUNK * 100 // size, 2 * CHUNK * 100 // size
    assert seen[0] == 0 and seen[-1] == 100 and seen.count(100) == 1, seen
    assert first in seen and second in seen, seen
    assert seen[seen.index(second) :] == sorted(seen[seen.index(second) :]), seen
    row = page.locator("[data-source='big.csv']")
    assert "MB" in row.inner_text()

    # Delete asks first.
    row.get_by_role("button", name="Delete big.csv").click()
    assert "Delete big.csv?" in row.inner_text()
    row.get_by_role("button", name="Yes, delete").click()
    page.get_by_text("big.csv deleted.").wait_for()
    assert page.locator("[data-source='big.csv']").count() == 0  # the list is reloaded before the message
    assert only_expected_errors(page) == []


def test_data_page_at_tablet_width_in_french(stack: str, browser: Any, tmp_path: Path) -> None:
    app = "data-page-tablet"
    username = builder_of_a_new_app(stack, app)
    context = browser.new_context(viewport={"width": 768, "height": 1024}, locale="fr-FR")
    page = context.new_page()
    try:
        page.goto(stack + "/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(stack + "/")
        page.goto(f"{stack}/apps/{app}/data")
        page.get_by_role("heading", name="Sources de données").wait_for()
        sales = tmp_path / "ventes.csv"
        sales.write_text(SALES)
        page.set_input_files("input[name=source-file]", str(sales))
        page.locator("[data-upload='ventes.csv'][data-state=done]").get_by_text(
            "ventes.csv envoyé : 3 lignes."
        ).wait_for()
        assert page.get_by_role("progressbar", name="Envoi de ventes.csv").get_attribute("aria-valuenow") == "100"
        # The ETL config in forms, its JSON one tab away.
        assert page.get_by_role("button", name="+ Ajouter une source").is_visible()
        page.get_by_role("tab", name="Avancé (JSON)").click()
        assert page.get_by_role("textbox", name="etl_config (JSON)").is_visible()
        assert page.get_by_role("button", name="Lancer le prétraitement").is_visible()
        # Everything fits: no horizontal scrolling at tablet width.
        assert page.evaluate("document.documentElement.scrollWidth") <= 768
        page_shot(page, "data-tablet-fr")
    finally:
        context.close()


def test_a_viewer_is_told_the_data_page_needs_the_contribute_privilege(stack: str, page: Any) -> None:
    login(page, stack, "demo-viewer", DEMO_PASSWORD)
    page.goto(f"{stack}/apps/demo-sales/data")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text() == "Managing an app's data needs the contribute privilege on it."
    assert page.locator("[data-dropzone], textarea[name=etl-config], [data-action=preprocess]").count() == 0
    assert page.console_errors == []  # nothing was asked that a viewer may not see
