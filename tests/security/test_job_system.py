"""The job system keeps working when a message is torn, a worker is killed or the scheduler
dies — as a user would break it: with `kill -9` and bytes on disk, against real processes."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.helpers import clean_env, running_server

PASSWORD = "jobs-admin-pw"
AUTH = ("admin", PASSWORD)
CSV = "country,revenue\nFrance,10\nSpain,20\n"


def _preprocess(api: str, app: str) -> dict[str, Any]:
    """Create `app` with one CSV source, run a preprocess, wait for its end."""
    assert httpx.post(f"{api}/small-apps", json={"id": app, "name": app}, auth=AUTH).status_code == 201
    etl = {"DATA_SOURCES": [{"domain": "sales", "file": "sales.csv"}]}
    assert httpx.put(f"{api}/{app}/config/etl", json=etl, auth=AUTH).status_code == 200
    uploaded = httpx.post(
        f"{api}/{app}/data/sources",
        files={"file": ("sales.csv", CSV)},
        data={"data": json.dumps({"filename": "sales.csv"})},
        auth=AUTH,
    )
    assert uploaded.status_code == 201, uploaded.text
    job_id = httpx.post(f"{api}/{app}/data/preprocess", auth=AUTH).json()["id"]
    deadline = time.monotonic() + 90
    while (job := httpx.get(f"{api}/jobs/{job_id}", auth=AUTH).json())["state"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, f"job still {job['state']}"
        time.sleep(0.2)
    return job  # type: ignore[no-any-return]


def _worker_processes(server_pid: int) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(server_pid).children(recursive=False)
        if "worker" in " ".join(p.cmdline()) and "--beat" not in " ".join(p.cmdline())
    ]


def test_torn_and_empty_broker_files_go_to_dead_letter_and_jobs_still_run(tmp_path: Path) -> None:
    env = clean_env(TOUCAN_DATA_DIR=str(tmp_path), TOUCAN_SUPER_ADMIN_PASSWORD=PASSWORD)
    with running_server(env) as (base, server):
        api = f"{base}/_api"
        queue = tmp_path / "broker" / "queue"
        queue.mkdir(parents=True, exist_ok=True)
        # What a crash leaves behind: an empty file, half a message, and bytes that are no JSON.
        (queue / "0_torn-empty.toucan.msg").write_bytes(b"")
        (queue / "1_torn-half.toucan.msg").write_bytes(b'{"body": "eyJ0YXNrIjog", "content-enc')
        (queue / "2_garbage.toucan.msg").write_bytes(b"\xff\xfe not json")
        job = _preprocess(api, "torn")
        assert job["state"] == "succeeded", job
        dead = sorted(p.name for p in (tmp_path / "broker" / "dead-letter").iterdir())
        assert dead == ["0_torn-empty.toucan.msg", "1_torn-half.toucan.msg", "2_garbage.toucan.msg"]
        assert "0_torn-empty.toucan.msg" in server.output()  # logged by name
        ready = httpx.get(f"{api}/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["jobs"]["ok"] is True


def test_serve_restarts_a_killed_worker_and_ready_says_when_it_is_down(tmp_path: Path) -> None:
    env = clean_env(
        TOUCAN_DATA_DIR=str(tmp_path),
        TOUCAN_SUPER_ADMIN_PASSWORD=PASSWORD,
        TOUCAN_JOB_SYSTEM_STALE_AFTER="3",
    )
    with running_server(env) as (base, server):
        api = f"{base}/_api"
        (first,) = _worker_processes(server.pid)
        os.killpg(first.pid, signal.SIGKILL)
        # Down: /ready names the job system until the worker is back.
        deadline = time.monotonic() + 30
        seen_down = False
        while time.monotonic() < deadline:
            response = httpx.get(f"{api}/ready")
            if response.status_code == 503:
                body = response.json()
                assert body["checks"]["jobs"]["ok"] is False
                assert "worker" in json.dumps(body["checks"]["jobs"])
                seen_down = True
                break
            time.sleep(0.2)
        assert seen_down, "the killed worker was never reported"
        server.wait_for_output("restarting", timeout=30)
        job = _preprocess(api, "again")
        assert job["state"] == "succeeded", job
        (second,) = _worker_processes(server.pid)
        assert second.pid != first.pid
        assert httpx.get(f"{api}/ready").status_code == 200
