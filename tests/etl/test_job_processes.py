"""The job processes as operators run them: embedded in `toucan-ctl serve`, a Redis broker with
`toucan-ctl worker`, and `toucan-ctl scheduler` reaping jobs of dead workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis
from fastapi.testclient import TestClient

from tests.helpers import ROOT, TOUCAN_CTL, Server, clean_env, redis_test_url, running_server
from tests.helpers.workers import running_worker, wait_for_job, worker_env
from toucan.app import create_api
from toucan.db.engine import Database
from toucan.db.etl_models import Job
from toucan.settings import Settings

APP = "sales-app"
CSV = b"country,revenue\nFrance,10\nSpain,20\n"


def test_serve_runs_jobs_with_no_other_process_to_start(tmp_path: Path) -> None:
    env = clean_env(TOUCAN_DATA_DIR=str(tmp_path), TOUCAN_SUPER_ADMIN_PASSWORD="embedded-admin-pw")
    with running_server(env) as (base, server):
        auth = ("admin", "embedded-admin-pw")
        api = f"{base}/_api"
        assert httpx.post(f"{api}/small-apps", json={"id": APP, "name": "S"}, auth=auth).status_code == 201
        etl = {"DATA_SOURCES": [{"domain": "sales", "file": "sales.csv"}]}
        assert httpx.put(f"{api}/{APP}/config/etl", json=etl, auth=auth).status_code == 200
        uploaded = httpx.post(
            f"{api}/{APP}/data/sources",
            files={"file": ("sales.csv", CSV)},
            data={"data": json.dumps({"filename": "sales.csv"})},
            auth=auth,
        )
        assert uploaded.status_code == 201, uploaded.text
        job_id = httpx.post(f"{api}/{APP}/data/preprocess", auth=auth).json()["id"]
        deadline = time.monotonic() + 60
        while (job := httpx.get(f"{api}/jobs/{job_id}", auth=auth).json())["state"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["state"] == "succeeded", job
        query = {"query": {"domain": "sales", "country": "Spain"}}
        data = httpx.post(f"{api}/{APP}/data?stage=staging", json=query, auth=auth).json()
        assert data["data"] == [{"country": "Spain", "revenue": 20}]
        children = psutil.Process(server.pid).children(recursive=True)
        assert any("worker" in " ".join(child.cmdline()) for child in children)
        os.kill(server.pid, signal.SIGKILL)
        server.proc.wait()
        # The worker dies with the server: nothing is left running.
        _gone, alive = psutil.wait_procs(children, timeout=20)
        assert alive == []


def test_redis_broker_with_a_separate_worker(settings: Settings, db: Database, admin_headers: dict[str, str]) -> None:
    url = redis_test_url(13)
    redis.Redis.from_url(url).flushdb()
    with_redis = settings.model_copy(update={"redis_url": url})
    with TestClient(create_api(with_redis, db), raise_server_exceptions=False) as client:
        assert client.post("/small-apps", json={"id": APP, "name": "S"}, headers=admin_headers).status_code == 201
        client.put(
            f"/{APP}/config/etl", json={"DATA_SOURCES": [{"domain": "sales", "file": "s.csv"}]}, headers=admin_headers
        )
        client.post(
            f"/{APP}/data/sources",
            files={"file": ("s.csv", CSV)},
            data={"data": '{"filename": "s.csv"}'},
            headers=admin_headers,
        )
        job_id = client.post(f"/{APP}/data/preprocess", headers=admin_headers).json()["id"]
        assert redis.Redis.from_url(url).llen("toucan") == 1  # waiting in Redis, not on disk
        with running_worker(settings, TOUCAN_REDIS_URL=url):
            job = wait_for_job(client, admin_headers, job_id)
        assert job["state"] == "succeeded", job


def test_the_scheduler_fails_jobs_whose_worker_died(settings: Settings, db: Database) -> None:
    job_id = str(uuid.uuid4())
    with db.session() as session:
        session.add(
            Job(
                id=job_id,
                kind="preprocess",
                state="running",
                started_at=datetime.now(UTC) - timedelta(hours=1),
                heartbeat_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
    env = worker_env(settings)
    procs = [
        subprocess.Popen(
            [*TOUCAN_CTL, *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        for args in (["scheduler"], ["worker", "--concurrency", "1"])
    ]
    servers = [Server(proc) for proc in procs]
    try:
        deadline = time.monotonic() + 60
        state: Any = "running"
        while state == "running":
            assert time.monotonic() < deadline, [s.output()[-2000:] for s in servers]
            time.sleep(0.2)
            with db.readonly_session() as session:
                state = session.get(Job, job_id).state  # type: ignore[union-attr]
        assert state == "failed"
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)
        for proc in procs:
            proc.wait()
