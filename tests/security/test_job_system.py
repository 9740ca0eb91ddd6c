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
import redis
from fastapi.testclient import TestClient

from tests.helpers import clean_env, redis_test_url, running_server
from tests.helpers.workers import running_worker, wait_for_job
from toucan.app import create_api
from toucan.db.engine import Database
from toucan.settings import Settings

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
        # A hung worker (stopped, not dead) gives no sign of life: /ready names it.
        os.killpg(first.pid, signal.SIGSTOP)
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
        assert seen_down, "the hung worker was never reported"
        # Killed, it is started again.
        os.killpg(first.pid, signal.SIGKILL)
        server.wait_for_output("restarting", timeout=30)
        job = _preprocess(api, "again")
        assert job["state"] == "succeeded", job
        (second,) = _worker_processes(server.pid)
        assert second.pid != first.pid
        assert httpx.get(f"{api}/ready").status_code == 200
        # The scheduler too.
        (scheduler,) = [p for p in psutil.Process(server.pid).children() if "scheduler" in " ".join(p.cmdline())]
        os.killpg(scheduler.pid, signal.SIGKILL)
        server.wait_for_output("embedded scheduler restarted", timeout=30)


def test_a_bad_payload_in_the_redis_queue_is_set_aside_and_the_worker_goes_on(
    settings: Settings, db: Database, admin_headers: dict[str, str]
) -> None:
    url = redis_test_url(11)
    server = redis.Redis.from_url(url)
    server.flushdb()
    with_redis = settings.model_copy(update={"redis_url": url})
    with TestClient(create_api(with_redis, db), raise_server_exceptions=False) as client:
        assert (
            client.post("/small-apps", json={"id": "redis-app", "name": "R"}, headers=admin_headers).status_code == 201
        )
        client.put(
            "/redis-app/config/etl",
            json={"DATA_SOURCES": [{"domain": "sales", "file": "s.csv"}]},
            headers=admin_headers,
        ).raise_for_status()
        client.post(
            "/redis-app/data/sources",
            files={"file": ("s.csv", CSV)},
            data={"data": '{"filename": "s.csv"}'},
            headers=admin_headers,
        ).raise_for_status()
        # Whoever can write to Redis pushes garbage ahead of the real job (RPOP takes the oldest first).
        for bad in (b"", b"not json", b'{"body": "half', b"[1, 2]"):
            server.rpush("toucan", bad)
        job_id = client.post("/redis-app/data/preprocess", headers=admin_headers).json()["id"]
        with running_worker(settings, TOUCAN_REDIS_URL=url) as worker:
            job = wait_for_job(client, admin_headers, job_id)
            assert job["state"] == "succeeded", job
            assert worker.proc.poll() is None, worker.output()
            assert "toucan.dead-letter" in worker.output()
        assert sorted(server.lrange("toucan.dead-letter", 0, -1)) == sorted(
            [b"", b"not json", b'{"body": "half', b"[1, 2]"]
        )


def test_the_scratch_folder_of_a_killed_job_is_swept_when_a_worker_starts(
    settings: Settings, db: Database, admin_headers: dict[str, str], client: TestClient
) -> None:
    assert client.post("/small-apps", json={"id": "slow-app", "name": "S"}, headers=admin_headers).status_code == 201
    client.post(
        "/slow-app/data/sources",
        files={"file": ("s.csv", CSV)},
        data={"data": '{"filename": "s.csv"}'},
        headers=admin_headers,
    ).raise_for_status()
    code = "def slow(sales):\n    import time\n    time.sleep(120)\n    return sales\n"
    client.put("/slow-app/config/augment", content=code, headers=admin_headers).raise_for_status()
    etl = {
        "DATA_SOURCES": [{"domain": "sales", "file": "s.csv"}],
        "PIPELINE": [{"input_domains": ["sales"], "function_name": "slow", "output_domain": "out"}],
    }
    client.put("/slow-app/config/etl", json=etl, headers=admin_headers).raise_for_status()
    scratch_root = Path(settings.data_dir) / "tmp"
    job_id = client.post("/slow-app/data/preprocess", headers=admin_headers).json()["id"]
    with running_worker(settings) as worker:
        deadline = time.monotonic() + 60
        while not list(scratch_root.glob("*/toucan-preprocess-*")):
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.1)
        (left,) = [p.parent for p in scratch_root.glob("*/toucan-preprocess-*")]
        # The pool process running the job dies as an out-of-memory kill would take it.
        pool = [c for c in psutil.Process(worker.pid).children() if "python" in c.name()]
        for process in pool:
            process.kill()
        job = wait_for_job(client, admin_headers, job_id, timeout=60)  # reaped: no heartbeat
        assert job["state"] == "failed", job
    assert left.exists()  # nothing could clean it: its process was killed
    with running_worker(settings):
        assert not left.exists()
