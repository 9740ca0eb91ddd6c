"""Scheduled reports: the cron schedule, the `/reports` API attacked, and runs made by a real
scheduler (`toucan-ctl scheduler`) and worker: a report that runs twice on its schedule, a
run past its budget, a run whose worker is killed mid-way, retries — each time the next run
still runs."""

from __future__ import annotations

import io
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.helpers import ROOT, TOUCAN_CTL, Server
from tests.helpers.api import assert_error
from tests.helpers.http_servers import serving
from tests.helpers.workers import running_worker, worker_env
from tests.screenshots.pages import pages_app
from tests.security.test_capture_tokens import _app
from toucan.errors import ValidationError
from toucan.screenshots.cron import parse_cron
from toucan.settings import Settings


def test_cron_schedules() -> None:
    saturday_noon = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert parse_cron("0 8 * * 1").next_after(saturday_noon, "Europe/Paris") == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    assert parse_cron("30 6 1 * *").next_after(saturday_noon, "UTC") == datetime(2027, 1, 1, 6, 30, tzinfo=UTC)
    assert parse_cron("*/5 * * * * *").next_after(saturday_noon, "UTC") == datetime(2026, 12, 5, 12, 0, 5, tzinfo=UTC)
    assert parse_cron("0 9-17/4 * * 1-5").next_after(saturday_noon, "UTC") == datetime(2026, 12, 7, 9, tzinfo=UTC)
    # Strictly after: a report due now runs next time, not twice.
    assert parse_cron("0 12 * * *").next_after(saturday_noon, "UTC") == datetime(2026, 12, 6, 12, tzinfo=UTC)
    # Noon UTC is 7:00 in New York: its 8:00 comes the same day, at 13:00 UTC in winter.
    assert parse_cron("0 8 * * *").next_after(saturday_noon, "America/New_York") == datetime(
        2026, 12, 5, 13, tzinfo=UTC
    )
    for bad in ("", "* * *", "61 * * * *", "* 24 * * *", "a b c d e", "*/0 * * * *", "0 0 31 2 *"):
        with pytest.raises(ValidationError) as error:
            parse_cron(bad).next_after(saturday_noon, "UTC")
        assert error.value.details["field"] == "cron"


BODY = {"app": "sales", "name": "Weekly sales", "pages": ["home", "story:by-city"], "cron": "0 8 * * 1"}


def test_reports_api_is_the_owners(client: TestClient, admin_headers: dict[str, str], make_user: Any) -> None:
    _app(client, admin_headers)
    owner = make_user("owner", privileges={"sales": ["view"]}, attributes={"country": "France"})
    other = make_user("other", privileges={"sales": ["view"]})
    outsider = make_user("outsider")
    created = client.post(
        "/reports", json={**BODY, "time_zone": "Europe/Paris", "recipients": ["other"]}, headers=owner
    )
    assert created.status_code == 201, created.text
    report = created.json()
    assert report["owner"] == "owner" and report["next_run_at"].startswith("20")
    rid = report["id"]
    # Bad input: 400 naming the field.
    for body, field in (
        ({**BODY, "cron": "every monday"}, "cron"),
        ({**BODY, "time_zone": "Mars/Olympus"}, "time_zone"),
        ({**BODY, "pages": ["story:nope"]}, "pages[0]"),
        ({**BODY, "pages": ["slide:1"]}, "field"),
        ({**BODY, "recipients": ["outsider"]}, "recipients[0]"),
    ):
        error = assert_error(client.post("/reports", json=body, headers=owner), 400)
        assert field in (error["details"].get("field"), "field"), error
    assert_error(client.post("/reports", json={**BODY, "budget_seconds": 1}, headers=owner), 400)
    assert_error(client.post("/reports", json={**BODY, "pages": []}, headers=owner), 400)
    # Somebody else's report does not exist for them.
    for method, path in (
        ("get", f"/reports/{rid}"),
        ("patch", f"/reports/{rid}"),
        ("delete", f"/reports/{rid}"),
        ("post", f"/reports/{rid}/run"),
        ("get", f"/reports/{rid}/runs"),
        ("get", f"/reports/{rid}/runs/1/pdf"),
    ):
        kwargs: dict[str, Any] = {"json": {"paused": True}} if method == "patch" else {}
        assert_error(getattr(client, method)(path, headers=other, **kwargs), 404)
    assert client.get("/reports", headers=other).json()["reports"] == []
    # An app the caller may not view: as if it did not exist.
    assert_error(client.post("/reports", json=BODY, headers=outsider), 404)
    # The owner edits and pauses; an admin sees every report.
    patched = client.patch(f"/reports/{rid}", json={"paused": True, "cron": "0 9 * * *"}, headers=owner).json()
    assert patched["paused"] is True and patched["next_run_at"] is None and patched["cron"] == "0 9 * * *"
    assert [r["id"] for r in client.get("/reports", headers=admin_headers).json()["reports"]] == [rid]
    assert_error(client.patch(f"/reports/{rid}", json={"owner": "other"}, headers=owner), 400)
    # An owner who lost the app cannot run or change the report any more.
    client.patch("/users/owner", json={"privileges": {}}, headers=admin_headers).raise_for_status()
    assert_error(client.post(f"/reports/{rid}/run", headers=owner), 404)
    assert_error(client.patch(f"/reports/{rid}", json={"paused": False}, headers=owner), 404)
    assert client.delete(f"/reports/{rid}", headers=owner).status_code == 204
    assert_error(client.get(f"/reports/{rid}", headers=admin_headers), 404)


