"""The request path's small metadata reads: the caller's token, an app's stamps.

Every request makes one or two indexed single-row reads whose answers must be current (a
revoked token counts at once), so they are never cached; each must cost one round trip and
little CPU. They run on the event loop: a hop to the threadpool costs more CPU than the read
itself (measured: 0.2-0.55 ms of CPU a request with PostgreSQL, 2 cores), and the loop waits
at most a round trip of the metadata database.

On SQLite the metadata engine serves them as it is. On a database server its pool pings
the server and opens a transaction around each checkout (four round trips for one read):
these reads use their own small engine in autocommit mode instead, without the ping, and
run their statement, compiled once, straight on the driver's cursor (SQLAlchemy's result
layer cost 4 times the driver's CPU for these rows; the driver's own types are the ones
SQLAlchemy would return). A read is retried once on a fresh connection when the server
dropped the old one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select, create_engine
from sqlalchemy.exc import DBAPIError

from toucan.db.engine import Database

T = TypeVar("T")
# A SELECT of any columns.
Statement = Select[*tuple[Any, ...]]

# A server that does not answer must not hold the event loop for long.
CONNECT_TIMEOUT_SECONDS = 5


class _Dropped(Exception):
    """The server closed the connection under a read (a restart, a network cut)."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    defaults: dict[str, Any]
    positions: tuple[str, ...] | None  # for positional paramstyles

    def parameters(self, params: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **params}
        return [merged[name] for name in self.positions] if self.positions is not None else merged


class RequestReads:
    """Runs the request path's read-only statements, one round trip each."""

    def __init__(self, db: Database) -> None:
        self._server = db.dialect != "sqlite"
        self.engine: Engine = db.engine
        if self._server:
            # The event loop needs one connection at a time; threads (exports) overflow.
            self.engine = create_engine(
                db.engine.url,
                isolation_level="AUTOCOMMIT",
                pool_size=1,
                max_overflow=10,
                connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
            )
        self._compiled: dict[int, tuple[Statement, _Compiled]] = {}

    def one(self, statement: Statement, params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row of `statement` with `params`, or None."""
        if not self._server:
            return self.run(lambda conn: conn.execute(statement, params).first())
        compiled = self._compile(statement)
        values = compiled.parameters(params)

        def read(conn: Connection) -> Sequence[Any] | None:
            dbapi_connection = conn.connection.dbapi_connection
            assert dbapi_connection is not None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(compiled.sql, values)
                row: Sequence[Any] | None = cursor.fetchone()
            except Exception as exc:
                if self.engine.dialect.is_disconnect(exc, dbapi_connection, cursor):  # type: ignore[arg-type]
                    conn.invalidate(exc)
                    raise _Dropped from exc
                raise
            finally:
                cursor.close()
            return row

        return self.run(read)

    def run(self, read: Callable[[Connection], T]) -> T:
        """`read(conn)`, retried once when the connection turns out to be dead."""
        try:
            with self.engine.connect() as conn:
                return read(conn)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        except _Dropped:
            pass
        with self.engine.connect() as conn:
            return read(conn)

    def _compile(self, statement: Statement) -> _Compiled:
        found = self._compiled.get(id(statement))
        if found is not None and found[0] is statement:
            return found[1]
        compiled = statement.compile(dialect=self.engine.dialect)
        positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        result = _Compiled(compiled.string, dict(compiled.params), positions)
        self._compiled[id(statement)] = (statement, result)
        return result

    def close(self) -> None:
        if self._server:
            self.engine.dispose()
