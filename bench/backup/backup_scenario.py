"""Backup and restore of a GB-sized small app, with the tools' time and peak memory.

Two stacks (SQLite metadata, one `toucan-ctl serve --production` each, as the tools need a
backend to ask its version and to check the restoring administrator). Stack A gets an app
whose domain files add up to `size` bytes of Parquet (random data: it does not compress);
`toucan_backup` writes its backup, `toucan_restore` restores it into stack B. Each tool runs
in its own process, measured with `getrusage` (peak resident memory) and the wall clock.

Used by bench/backup/run.py (the figures) and tests/backup/test_large_backup.py (the memory
bound, the data restored).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from toucan.apps.configs import Stage
from toucan.apps.small_apps import AppCreate, create_app
from toucan.data.domains import domain_store_for, sql_string
from toucan.db import migrate
from toucan.db.engine import Database
from toucan.settings import Settings

BIN = Path(sys.executable).parent
PASSWORD = "bench-admin-password-1"
APP = "big-app"
FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ToolRun:
    seconds: float
    peak_rss_mib: float
    returncode: int
    output: str


@dataclass(frozen=True)
class BackupFigures:
    storage_bytes: int
    domains: int
    rows: int
    backup_bytes: int
    backup: ToolRun
    restore: ToolRun
    restored_rows: int


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCAN_")}
    env.update(
        TOUCAN_DATA_DIR=str(data_dir),
        TOUCAN_SUPER_ADMIN_PASSWORD=PASSWORD,
        TOUCAN_SECRET_KEY=f"bench-secret-key-{data_dir.name}-0123456789",
        TOUCAN_GUNICORN_WORKERS="1",
        TOUCAN_READY_CHECKS_JOBS="false",
        COLUMNS="200",
    )
    return env


@contextmanager
def _server(env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    log = open(Path(env["TOUCAN_DATA_DIR"]) / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(BIN / "toucan-ctl"), "serve", "--production"],
        env={**env, "TOUCAN_PORT": str(port), "TOUCAN_HOST": "127.0.0.1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(base + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server not ready: {(Path(env['TOUCAN_DATA_DIR']) / 'server.log').read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _settings(data_dir: Path) -> Settings:
    env = _env(data_dir)
    return Settings(data_dir=data_dir, secret_key=env["TOUCAN_SECRET_KEY"])


def make_stack(data_dir: Path) -> tuple[Settings, Database]:
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = _settings(data_dir)
    db = Database.from_settings(settings)
    migrate.upgrade(db.engine, data_dir)
    return settings, db


def make_big_app(settings: Settings, db: Database, size: int) -> tuple[int, int, int]:
    """An app whose domain files add up to at least `size` bytes; (bytes, domains, rows)."""
    with db.session() as session:
        create_app(session, None, AppCreate(id=APP, name="Big app"))
    store = domain_store_for(settings, db)
    files = {}
    total = rows = 0
    per_file = 2_000_000  # rows, tuned after the first file to reach FILE_BYTES
    start = 0
    while total < size:
        want = min(FILE_BYTES, size - total)
        count = per_file

        def write(conn: object, path: Path, start: int = start, count: int = count) -> None:
            conn.execute(  # type: ignore[attr-defined]
                f"COPY (SELECT i AS id, md5(i::VARCHAR) AS key, random() AS a, random() AS b "
                f"FROM range({start}, {start + count}) t(i)) TO {sql_string(str(path))} (FORMAT parquet)"
            )

        staged = store.stage_file(APP, write)
        written = store.path(APP, staged.file).stat().st_size
        files[f"part_{len(files):03d}"] = staged
        total += written
        rows += staged.rows
        start += count
        per_file = max(1000, int(count * want / written)) if written else per_file
    store.commit(APP, Stage.STAGING, files, replace_all=True, author="bench")
    store.release(APP)
    return total, len(files), rows


def measured(args: list[str], env: dict[str, str]) -> ToolRun:
    """Run a tool in its own process: wall time and peak resident memory (getrusage of the
    finished child, through a small parent that runs nothing else)."""
    probe = (
        "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    peak_kib, code = done.stdout.strip().splitlines()[-1].split()
    return ToolRun(round(seconds, 1), round(int(peak_kib) / 1024, 1), int(code), done.stderr[-3000:])


def run(folder: Path, size: int) -> BackupFigures:
    settings_a, db_a = make_stack(folder / "a")
    settings_b, db_b = make_stack(folder / "b")
    storage, domains, rows = make_big_app(settings_a, db_a, size)
    env_a, env_b = _env(settings_a.data_dir), _env(settings_b.data_dir)
    output = folder / "backups"
    with _server(env_a) as base_a, _server(env_b) as base_b:
        backup = measured(
            [str(BIN / "toucan_backup"), "--output", str(output)],
            {**env_a, "BACKEND_URL_SPECIFIC": base_a, "SMALL_APP_SPECIFIC": APP},
        )
        if backup.returncode != 0:
            raise RuntimeError(f"toucan_backup failed: {backup.output}")
        (directory,) = output.glob("on-premise_backup-*")
        restore = measured(
            [str(BIN / "toucan_restore"), str(directory), str(settings_b.data_dir)],
            {
                **env_b,
                "BACKEND_URL_SPECIFIC": base_b,
                "BACKEND_USER_SPECIFIC": "admin",
                "BACKEND_PASSWORD_SPECIFIC": PASSWORD,
            },
        )
        if restore.returncode != 0:
            raise RuntimeError(f"toucan_restore failed: {restore.output}")
        token = httpx.post(base_b + "/login", json={"username": "admin", "password": PASSWORD}).json()["token"]
        metadata = httpx.get(
            f"{base_b}/{APP}/metadata?stage=production", headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).json()
    restored = sum(int(domain["rows"]) for domain in metadata["domains"])
    backup_bytes = sum(p.stat().st_size for p in directory.iterdir())
    db_a.dispose()
    db_b.dispose()
    return BackupFigures(storage, domains, rows, backup_bytes, backup, restore, restored)


def own_peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
