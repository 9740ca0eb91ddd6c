"""Helpers for tests that run the real server as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
TOUCAN_CTL = [sys.executable, "-m", "toucan.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_test_url(db: int) -> str:
    """A Redis database of the local server for one test: the PostgreSQL pass (TOUCAN_TEST_DATABASE_URL
    set) uses the database below the SQLite pass's, so `make test` can run both passes at once
    without one flushing the other's queue."""
    if os.environ.get("TOUCAN_TEST_DATABASE_URL"):
        db -= 1
    return f"redis://127.0.0.1:6379/{db}"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCAN_")}
    env.update(extra)
    return env


class Server:
    """A running `toucan-ctl serve`: its output is read continuously (a full pipe would block it)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_output(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not printed; output: {self.output()[-2000:]}")
            time.sleep(0.02)
        return self.output()


@contextmanager
def running_server(
    env: dict[str, str],
    args: tuple[str, ...] = (),
    ready_path: str = "/_api/ready",
    timeout: float = 60,
) -> Iterator[tuple[str, Server]]:
    """Start `toucan-ctl serve` and wait until `ready_path` answers 200."""
    port = free_port()
    env = {**env, "TOUCAN_PORT": str(port), "TOUCAN_HOST": "127.0.0.1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [*TOUCAN_CTL, "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    server = Server(proc)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                time.sleep(0.2)
                raise AssertionError(f"server exited: {server.output()}")
            try:
                if httpx.get(base + ready_path, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("server not ready in time")
            time.sleep(0.05)
        yield base, server
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    """Terminate `proc`, killing it when it has not ended within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium, headless, without the background traffic a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """A Playwright browser on Debian's Chromium (Playwright's own download cannot work here);
    `extra_args`: more command-line switches (e.g. --host-resolver-rules)."""
    if not CHROMIUM.exists():
        raise AssertionError("Debian's chromium is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


PG = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_schema(prefix: str, *statements: str) -> Iterator[str]:
    """A new schema in the local PostgreSQL, set up by `statements` (each with `{schema}` in
    place of its name), dropped with everything in it at the end of the block."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        for statement in statements:
            conn.execute(statement.replace("{schema}", schema))
    try:
        yield schema
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
