"""Engines and sessions for the metadata database (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from toucan.settings import Settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout makes writers wait for each other instead of failing at once with
    # "database is locked"; WAL lets readers go on while one process writes.
    cursor.execute("PRAGMA busy_timeout=15000")
    _set_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _set_wal(cursor: Any, attempts: int = 100) -> None:
    """Switch to WAL. On a new database that other processes are creating at the same moment
    (several services starting at once), SQLite can answer "database is locked" at once,
    without waiting for the busy timeout: try again for a while."""
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def make_engine(url: str) -> Engine:
    """An engine for `url`, with the SQLite pragmas the embedded stack relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


@dataclass
class Database:
    """The read-write engine and the read-only one (the same engine unless configured)."""

    engine: Engine
    readonly_engine: Engine

    def __post_init__(self) -> None:
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._readonly_session = sessionmaker(self.readonly_engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = make_engine(settings.resolved_database_url)
        if settings.resolved_readonly_url == settings.resolved_database_url:
            return cls(engine, engine)
        return cls(engine, make_engine(settings.resolved_readonly_url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        session = self._session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def readonly_session(self) -> Iterator[Session]:
        session = self._readonly_session()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.readonly_engine is not self.engine:
            self.readonly_engine.dispose()
