"""The request path's small metadata reads: the caller's token, an app's stamps.

Every request makes one or two indexed single-row reads whose answers must be current (a
revoked token counts at once), so they are never cached; each must cost one round trip.
They run on the event loop: a hop to the threadpool costs more CPU than the read itself
(measured: 0.2-0.55 ms of CPU a request with PostgreSQL, 2 cores), and the loop waits at most a
round trip of the metadata database.

On SQLite the metadata engine serves them as it is. On a database server its pool pings
the server and opens a transaction around each checkout (four round trips for one read):
these reads use their own small engine in autocommit mode instead, without the ping, and a
read is retried once on a fresh connection when the server dropped the old one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import DBAPIError

from toucan.db.engine import Database

T = TypeVar("T")

# A server that does not answer must not hold the event loop for long.
CONNECT_TIMEOUT_SECONDS = 5


class RequestReads:
    """Runs read-only functions of a connection for the request path."""

    def __init__(self, db: Database) -> None:
        self._own = db.dialect != "sqlite"
        self.engine: Engine = db.engine
        if self._own:
            # The event loop needs one connection at a time; threads (exports) overflow.
            self.engine = create_engine(
                db.engine.url,
                isolation_level="AUTOCOMMIT",
                pool_size=1,
                max_overflow=10,
                connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
            )

    def run(self, read: Callable[[Connection], T]) -> T:
        """`read(conn)`, retried once when the connection turns out to be dead."""
        try:
            with self.engine.connect() as conn:
                return read(conn)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with self.engine.connect() as conn:
            return read(conn)

    def close(self) -> None:
        if self._own:
            self.engine.dispose()
