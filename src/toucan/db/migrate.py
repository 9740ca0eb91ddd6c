"""Apply Alembic migrations, safely when several processes start at once."""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any fixed 64-bit number works; derived from a name so it is recognisable in pg_locks.
_PG_LOCK_ID = zlib.crc32(b"toucan-migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revisions() -> set[str]:
    """The latest revisions (several while branches are not merged yet)."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def known_revisions() -> set[str]:
    """Every revision this version has a migration for."""
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


@contextmanager
def _migration_lock(engine: Engine, lock_dir: Path) -> Iterator[Connection]:
    """Hold a lock that only one migrating process at a time can take.

    PostgreSQL: a session advisory lock, which works across machines. SQLite: an
    exclusive file lock next to the data, since every process shares that directory.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
                conn.commit()
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / ".migrations.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, lock_dir: Path) -> tuple[set[str], set[str]]:
    """Migrate to the latest revisions; returns (revisions before, revisions after)."""
    with _migration_lock(engine, lock_dir) as conn:
        before = set(MigrationContext.configure(conn).get_current_heads())
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")
        conn.commit()
        after = set(MigrationContext.configure(conn).get_current_heads())
    return before, after
