"""Apply Alembic migrations, safely when several processes start at once."""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from toucan.errors import ToucanError

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


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def known_revisions() -> set[str]:
    """Every revision this version has a migration for."""
    return {script.revision for script in _scripts().walk_revisions()}


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


class NewerDatabase(ToucanError):
    """The database was migrated by a newer version of the stack: this one must not run on it."""

    status = 409


@dataclass(frozen=True)
class UpgradePlan:
    """What migrating this database to this version's schema would do."""

    current: set[str]  # the database's revisions (empty: a new database)
    pending: list[str]  # the migrations that would run, oldest first, as `revision: message`

    @property
    def up_to_date(self) -> bool:
        return bool(self.current) and not self.pending


def plan_upgrade(engine: Engine) -> UpgradePlan:
    """The migrations an upgrade would run; NewerDatabase when the database is at a revision
    this version does not know (a newer version migrated it: a downgrade, refused)."""
    current = current_revisions(engine)
    unknown = sorted(current - known_revisions())
    if unknown:
        from toucan import __version__

        raise NewerDatabase(
            f"The database is at revision {', '.join(unknown)}, which this version ({__version__}) does not know: "
            "a newer version of the stack migrated it, and going back to an older version is not supported. "
            "Run the newer version again, or restore the database backup taken before the upgrade.",
            details={"revisions": unknown, "version": __version__},
        )
    pending = [
        f"{step.revision}: {step.doc}"
        for step in reversed(list(_scripts().iterate_revisions("heads", tuple(current) or "base")))
        if step.revision not in current
    ]
    return UpgradePlan(current, pending)


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
    """Migrate to the latest revisions; returns (revisions before, revisions after). A database
    a newer version migrated is refused (NewerDatabase) before anything is written."""
    with _migration_lock(engine, lock_dir) as conn:
        plan_upgrade(engine)
        before = set(MigrationContext.configure(conn).get_current_heads())
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")
        conn.commit()
        after = set(MigrationContext.configure(conn).get_current_heads())
    return before, after
