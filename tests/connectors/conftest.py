"""Fixtures of the connector tests: settings, real PostgreSQL and MariaDB tables, SQLite and
DuckDB files, and a local HTTP API that records every request it receives."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.helpers.connectors import (
    MARIADB_SERVER,
    PG_SERVER,
    SALES,
    ApiServer,
    _handler,
    make_settings,
)
from toucan.settings import Settings


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    """Settings that let connectors reach this machine's test servers."""
    return make_settings(tmp_path, ["127.0.0.1", "localhost"])


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh schema with a `sales` table in PostgreSQL's `test` database, dropped afterwards."""
    schema = f"conn_{uuid.uuid4().hex[:10]}"
    engine = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        conn.execute(
            text(f"CREATE TABLE {schema}.sales (id int, city text, amount numeric(10, 2), day date, tags jsonb)")
        )
        for row in SALES:
            conn.execute(
                text(f"INSERT INTO {schema}.sales VALUES (:id, :city, :amount, CAST(:day AS date), :tags)"),
                {"id": row[0], "city": row[1], "amount": row[2], "day": row[3], "tags": json.dumps({"n": row[0]})},
            )
    try:
        yield schema
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture
def mariadb_table() -> Iterator[str]:
    """A fresh `sales` table in MariaDB's `test` database, dropped afterwards."""
    table = f"sales_{uuid.uuid4().hex[:10]}"
    engine = create_engine(MARIADB_SERVER, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE TABLE {table} (id int, city varchar(40), amount decimal(10, 2), day date)"))
        for row in SALES:
            conn.execute(
                text(f"INSERT INTO {table} VALUES (:id, :city, :amount, :day)"),
                {"id": row[0], "city": row[1], "amount": row[2], "day": row[3]},
            )
    try:
        yield table
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    import sqlite3

    path = tmp_path / "files" / "sales.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sales (id integer, city text, amount real, day text)")
        conn.executemany("INSERT INTO sales VALUES (?, ?, ?, ?)", SALES)
    return path


@pytest.fixture
def duckdb_file(tmp_path: Path) -> Path:
    import duckdb

    path = tmp_path / "files" / "sales.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE sales (id INTEGER, city VARCHAR, amount DECIMAL(10, 2), day DATE)")
    conn.executemany("INSERT INTO sales VALUES (?, ?, ?, CAST(? AS DATE))", [list(row) for row in SALES])
    conn.close()
    return path


@pytest.fixture(scope="session")
def _api_server() -> Iterator[ApiServer]:
    state = ApiServer(base="", port=0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    state.base = f"http://127.0.0.1:{state.port}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def api(_api_server: ApiServer) -> ApiServer:
    """The local HTTP API, its request log emptied."""
    _api_server.reset()
    return _api_server
