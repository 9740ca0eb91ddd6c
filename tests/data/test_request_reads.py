"""The request path's metadata reads: one round trip each, retried once on a dropped connection."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, bindparam, event, func, literal, literal_column, select, text
from sqlalchemy.exc import DBAPIError

from toucan.data.reads import RequestReads
from toucan.db.engine import Database
from toucan.db.models import User


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


def test_a_statement_whose_connection_the_server_dropped_is_run_again(db: Database) -> None:
    reads = RequestReads(db)
    invalidated: list[object] = []
    event.listen(reads.engine, "invalidate", lambda *args: invalidated.append(args))
    one = select(literal_column("1"))
    try:
        if db.dialect == "postgresql":
            pid = reads.one(select(func.pg_backend_pid()), {})
            assert pid is not None
            with db.engine.connect() as admin:  # the server ends the pooled connection
                assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid[0]}).scalar()
        assert reads.one(one, {}) == (1,)
        assert len(invalidated) == (1 if db.dialect == "postgresql" else 0)
    finally:
        reads.close()


def test_statements_take_parameters_and_constants(db: Database) -> None:
    """The driver path binds the statement's own constants as SQLAlchemy would."""
    reads = RequestReads(db)
    try:
        statement = select(User.username, literal("x") + User.role).where(User.username == bindparam("name"))
        assert reads.one(statement, {"name": "admin"}) == ("admin", "xSUPER_ADMIN")
        assert reads.one(statement, {"name": "nobody"}) is None
    finally:
        reads.close()