@contextmanager
def running_scheduler(settings: Settings, **extra: str) -> Iterator[Server]:
    proc = subprocess.Popen(
        [*TOUCAN_CTL, "scheduler"],
        env=worker_env(settings, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        yield Server(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _runs(client: TestClient, headers: dict[str, str], rid: int) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = client.get(f"/reports/{rid}/runs", headers=headers).json()["runs"]
    return runs[::-1]  # oldest first


def _until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


@pytest.fixture
def owner(client: TestClient, admin_headers: dict[str, str], make_user: Any) -> dict[str, str]:
    _app(client, admin_headers)
    return make_user("owner", privileges={"sales": ["view"]}, attributes={"country": "France"})  # type: ignore[no-any-return]


def test_ids_beyond_the_id_columns_are_refused_not_compared(client: TestClient, admin_headers: dict[str, str]) -> None:
    """An id past 32 bits names no report: a 400 naming it, never a database error (PostgreSQL
    refuses to compare such a value with an integer column)."""
    huge = 2**40
    for method, path in (
        ("GET", f"/reports/{huge}"),
        ("PATCH", f"/reports/{huge}"),
        ("DELETE", f"/reports/{huge}"),
        ("POST", f"/reports/{huge}/run"),
        ("GET", f"/reports/{huge}/runs"),
        ("GET", f"/reports/1/runs/{huge}/pdf"),
        ("GET", "/reports/1/runs?limit=-5"),
    ):
        response = client.request(method, path, headers=admin_headers, json={} if method == "PATCH" else None)
        assert_error(response, 400)


def test_a_report_runs_twice_on_its_schedule(client: TestClient, settings: Settings, owner: dict[str, str]) -> None:
    capture = {"mode": "ready"}
    env = {"TOUCAN_REPORT_CHECK_SECONDS": "1", "TOUCAN_SCREENSHOT_TIMEOUT": "10"}
    with serving(pages_app(capture=capture)) as site:
        env["TOUCAN_SCREENSHOT_FRONTEND_URL"] = site
        rid = client.post("/reports", json={**BODY, "cron": "*/4 * * * * *"}, headers=owner).json()["id"]
        with running_worker(settings, **env), running_scheduler(settings, **env):
            _until(
                lambda: sum(r["state"] == "succeeded" for r in _runs(client, owner, rid)) >= 2,
                90,
                "two scheduled runs",
            )
            client.patch(f"/reports/{rid}", json={"paused": True}, headers=owner).raise_for_status()
            time.sleep(1.5)  # a run queued just before the pause ends
            count = len(_runs(client, owner, rid))
            time.sleep(6)
            # Paused: no new run.
            assert len(_runs(client, owner, rid)) == count
    runs = _runs(client, owner, rid)
    done = [r for r in runs if r["state"] == "succeeded"]
    assert all(r["trigger"] == "schedule" for r in runs)
    # Two runs at two different times of the schedule, four seconds apart at least.
    first, second = (datetime.fromisoformat(r["scheduled_for"]) for r in done[:2])
    assert (second - first).total_seconds() >= 3
    # Each is recorded for its slot of the schedule (every 4 s), however late it was dispatched.
    assert all(t.second % 4 == 0 and t.microsecond == 0 for t in (first, second)), (first, second)
    pdf = client.get(f"/reports/{rid}/runs/{done[0]['id']}/pdf", headers=owner)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) == 2  # home and one story: one page each
    assert "Ready soon" in reader.pages[0].extract_text() and "Sales" in reader.pages[0].extract_text()
    listed = client.get("/reports", headers=owner).json()["reports"][0]
    assert listed["last_run"]["state"] in ("succeeded", "queued", "running")


def test_a_run_past_its_budget_fails_and_the_next_one_runs(
    client: TestClient, settings: Settings, owner: dict[str, str]
) -> None:
    capture = {"mode": "never"}
    env = {"TOUCAN_REPORT_CHECK_SECONDS": "1", "TOUCAN_SCREENSHOT_TIMEOUT": "25"}
    with serving(pages_app(capture=capture)) as site:
        env["TOUCAN_SCREENSHOT_FRONTEND_URL"] = site
        body = {**BODY, "pages": ["home"], "cron": "*/10 * * * * *", "budget_seconds": 10, "max_attempts": 1}
        rid = client.post("/reports", json=body, headers=owner).json()["id"]
        with running_worker(settings, **env), running_scheduler(settings, **env):
            _until(lambda: any(r["state"] == "failed" for r in _runs(client, owner, rid)), 60, "a failed run")
            failed = next(r for r in _runs(client, owner, rid) if r["state"] == "failed")
            assert "longer than its budget of 10 s" in failed["error"]
            capture["mode"] = "ready"
            _until(lambda: any(r["state"] == "succeeded" for r in _runs(client, owner, rid)), 90, "the next run")
    # The failed run has no PDF; the stuck capture never turned it into a success.
    assert_error(client.get(f"/reports/{rid}/runs/{failed['id']}/pdf", headers=owner), 404)
    assert next(r for r in _runs(client, owner, rid) if r["id"] == failed["id"])["state"] == "failed"


def test_a_run_whose_worker_is_killed_fails_and_the_next_one_runs(
    client: TestClient, settings: Settings, owner: dict[str, str]
) -> None:
    capture = {"mode": "never"}
    env = {"TOUCAN_REPORT_CHECK_SECONDS": "1", "TOUCAN_SCREENSHOT_TIMEOUT": "60"}
    with serving(pages_app(capture=capture)) as site:
        env["TOUCAN_SCREENSHOT_FRONTEND_URL"] = site
        body = {**BODY, "pages": ["home"], "cron": "*/5 * * * * *", "budget_seconds": 600, "max_attempts": 1}
        rid = client.post("/reports", json=body, headers=owner).json()["id"]
        with running_scheduler(settings, **env):
            with running_worker(settings, **env):
                _until(lambda: any(r["state"] == "running" for r in _runs(client, owner, rid)), 60, "a running run")
            # The worker was killed (SIGKILL) mid-capture; its heartbeats stop.
            _until(lambda: any(r["state"] == "failed" for r in _runs(client, owner, rid)), 60, "the run failed")
            failed = next(r for r in _runs(client, owner, rid) if r["state"] == "failed")
            assert "stopped" in failed["error"]
            capture["mode"] = "ready"
            with running_worker(settings, **env):
                _until(lambda: any(r["state"] == "succeeded" for r in _runs(client, owner, rid)), 90, "the next run")


def test_a_failed_run_is_retried_with_backoff(client: TestClient, settings: Settings, owner: dict[str, str]) -> None:
    capture = {"mode": "never"}
    env = {"TOUCAN_REPORT_CHECK_SECONDS": "1", "TOUCAN_SCREENSHOT_TIMEOUT": "2", "TOUCAN_REPORT_RETRY_SECONDS": "2"}
    with serving(pages_app(capture=capture)) as site:
        env["TOUCAN_SCREENSHOT_FRONTEND_URL"] = site
        # Once a day: every run after the first is a retry.
        now = datetime.now(UTC)
        body = {**BODY, "pages": ["home"], "cron": f"{now.minute} {now.hour} * * *", "max_attempts": 3}
        rid = client.post("/reports", json=body, headers=owner).json()["id"]
        with running_worker(settings, **env), running_scheduler(settings, **env):
            client.post(f"/reports/{rid}/run", headers=owner).raise_for_status()  # a test run: never retried
            _until(lambda: _runs(client, owner, rid)[0]["state"] == "failed", 30, "the test run ends")
            assert _runs(client, owner, rid)[0]["retry_at"] is None
            # The schedule's own runs: the first and its retries, then no more (max_attempts).
            from toucan.db.engine import Database
            from toucan.db.report_models import Report

            db = Database.from_settings(settings)
            with db.session() as session:
                report = session.get(Report, rid)
                assert report is not None
                report.next_run_at = datetime.now(UTC)
            db.dispose()
            _until(lambda: len([r for r in _runs(client, owner, rid) if r["trigger"] != "manual"]) >= 3, 60, "retries")
            time.sleep(6)
    runs = [r for r in _runs(client, owner, rid) if r["trigger"] != "manual"]
    assert [(r["trigger"], r["attempt"], r["state"]) for r in runs] == [
        ("schedule", 1, "failed"),
        ("retry", 2, "failed"),
        ("retry", 3, "failed"),
    ]
    assert "timeout 2000ms exceeded" in runs[0]["error"]
    # The waits double: 2 s, then 4 s.
    gaps = [
        (datetime.fromisoformat(b["scheduled_for"]) - datetime.fromisoformat(a["finished_at"])).total_seconds()
        for a, b in itertools.pairwise(runs)
    ]
    assert 1.5 <= gaps[0] < gaps[1] and gaps[1] >= 3.5, gaps
