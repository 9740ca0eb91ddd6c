"""Exports run by a real worker (`toucan-ctl worker`): a page that never becomes ready fails
the job with the FAQ's message, what the page showed in its log, and its partial screenshot
behind an expiring link."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from tests.helpers.http_servers import serving
from tests.helpers.png import read_png
from tests.helpers.workers import running_worker
from tests.screenshots.pages import pages_app
from tests.security.test_capture_tokens import _app
from toucan.settings import Settings


def _wait(client: TestClient, headers: dict[str, str], export_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/exports/{export_id}", headers=headers).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def test_a_never_ready_page_fails_the_export_with_the_faq_message(
    client: TestClient, settings: Settings, admin_headers: dict[str, str], make_user: Any
) -> None:
    _app(client, admin_headers)
    viewer = make_user("fr", privileges={"sales": ["view"]}, attributes={"country": "France"})
    with (
        serving(pages_app()) as site,
        running_worker(settings, TOUCAN_SCREENSHOT_FRONTEND_URL=site, TOUCAN_SCREENSHOT_TIMEOUT="2"),
    ):
        created = client.post(
            "/sales/exports", json={"page": "story", "story": "by-city", "format": "png"}, headers=viewer
        )
        assert created.status_code == 202, created.text
        job = _wait(client, viewer, created.json()["id"])
    assert job["state"] == "failed"
    assert job["error"] == (
        "Error while rendering the screenshot of story:by-city of sales: "
        'TimeoutError: waiting for selector ".tc-slide__content, .tc-story" failed: timeout 2000ms exceeded'
    )
    assert job.get("download_url") is None
    # The requester reads what the page showed in their export's report.
    assert "console error: chart 3 failed: boom" in job["report"]
    # What the page showed: in the job's report, and its image behind a signed link.
    full = client.get(f"/jobs/{job['id']}", headers=admin_headers).json()
    assert "console error: chart 3 failed: boom" in full["traceback"]
    assert "/missing-data: HTTP 404" in full["traceback"]
    assert "#capture=" not in full["traceback"] and "tcc_" not in full["traceback"]  # no token in a log
    partial = client.get(job["partial_url"])
    assert partial.status_code == 200 and partial.headers["content-type"] == "image/png"
    assert read_png(partial.content).region_stats(0, 0, 600, 200)[1] > 5000
    # The link is for that file only: another export's id with this signature opens nothing.
    forged = job["partial_url"].replace(job["id"], "00000000-0000-0000-0000-000000000000")
    assert client.get(forged).status_code == 403
