"""The request path's metadata reads: one round trip each, retried once on a dropped connection."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from toucan.data.reads import RequestReads
from toucan.db.engine import Database


def test_a_read_on_a_dropped_connection_is_retried_once(db: Database) -> None:
    reads = RequestReads(db)
    try:
        seen: list[Connection] = []

        def read(conn: Connection) -> int:
            seen.append(conn)
            if len(seen) == 1:
                conn.connection.dbapi_connection.close()  # type: ignore[union-attr]  # the server dropped it
            return int(conn.execute(text("SELECT 1")).scalar_one())

        assert reads.run(read) == 1
        assert len(seen) == 2
    finally:
        reads.close()


def test_other_errors_are_not_retried(db: Database) -> None:
    reads = RequestReads(db)
    try:
        calls: list[int] = []

        def read(conn: Connection) -> None:
            calls.append(1)
            conn.execute(text("SELECT * FROM no_such_table"))

        with pytest.raises(DBAPIError):
            reads.run(read)
        assert calls == [1]
    finally:
        reads.close()


def test_reads_on_a_server_leave_no_transaction_open(db: Database) -> None:
    """Autocommit on a server: no BEGIN before and no ROLLBACK after each read."""
    reads = RequestReads(db)
    try:
        if db.dialect == "sqlite":
            assert reads.engine is db.engine
        else:
            assert reads.engine is not db.engine

            def in_transaction(conn: Connection) -> bool:
                conn.execute(text("SELECT 1"))
                return bool(conn.connection.dbapi_connection.info.transaction_status)  # type: ignore[union-attr]

            assert reads.run(in_transaction) is False
    finally:
        reads.close()
