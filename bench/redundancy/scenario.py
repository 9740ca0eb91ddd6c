"""The redundancy scenario, as processes on this machine: two `toucan-ctl serve --production`
replicas behind Caddy, sharing a fresh PostgreSQL database, the local Redis and one data dir,
plus a `toucan-ctl worker` and a `toucan-ctl scheduler`.

`bench/redundancy/run.py` runs it at length and prints the figures; tests/test_redundancy.py
runs a short version and asserts its invariants. Both call `replica_kill` and `worker_kill`.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from toucan.apps.viewer_requests import chart_request, initial_value, page_charts, requesters_on

ROOT = Path(__file__).resolve().parents[2]
TOUCAN_CTL = [sys.executable, "-m", "toucan.cli"]
CADDYFILE = Path(__file__).with_name("Caddyfile")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEMO_APP = "demo-sales"
VIEWER = "demo-viewer"
PASSWORD = "redundancy-bench-pw"
ADMIN = ("admin", PASSWORD)
ETL_APP = "etl-redundancy"
STORY = "country-dashboard"  # the demo story with a filter and four charts
INSTALL_HINT = "apt-get install -y caddy (Debian's package)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proc:
    """A process of the stack in its own process group, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill9(self) -> None:
        """kill -9 the process and every child (gunicorn's workers, Celery's pool)."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _wait(what: str, check: Any, timeout: float, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited: {proc.output()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready within {timeout} s" + (f": {proc.output()[-3000:]}" if proc else ""))
        time.sleep(0.1)


@dataclass
class Stack:
    folder: Path
    env: dict[str, str]
    ports: dict[str, int]
    lb_port: int
    procs: dict[str, Proc] = field(default_factory=dict)

    def url(self, replica: str) -> str:
        return f"http://127.0.0.1:{self.ports[replica]}"

    @property
    def lb(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    def start_replica(self, name: str) -> None:
        env = {**self.env, "TOUCAN_PORT": str(self.ports[name]), "TOUCAN_HOST": "127.0.0.1"}
        proc = Proc(name, [*TOUCAN_CTL, "serve", "--production"], env, self.folder / f"replica-{name}.log")
        self.procs[name] = proc
        _wait(f"replica {name}", lambda: httpx.get(self.url(name) + "/health", timeout=1).status_code == 200, 90, proc)

    def start_worker(self) -> None:
        env = {**self.env, "TOUCAN_LOG_LEVEL": "INFO"}  # Celery says " ready." at INFO
        proc = Proc("worker", [*TOUCAN_CTL, "worker", "--concurrency", "1"], env, self.folder / "worker.log")
        self.procs["worker"] = proc
        _wait("worker", lambda: " ready." in proc.output(), 90, proc)

    def start_scheduler(self) -> None:
        proc = Proc("scheduler", [*TOUCAN_CTL, "scheduler"], self.env, self.folder / "scheduler.log")
        self.procs["scheduler"] = proc

    def start_caddy(self) -> None:
        caddy = shutil.which("caddy")
        if caddy is None:
            raise RuntimeError(f"caddy is needed: {INSTALL_HINT}")
        env = {
            **os.environ,
            "LB_PORT": str(self.lb_port),
            "REPLICA_A": f"127.0.0.1:{self.ports['a']}",
            "REPLICA_B": f"127.0.0.1:{self.ports['b']}",
            "XDG_DATA_HOME": str(self.folder / "caddy"),
            "XDG_CONFIG_HOME": str(self.folder / "caddy"),
        }
        args = [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"]
        proc = Proc("caddy", args, env, self.folder / "caddy.log")
        self.procs["caddy"] = proc

        def both_served() -> bool:
            seen = {httpx.get(self.lb + "/health", timeout=1).headers.get("x-toucan-upstream") for _ in range(6)}
            return len(seen - {None}) == 2

        _wait("caddy", both_served, 30, proc)

    def kill(self, name: str) -> None:
        self.procs.pop(name).kill9()

    def close(self) -> None:
        for proc in list(self.procs.values()):
            proc.kill9()
        self.procs.clear()


def _stack_env(folder: Path, database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCAN_")}
    env.update(
        TOUCAN_DATA_DIR=str(folder / "data"),
        TOUCAN_DATABASE_URL=database_url,
        TOUCAN_REDIS_URL=redis_url,
        TOUCAN_SECRET_KEY="redundancy-bench-secret-" + "x" * 24,
        TOUCAN_SUPER_ADMIN_PASSWORD=PASSWORD,
        TOUCAN_GUNICORN_WORKERS="2",
        TOUCAN_JOB_HEARTBEAT_TIMEOUT="5",
        TOUCAN_LOG_LEVEL="WARNING",
        COLUMNS="200",
    )
    return env


@contextmanager
def running_stack(folder: Path, *, redis_db: int, demo_rows: int = 2000) -> Iterator[Stack]:
    """The whole stack, on a new PostgreSQL database (dropped at the end) and a flushed Redis db."""
    if shutil.which("caddy") is None:
        raise RuntimeError(f"caddy is needed: {INSTALL_HINT}")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"toucan_redundancy_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    redis.Redis.from_url(redis_url).flushdb()
    env = _stack_env(folder, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", redis_url)
    stack = Stack(folder, env, {"a": free_port(), "b": free_port()}, free_port())
    try:
        seeded = subprocess.run(
            [*TOUCAN_CTL, "demo", "--rows", str(demo_rows), "--users-password", PASSWORD],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if seeded.returncode != 0:
            raise RuntimeError(f"toucan-ctl demo failed: {seeded.stdout}{seeded.stderr}")
        stack.start_replica("a")
        stack.start_replica("b")
        stack.start_scheduler()
        stack.start_worker()
        stack.start_caddy()
        yield stack
    finally:
        stack.close()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- what a viewer does ------------------------------------------------------------------


def story_requests(front: dict[str, Any], story: str = STORY) -> list[dict[str, Any]]:
    """The /data bodies the web app sends to open `story`: its filters' choices, then each
    chart with the filters at their defaults (and their filter steps, as the page adds them)."""
    slide = next(s for s in front["slides"] if s["id"] == story)
    requesters = front.get("requesters", [])
    used = requesters_on(front, slide)
    bodies = [{"query": r["query"], "variables": {}, "limit": 1000} for r in used if r.get("query")]
    values = {r["id"]: initial_value(r) for r in used}
    for chart in page_charts(front, slide):
        request = chart_request(chart.query, requesters, used, values, chart.key)
        bodies.append({"query": request.query, "variables": request.variables, "limit": 10000})
    return bodies


@dataclass
class Request:
    kind: str
    start: float
    end: float
    status: int | None
    upstream: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400


async def _send(client: httpx.AsyncClient, records: list[Request], kind: str, method: str, url: str, **kw: Any) -> Any:
    start = time.monotonic()
    try:
        response = await client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        records.append(Request(kind, start, time.monotonic(), None, None, type(exc).__name__))
        return None
    upstream = response.headers.get("x-toucan-upstream") or None
    error = response.text[:200] if response.status_code >= 400 else None
    if upstream and upstream.startswith("{"):  # Caddy sent it nowhere: no replica was up
        upstream = None
    records.append(Request(kind, start, time.monotonic(), response.status_code, upstream, error))
    return response.json() if response.status_code < 400 else None


class Clock:
    """When the viewers stop: at `stop`, and not before `done()` says so (up to `cap`)."""

    def __init__(self, stop: float, cap: float, done: Any) -> None:
        self.stop, self.cap, self.done = stop, cap, done

    def running(self) -> bool:
        now = time.monotonic()
        return now < self.cap and (now < self.stop or not self.done())


async def _viewer(lb: str, clock: Clock, records: list[Request], tokens: list[str]) -> None:
    """Log in, then open the story again and again while `clock` runs (as many users reloading)."""
    async with httpx.AsyncClient(base_url=lb, timeout=30) as client:
        token = None
        while token is None and clock.running():
            answer = await _send(
                client, records, "login", "POST", "/login", json={"username": VIEWER, "password": PASSWORD}
            )
            token = answer["token"] if answer else None
        if token is None:
            return
        tokens.append(token)
        headers = {"Authorization": f"Bearer {token}"}
        while clock.running():
            front = await _send(
                client, records, "config", "GET", f"/{DEMO_APP}/config?stage=production", headers=headers
            )
            if front is None:
                continue
            await asyncio.gather(
                *(
                    _send(
                        client,
                        records,
                        "data",
                        "POST",
                        f"/{DEMO_APP}/data?stage=production",
                        json=body,
                        headers=headers,
                    )
                    for body in story_requests(front)
                )
            )


def domain_digest(base: str, headers: dict[str, str], app: str = DEMO_APP, stage: str = "production") -> str:
    """A hash of every row of the app's `sales` domain, in a stable order."""
    body = {"query": [{"name": "domain", "domain": "sales"}], "limit": 1_000_000}
    answer = httpx.post(f"{base}/{app}/data?stage={stage}", json=body, headers=headers, timeout=60)
    answer.raise_for_status()
    rows = sorted(json.dumps(row, sort_keys=True, default=str) for row in answer.json()["data"])
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def login(base: str) -> str:
    answer = httpx.post(f"{base}/login", json={"username": VIEWER, "password": PASSWORD}, timeout=30)
    answer.raise_for_status()
    token: str = answer.json()["token"]
    return token


