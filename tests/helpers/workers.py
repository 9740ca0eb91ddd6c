"""Job workers in tests: a real `toucan-ctl worker` process, and waiting for jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import ROOT, TOUCAN_CTL, Server, clean_env
from toucan.settings import Settings

WorkerFactory = Callable[..., Any]


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = clean_env(
        TOUCAN_DATA_DIR=str(settings.data_dir),
        TOUCAN_DATABASE_URL=settings.resolved_database_url,
        TOUCAN_SECRET_KEY=str(settings.secret_key),
        TOUCAN_JOB_HEARTBEAT_TIMEOUT=str(settings.job_heartbeat_timeout),
        # Long enough for the sandbox to start on a loaded 2-core machine (both passes of
        # `make test` at once); the time-limit tests run code that sleeps far longer.
        TOUCAN_BUILDER_CODE_TIMEOUT="12",
        TOUCAN_BUILDER_CODE_MEMORY_MB="768",
        TOUCAN_LOG_LEVEL="INFO",
        COLUMNS="200",
    )
    env.update(extra)
    return env


@contextmanager
def running_worker(settings: Settings, prefix: Sequence[str] = (), **extra: str) -> Iterator[Server]:
    """A worker (`prefix` runs it under another command, e.g. where no namespace can be made)."""
    proc = subprocess.Popen(
        [*prefix, *TOUCAN_CTL, "worker", "--concurrency", "1"],
        env=worker_env(settings, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    server = Server(proc)
    try:
        server.wait_for_output(" ready.", timeout=60)
        yield server
    finally:
        if proc.poll() is None:
            # Celery's own shutdown takes seconds; no job is left running here, and a killed
            # worker is what the jobs must survive anyway.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_job(client: TestClient, headers: dict[str, str], job_id: str, timeout: float = 60) -> dict[str, Any]:
    """Poll GET /jobs/{id} until the job ends; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["state"] in ("succeeded", "failed"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job still {job['state']}: {job}")
        time.sleep(0.1)


def wait_for_state(client: TestClient, headers: dict[str, str], job_id: str, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while client.get(f"/jobs/{job_id}", headers=headers).json()["state"] != state:
        if time.monotonic() > deadline:
            raise AssertionError(f"job never {state}")
        time.sleep(0.1)
