"""Readiness checks: database, Redis when configured, storage writable, a job worker consuming
and the scheduler beating (TOUCAN_READY_CHECKS_JOBS)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from sqlalchemy import text

from toucan.db.engine import Database
from toucan.jobs import liveness
from toucan.redis_target import redis_client
from toucan.settings import Settings


def _check_database(db: Database) -> dict[str, Any]:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"ok": True, "dialect": db.dialect}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}


def _check_redis(url: str, sentinel_password: str | None) -> dict[str, Any]:
    try:
        client = redis_client(url, sentinel_password, timeout=2)
        client.ping()  # through Sentinel: asks for the master, then pings it
        client.close()
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}


def _check_storage(settings: Settings) -> dict[str, Any]:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix=".ready-", dir=settings.data_dir)
        os.write(fd, b"ok")
        os.close(fd)
        os.unlink(path)
        return {"ok": True, "path": str(settings.data_dir)}
    except OSError as exc:
        return {"ok": False, "path": str(settings.data_dir), "error": exc.strerror or str(exc)}


def _check_jobs(settings: Settings, db: Database) -> dict[str, Any]:
    try:
        return liveness.status(db, settings.job_system_stale_after)
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}


def readiness(settings: Settings, db: Database) -> tuple[bool, dict[str, Any]]:
    """Run every check; (all passed, per-check report)."""
    checks: dict[str, Any] = {"database": _check_database(db)}
    if settings.redis_url:
        checks["redis"] = _check_redis(settings.redis_url, settings.redis_sentinel_password)
    checks["storage"] = _check_storage(settings)
    if settings.ready_checks_jobs:
        checks["jobs"] = _check_jobs(settings, db)
    return all(c["ok"] for c in checks.values()), checks
