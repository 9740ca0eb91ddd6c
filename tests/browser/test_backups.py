"""An administrator backs an app up, downloads it, and restores it under a new name from the
app's data page, on the embedded stack (its own job worker runs the jobs); at desktop and phone
sizes."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.test_stories import login
from tests.helpers.browser import ADMIN_PASSWORD, SCREENSHOTS, shot

pytestmark = pytest.mark.browser
APP = "backup-shop"
COPY = "backup-shop-copy"
SALES = "country,revenue\nFrance,10\nSpain,20\nFrance,5\n"
ETL = {
    "DATA_PROVIDERS": [
        {
            "name": "shop",
            "type": "http_api",
            "baseroute": "https://shop.example.com",
            "headers": {"Authorization": "Bearer {{ secrets.shop_token }}"},
        }
    ],
}


def admin_api(stack: str) -> httpx.Client:
    token = httpx.post(f"{stack}/_api/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
    return httpx.Client(base_url=f"{stack}/_api", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def make_app(api: httpx.Client) -> None:
    """An app with a domain, an uploaded file, a secret its ETL config uses, and two viewers."""
    assert api.post("/small-apps", json={"id": APP, "name": "Backup shop"}).status_code == 201
    assert api.put(f"/{APP}/secrets/shop_token", json={"value": "tok-1"}).status_code == 204
    assert api.put(f"/{APP}/config/etl?stage=staging", json=ETL).status_code == 200
    put = api.put(f"/{APP}/domain/sales?stage=staging", content=SALES, headers={"Content-Type": "text/csv"})
    assert put.status_code == 200, put.text
    uploaded = api.post(
        f"/{APP}/data/sources",
        files={"file": ("sales.csv", SALES.encode())},
        data={"data": json.dumps({"filename": "sales.csv"})},
    )
    assert uploaded.status_code == 201, uploaded.text
    for username in ("ana", "leaver"):
        created = api.post(
            "/users", json={"username": username, "password": "viewer-pw-123", "privileges": {APP: ["view"]}}
        )
        assert created.status_code == 201, created.text


def rows(api: httpx.Client, app: str) -> list[dict[str, Any]]:
    answer = api.post(f"/{app}/data?stage=staging", json={"query": [{"name": "domain", "domain": "sales"}]})
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def open_data_page(page: Any, stack: str) -> Any:
    login(page, stack, "admin", ADMIN_PASSWORD)
    page.goto(f"{stack}/apps/{APP}/data")
    panel = page.locator("[data-panel=backup]")
    panel.get_by_role("heading", name="Backup & restore").wait_for()
    return panel


def panel_shot(page: Any, panel: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # From the top of the page: an element screenshot scrolls, and the sticky top bar would cover the panel.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True, clip=panel.bounding_box())
    return path


def test_an_admin_backs_up_downloads_and_restores_under_a_new_name(
    stack: str, page: Any, browser: Any, tmp_path: Path
) -> None:
    api = admin_api(stack)
    make_app(api)
    panel = open_data_page(page, stack)

    # Back up → progress → Download.
    panel.locator("[data-action=backup]").click()
    panel.locator("[data-part=backup] .job[data-state=succeeded]").wait_for(timeout=60_000)
    assert panel.locator("[data-part=backup] [role=progressbar]").get_attribute("aria-valuenow") == "100"
    with page.expect_download() as download:
        panel.locator("[data-action=download-backup]").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith(f"{APP}_on-premise_backup-") and saved.suffix == ".tar"
    panel.locator("[data-saved]").wait_for()
    with tarfile.open(saved) as tar:
        folder = tar.getnames()[0]
    subprocess.run(["tar", "xf", str(saved)], cwd=tmp_path, check=True)
    assert sorted(p.name for p in (tmp_path / folder).iterdir()) == [
        "database.tar.gz",
        "laputa_version",
        "manifest.json",
        "storage.tar.gz",
    ]

    # A viewer of the app leaves this stack after the backup: the preview says their privilege is skipped.
    assert api.delete("/users/leaver").status_code == 204

    # Restore from the downloaded file under a new name: the dry run first.
    page.set_input_files("input[name=backup-file]", str(saved))
    page.fill("input[name=new-name]", COPY)
    panel.locator("[data-action=preview-restore]").click()
    plan = panel.locator(".restore-plan[data-plan=create]")
    plan.wait_for(timeout=60_000)
    assert f"Creates the app “{COPY}”" in plan.inner_text()
    assert "user leaver: view" in panel.locator("[data-skipped]").inner_text()
    assert "shop_token" in panel.locator("[data-secrets]").inner_text()
    assert "user ana: view" in plan.inner_text()
    assert api.get(f"/small-apps/{COPY}").status_code == 404  # a preview restores nothing
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "backup-preview-desktop")
    panel_shot(page, panel, "backup-panel-preview-desktop")

    with page.expect_request(lambda r: "/restore?" in r.url and r.method == "POST") as sent:
        panel.locator("[data-action=confirm-restore]").click()
    # The confirmation restores the backup its preview checked: the file is not sent again.
    assert "upload=" in sent.value.url and not sent.value.post_data_buffer, sent.value.url
    job = panel.locator("[data-restore-job][data-state=succeeded]")
    job.wait_for(timeout=60_000)
    report = job.locator(".job-log").inner_text()
    assert f"Did create the small app '{COPY}' from the backup of '{APP}'" in report
    assert "shop_token" in report
    panel.locator("[data-action=open-restored]").wait_for()
    panel_shot(page, panel, "backup-panel-restored-desktop")
    assert rows(api, COPY) == rows(api, APP)
    assert [s["filename"] for s in api.get(f"/{COPY}/data/sources").json()["sources"]] == ["sales.csv"]

    # At phone size: the preview of a restore over the app itself says what it replaces.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    small = phone.new_page()
    try:
        panel = open_data_page(small, stack)
        small.set_input_files("input[name=backup-file]", str(saved))
        panel.locator("[data-action=preview-restore]").click()
        replace = panel.locator(".restore-plan[data-plan=replace]")
        replace.wait_for(timeout=60_000)
        assert f"Replaces the app “{APP}”" in replace.inner_text()
        assert panel.locator("[data-action=confirm-restore]").inner_text() == f"Replace “{APP}”"
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways at phone size ({width} px)"
        panel_shot(small, panel, "backup-panel-preview-phone")
        small.evaluate("window.scrollTo(0, 0)")
        shot(small, "backup-preview-phone")
    finally:
        phone.close()
    assert page.console_errors == []