def token_matrix(stack: Stack, tokens: dict[str, str]) -> dict[str, dict[str, int]]:
    """GET /me with the token issued by each replica, on each replica: the status codes."""
    return {
        issuer: {
            replica: httpx.get(f"{stack.url(replica)}/me", headers={"Authorization": f"Bearer {token}"}).status_code
            for replica in ("a", "b")
        }
        for issuer, token in tokens.items()
    }


# --- scenario 1: a replica killed under load ------------------------------------------------


@dataclass
class ReplicaKillResult:
    viewers: int
    duration_s: float
    requests: int
    served: int
    failed: int
    failed_on_killed_replica: int
    failed_in_flight_at_kill: int
    failed_after_restart: int
    in_flight_on_killed_at_kill: int
    served_by: dict[str, int]
    served_by_restarted: int
    data_digest_before: str
    data_digest_after: dict[str, str]
    tokens_before: dict[str, dict[str, int]]
    tokens_after: dict[str, dict[str, int]]
    load_tokens_valid_after: int
    load_tokens: int
    failures: list[dict[str, Any]]
    marks: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def replica_kill(
    stack: Stack, *, viewers: int, duration: float, kill_at: float, restart_at: float, min_after_restart: int = 20
) -> ReplicaKillResult:
    """`viewers` open the story through Caddy for `duration` s; replica a gets kill -9 at
    `kill_at` and is started again at `restart_at` (seconds from the start). The load goes on
    past `duration` until the restarted replica served `min_after_restart` requests (at most
    four times `duration`)."""
    tokens = {"a": login(stack.url("a")), "b": login(stack.url("b"))}
    headers = {"Authorization": f"Bearer {tokens['a']}"}
    digest_before = domain_digest(stack.url("a"), headers)
    tokens_before = token_matrix(stack, tokens)

    records: list[Request] = []
    load_tokens: list[str] = []
    marks: dict[str, float] = {}
    a_port = f"127.0.0.1:{stack.ports['a']}"

    def chaos(t0: float) -> None:
        time.sleep(max(0.0, t0 + kill_at - time.monotonic()))
        marks["kill"] = time.monotonic()
        # What replica a was answering when it died: sent to it, not answered yet.
        stack.kill("a")
        marks["killed"] = time.monotonic()
        time.sleep(max(0.0, t0 + restart_at - time.monotonic()))
        stack.start_replica("a")
        marks["restarted"] = time.monotonic()

    async def load() -> None:
        t0 = time.monotonic()
        thread = threading.Thread(target=chaos, args=(t0,), daemon=True)
        thread.start()

        def restarted_served() -> bool:
            back = marks.get("restarted")
            return back is not None and (
                sum(1 for r in records if r.ok and r.upstream == a_port and r.start > back) >= min_after_restart
            )

        clock = Clock(t0 + duration, t0 + 4 * duration, restarted_served)
        await asyncio.gather(*(_viewer(stack.lb, clock, records, load_tokens) for _ in range(viewers)))
        await asyncio.to_thread(thread.join)

    started = time.monotonic()
    asyncio.run(load())
    elapsed = time.monotonic() - started

    # In flight at the kill: sent before every process of the replica was dead, not answered
    # when the kill began.
    kill, dead = marks["kill"], marks["killed"]
    failed = [r for r in records if not r.ok]
    in_flight_at_kill = [r for r in records if r.start <= dead and r.end >= kill]
    failed_in_flight = [r for r in failed if r.start <= dead and r.end >= kill and r.upstream == a_port]
    restarted = marks.get("restarted", float("inf"))
    served_by: dict[str, int] = {}
    for r in records:
        if r.ok and r.upstream:
            served_by[r.upstream] = served_by.get(r.upstream, 0) + 1
    by_restarted = sum(1 for r in records if r.ok and r.upstream == a_port and r.start > restarted)
    # Tokens issued before the kill, checked on the restarted replica and the other one.
    tokens_after = token_matrix(stack, tokens)
    valid_after = sum(
        1
        for token in load_tokens
        if httpx.get(f"{stack.url('a')}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    return ReplicaKillResult(
        viewers=viewers,
        duration_s=round(elapsed, 1),
        requests=len(records),
        served=len(records) - len(failed),
        failed=len(failed),
        failed_on_killed_replica=sum(1 for r in failed if r.upstream == a_port),
        failed_in_flight_at_kill=len(failed_in_flight),
        failed_after_restart=sum(1 for r in failed if r.start > restarted),
        in_flight_on_killed_at_kill=sum(1 for r in in_flight_at_kill if r.upstream in (None, a_port)),
        served_by=served_by,
        served_by_restarted=by_restarted,
        data_digest_before=digest_before,
        data_digest_after={
            replica: domain_digest(stack.url(replica), {"Authorization": f"Bearer {tokens['b']}"})
            for replica in ("a", "b")
        },
        tokens_before=tokens_before,
        tokens_after=tokens_after,
        load_tokens_valid_after=valid_after,
        load_tokens=len(load_tokens),
        failures=[
            {
                "kind": r.kind,
                "status": r.status,
                "error": r.error,
                "upstream": r.upstream,
                "in_flight_at_kill": r.start <= dead and r.end >= kill,
                "sent_after_kill_s": round(r.start - kill, 3),
                "ended_after_kill_s": round(r.end - kill, 3),
            }
            for r in failed
        ],
        marks={name: round(value - started, 2) for name, value in marks.items()},
    )


# --- scenario 2: the worker killed mid-preprocess -------------------------------------------------


def _sales_csv(path: Path, rows: int, version: str) -> None:
    with open(path, "w", newline="") as file:
        out = csv.writer(file)
        out.writerow(["version", "country", "month", "revenue"])
        countries = ("France", "Spain", "Italy", "Germany")
        for i in range(rows):
            out.writerow([version, countries[i % 4], f"2024-{i % 12 + 1:02d}", i % 997])


def _upload(base: str, path: Path) -> None:
    with open(path, "rb") as file:
        answer = httpx.post(
            f"{base}/{ETL_APP}/data/sources",
            files={"file": ("sales.csv", file)},
            data={"data": json.dumps({"filename": "sales.csv"})},
            auth=ADMIN,
            timeout=300,
        )
    if answer.status_code == 409:  # replace the previous upload
        httpx.delete(f"{base}/{ETL_APP}/data/sources/sales.csv", auth=ADMIN, timeout=60).raise_for_status()
        _upload(base, path)
        return
    answer.raise_for_status()


def _job(base: str, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = httpx.get(f"{base}/jobs/{job_id}", auth=ADMIN, timeout=30).json()
    return job


def _wait_job(
    base: str, job_id: str, states: tuple[str, ...], timeout: float = 300, pause: float = 0.05
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (job := _job(base, job_id))["state"] not in states:
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} still {job['state']}")
        time.sleep(pause)
    return job


def _staged(base: str) -> dict[str, Any]:
    """The version and row count of the staging data, as a viewer of the staging stage reads it."""
    body = {"query": [{"name": "domain", "domain": "sales"}], "limit": 1}
    answer = httpx.post(f"{base}/{ETL_APP}/data?stage=staging", json=body, auth=ADMIN, timeout=60)
    answer.raise_for_status()
    data = answer.json()
    return {"version": data["data"][0]["version"], "rows": data["total"]}


@dataclass
class WorkerKillResult:
    rows: int
    job_state_at_kill: str
    progress_at_kill: float | None
    served_while_worker_down: dict[str, Any]
    killed_job_final_state: str
    killed_job_error: str | None
    rerun_state: str
    served_after: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def worker_kill(stack: Stack, *, rows: int) -> WorkerKillResult:
    """Preprocess v1 (small), then v2 (`rows` rows); kill -9 the worker while v2 runs, read the
    data while it is down, start a worker again and run the preprocess again."""
    base = stack.lb
    httpx.post(f"{base}/small-apps", json={"id": ETL_APP, "name": "Redundancy"}, auth=ADMIN).raise_for_status()
    etl = {"DATA_SOURCES": [{"domain": "sales", "file": "sales.csv"}]}
    httpx.put(f"{base}/{ETL_APP}/config/etl", json=etl, auth=ADMIN).raise_for_status()
    v1, v2 = stack.folder / "sales-v1.csv", stack.folder / "sales-v2.csv"
    _sales_csv(v1, 100, "v1")
    _sales_csv(v2, rows, "v2")
    _upload(base, v1)
    first = httpx.post(f"{base}/{ETL_APP}/data/preprocess", auth=ADMIN).json()["id"]
    if (job := _wait_job(base, first, ("succeeded", "failed")))["state"] != "succeeded":
        raise RuntimeError(f"first preprocess failed: {job}")

    _upload(base, v2)
    second = httpx.post(f"{base}/{ETL_APP}/data/preprocess", auth=ADMIN).json()["id"]
    at_kill = _wait_job(base, second, ("running", "succeeded", "failed"), pause=0)
    stack.kill("worker")
    served_down = _staged(base)
    final = _wait_job(base, second, ("succeeded", "failed"))  # the reaper's work once heartbeats stop
    stack.start_worker()
    rerun = httpx.post(f"{base}/{ETL_APP}/data/preprocess", auth=ADMIN).json()["id"]
    rerun_job = _wait_job(base, rerun, ("succeeded", "failed"))
    return WorkerKillResult(
        rows=rows,
        job_state_at_kill=at_kill["state"],
        progress_at_kill=at_kill.get("progress"),
        served_while_worker_down=served_down,
        killed_job_final_state=final["state"],
        killed_job_error=final.get("error"),
        rerun_state=rerun_job["state"],
        served_after=_staged(base),
    )
