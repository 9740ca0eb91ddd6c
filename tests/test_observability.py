"""Observability of the real processes: `toucan-ctl serve --production` sums the gunicorn
workers' metrics, and TOUCAN_LOG_FORMAT=json makes every log line JSON with its request id."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import Server, clean_env, running_server
from tests.helpers.workers import running_worker
from toucan.db.engine import Database
from toucan.settings import Settings

PANEL = ("╭", "│", "╰")  # the login banner on stdout


def _json_lines(server: Server) -> list[dict[str, Any]]:
    lines = [line for line in server.output().splitlines() if line.strip() and not line.startswith(PANEL)]
    parsed = []
    for line in lines:
        assert line.startswith("{"), f"not a JSON log line: {line!r}"
        parsed.append(json.loads(line))
    return parsed


def _health_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "toucan_http_request_duration_seconds_count"
                and sample.labels.get("route") == "/health"
                and sample.labels.get("status") == "200"
            ):
                return sample.value
    return 0.0


def _wait_for(server: Server, predicate: Any, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        lines = _json_lines(server)
        if predicate(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_production_metrics_add_up_every_worker_and_logs_are_json(tmp_path: Path) -> None:
    env = clean_env(
        TOUCAN_DATA_DIR=str(tmp_path),
        TOUCAN_GUNICORN_WORKERS="2",
        TOUCAN_SUPER_ADMIN_PASSWORD="prod-password-1",
        TOUCAN_READY_CHECKS_JOBS="false",
        TOUCAN_LOG_FORMAT="json",
    )
    with running_server(env, args=("--production",), ready_path="/health") as (base, server):
        before = _health_count(httpx.get(base + "/metrics").text)
        for _ in range(30):  # a new connection each: the kernel spreads them over the workers
            assert httpx.get(base + "/health").status_code == 200
        # Whichever worker answers the scrape, it counts the requests of both.
        counts = {_health_count(httpx.get(base + "/metrics").text) - before for _ in range(8)}
        assert counts == {30}
        lines = _wait_for(server, lambda ls: sum(1 for e in ls if e.get("path") == "/health") >= 31)
    access = [entry for entry in lines if entry["logger"] == "toucan.access" and entry["path"] == "/health"]
    assert len({entry["pid"] for entry in access}) == 2, "both workers served: the sum above means something"
    assert all(len(entry["request_id"]) == 32 for entry in access)
    assert any(entry["logger"].startswith("gunicorn") for entry in lines)  # gunicorn's own lines too


def test_embedded_json_logs_carry_the_id_sent_back_to_the_client(tmp_path: Path) -> None:
    env = clean_env(
        TOUCAN_DATA_DIR=str(tmp_path),
        TOUCAN_SUPER_ADMIN_PASSWORD="embedded-password-1",
        TOUCAN_EMBEDDED_WORKER="false",
        TOUCAN_READY_CHECKS_JOBS="false",
        TOUCAN_LOG_FORMAT="json",
    )
    with running_server(env) as (base, server):
        answer = httpx.get(base + "/_api/me", headers={"X-Request-ID": "ticket-2026-0042"})
        assert answer.status_code == 401
        assert answer.json()["error"]["request_id"] == "ticket-2026-0042"
        lines = _wait_for(server, lambda ls: any(e.get("request_id") == "ticket-2026-0042" for e in ls))
    [line] = [entry for entry in lines if entry.get("request_id") == "ticket-2026-0042"]
    assert line["logger"] == "toucan.access" and line["status"] == 401 and line["path"] == "/_api/me"
    assert any(entry["logger"].startswith("uvicorn") for entry in lines)  # the server's lines are JSON too


def test_a_worker_logs_json_only(settings: Settings, db: Database) -> None:
    with running_worker(settings, TOUCAN_LOG_FORMAT="json") as worker:
        lines = _wait_for(worker, lambda ls: any(e["message"].endswith(" ready.") for e in ls))
    assert any(entry["logger"].startswith("celery") for entry in lines)  # Celery's own lines are JSON
    assert {entry["level"] for entry in lines} <= {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
