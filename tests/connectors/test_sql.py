"""SQL connectors on real databases: PostgreSQL and MariaDB servers, SQLite and DuckDB files."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.connectors import LOCAL_HOSTS, make_settings
from toucan.connectors.base import ConnectorError, SourceQueryError
from toucan.connectors.registry import build_connector
from toucan.connectors.sql import SqlConnector, limited_sql, table_sql
from toucan.errors import QueryTimeout, ToucanError, ValidationError
from toucan.settings import Settings

PASSWORD = "db-pass-9f3e-unique"


def _sql(provider: dict[str, Any], settings: Settings, **options: Any) -> SqlConnector:
    connector = build_connector(provider, settings, **options)
    assert isinstance(connector, SqlConnector)
    return connector


def _source(**fields: Any) -> dict[str, Any]:
    return {"domain": "sales", "name": "db", **fields}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, LOCAL_HOSTS)


@pytest.fixture
def postgres(settings: Settings, pg_schema: str) -> Iterator[SqlConnector]:
    provider = {"name": "db", "type": "postgres", "host": "127.0.0.1", "user": "postgres", "database": "test"}
    with _sql(provider, settings) as connector:
        yield connector


@pytest.fixture
def mariadb(settings: Settings, mariadb_table: str) -> Iterator[SqlConnector]:
    provider = {"name": "db", "type": "mysql", "host": "127.0.0.1", "user": "root", "database": "test"}
    with _sql(provider, settings) as connector:
        yield connector


# PostgreSQL ------------------------------------------------------------------------------------


def test_postgres_table_with_types(postgres: SqlConnector, pg_schema: str) -> None:
    table = postgres.fetch(_source(table=f"{pg_schema}.sales"))
    assert table.column_names == ["id", "city", "amount", "day", "tags"]
    rows = table.to_pylist()
    assert rows[0] == {
        "id": 1,
        "city": "Paris",
        "amount": Decimal("120.50"),
        "day": dt.date(2024, 1, 5),
        "tags": {"n": 1},
    }
    assert table.num_rows == 4


def test_postgres_query_with_bound_parameters_and_limit(postgres: SqlConnector, pg_schema: str) -> None:
    source = _source(
        query=f"SELECT city, SUM(amount)::float AS total FROM {pg_schema}.sales WHERE day >= :since "
        "GROUP BY city ORDER BY total DESC",
        parameters={"since": dt.date(2024, 1, 6)},
    )
    assert postgres.fetch(source).to_pylist() == [
        {"city": "Lyon", "total": 80.0},
        {"city": "Paris", "total": 42.25},
        {"city": "Nantes", "total": 10.0},
    ]
    assert postgres.fetch(source, limit=1).to_pylist() == [{"city": "Lyon", "total": 80.0}]
    empty = postgres.fetch(source, limit=0)
    assert empty.num_rows == 0 and empty.column_names == ["city", "total"]


def test_a_parameter_is_a_value_never_sql(postgres: SqlConnector, pg_schema: str) -> None:
    source = _source(query=f"SELECT id FROM {pg_schema}.sales WHERE city = :city", parameters={"city": "x' OR '1'='1"})
    assert postgres.fetch(source).num_rows == 0


def test_fetch_sql_runs_the_dialects_sql(postgres: SqlConnector, pg_schema: str) -> None:
    assert postgres.dialect == "postgres"
    table = postgres.fetch_sql(f"SELECT id, city || '%' AS c FROM {pg_schema}.sales ORDER BY id;", limit=2)
    assert table.to_pylist() == [{"id": 1, "c": "Paris%"}, {"id": 2, "c": "Lyon%"}]


def test_postgres_errors(postgres: SqlConnector, pg_schema: str) -> None:
    with pytest.raises(SourceQueryError) as caught:
        postgres.fetch(_source(table=f"{pg_schema}.nope"))
    assert caught.value.status == 400 and "nope" in caught.value.message
    with pytest.raises(ValidationError) as missing:
        postgres.fetch(_source(query="SELECT :year AS y"))
    assert "year" in missing.value.message
    with pytest.raises(SourceQueryError) as write:
        postgres.fetch_sql(f"DELETE FROM {pg_schema}.sales RETURNING id")
    assert "read-only" in write.value.message


def test_postgres_time_limit_is_a_504(settings: Settings, pg_schema: str) -> None:
    provider = {"name": "db", "type": "postgres", "host": "127.0.0.1", "user": "postgres", "database": "test"}
    with _sql(provider, settings, timeout=0.2) as connector, pytest.raises(QueryTimeout) as caught:
        connector.fetch_sql("SELECT pg_sleep(5)")
    assert caught.value.status == 504


def test_postgres_status_steps(postgres: SqlConnector) -> None:
    status = postgres.status()
    assert status.ok
    assert [(s.name, s.ok) for s in status.steps] == [
        ("host allowed", True),
        ("port open", True),
        ("authenticated", True),
        ("query ran", True),
    ]


def test_a_refused_login_never_shows_the_password(
    settings: Settings, mariadb_table: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = {"name": "db", "type": "mysql", "host": "127.0.0.1", "user": "root", "password": PASSWORD}
    connector = _sql(provider, settings)
    with pytest.raises(ConnectorError) as caught:
        connector.fetch_sql("SELECT 1")
    assert caught.value.status == 502 and "Access denied" in caught.value.message
    status = connector.status()
    assert [(s.name, s.ok) for s in status.steps][2:] == [("authenticated", False), ("query ran", None)]
    shown = [caught.value.message, repr(connector), repr(connector.config), str(status), caplog.text]
    assert all(PASSWORD not in text for text in shown)


def test_an_unreachable_server_fails_at_port_open(settings: Settings) -> None:
    provider = {"name": "db", "type": "postgres", "host": "127.0.0.1", "port": 1, "user": "u", "password": PASSWORD}
    connector = _sql(provider, settings, timeout=2)
    status = connector.status()
    assert not status.ok
    assert [(s.name, s.ok) for s in status.steps] == [
        ("host allowed", True),
        ("port open", False),
        ("authenticated", None),
        ("query ran", None),
    ]
    with pytest.raises(ConnectorError) as caught:
        connector.fetch_sql("SELECT 1")
    assert "127.0.0.1:1" in caught.value.message and PASSWORD not in caught.value.message


# MariaDB ---------------------------------------------------------------------------------------


def test_mariadb_table_query_and_limit(mariadb: SqlConnector, mariadb_table: str) -> None:
    assert mariadb.dialect == "mysql"
    table = mariadb.fetch(_source(table=mariadb_table))
    assert table.num_rows == 4
    assert table.to_pylist()[1] == {"id": 2, "city": "Lyon", "amount": Decimal("80.00"), "day": dt.date(2024, 1, 6)}
    source = _source(
        query=f"SELECT id, city FROM {mariadb_table} WHERE city = :city ORDER BY id", parameters={"city": "Paris"}
    )
    assert mariadb.fetch(source).to_pylist() == [{"id": 1, "city": "Paris"}, {"id": 3, "city": "Paris"}]
    assert mariadb.fetch(source, limit=1).to_pylist() == [{"id": 1, "city": "Paris"}]
    assert mariadb.status().ok


def test_mariadb_errors(mariadb: SqlConnector, mariadb_table: str) -> None:
    with pytest.raises(SourceQueryError) as unknown_column:
        mariadb.fetch_sql(f"SELECT nope FROM {mariadb_table}")
    assert "nope" in unknown_column.value.message
    with pytest.raises(SourceQueryError) as write:
        mariadb.fetch_sql(f"DELETE FROM {mariadb_table}")
    assert "READ ONLY" in write.value.message
    assert mariadb.fetch(_source(table=mariadb_table)).num_rows == 4


def test_mariadb_time_limit_is_a_504(settings: Settings, mariadb_table: str) -> None:
    provider = {"name": "db", "type": "mysql", "host": "127.0.0.1", "user": "root", "database": "test"}
    with _sql(provider, settings, timeout=0.5) as connector, pytest.raises(QueryTimeout):
        connector.fetch_sql("SELECT SLEEP(3)")


# SQLite and DuckDB files -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_database_files(kind: str, settings: Settings, sqlite_file: Path, duckdb_file: Path) -> None:
    path = sqlite_file if kind == "sqlite" else duckdb_file
    with _sql({"name": "db", "type": kind, "path": str(path)}, settings) as connector:
        assert connector.dialect == kind
        assert connector.fetch(_source(table="sales")).num_rows == 4
        source = _source(
            query="SELECT id, city FROM sales WHERE amount > :minimum ORDER BY id", parameters={"minimum": 40}
        )
        assert connector.fetch(source).to_pylist() == [
            {"id": 1, "city": "Paris"},
            {"id": 2, "city": "Lyon"},
            {"id": 3, "city": "Paris"},
        ]
        assert connector.fetch(source, limit=2).num_rows == 2
        status = connector.status()
        assert status.ok and [s.name for s in status.steps] == ["file found", "opened", "query ran"]


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_database_files_are_read_only_and_closed_to_other_files(
    kind: str, settings: Settings, sqlite_file: Path, duckdb_file: Path, tmp_path: Path
) -> None:
    path = sqlite_file if kind == "sqlite" else duckdb_file
    with _sql({"name": "db", "type": kind, "path": str(path)}, settings) as connector:
        with pytest.raises(ToucanError) as write:
            connector.fetch_sql("CREATE TABLE t2 AS SELECT 1 AS a")
        assert write.value.status == 400
        with pytest.raises(SourceQueryError):
            connector.fetch_sql(f"ATTACH '{tmp_path / 'other.db'}' AS other")
        assert not (tmp_path / "other.db").exists()
        with pytest.raises(SourceQueryError):
            connector.fetch_sql("SELECT * FROM nope")


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_database_file_time_limit_is_a_504(kind: str, settings: Settings, sqlite_file: Path, duckdb_file: Path) -> None:
    path = sqlite_file if kind == "sqlite" else duckdb_file
    endless = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r"
    connector = _sql({"name": "db", "type": kind, "path": str(path)}, settings, timeout=0.2)
    with connector, pytest.raises(QueryTimeout):
        connector.fetch_sql(endless)


def test_database_file_paths(settings: Settings, sqlite_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError) as missing:
        _sql({"name": "db", "type": "sqlite", "path": str(tmp_path / "missing.sqlite")}, settings).fetch_sql("SELECT 1")
    assert "does not exist" in missing.value.message
    assert not (tmp_path / "missing.sqlite").exists()  # never created
    with pytest.raises(ValidationError) as relative:
        _sql({"name": "db", "type": "sqlite", "path": "sales.sqlite"}, settings).fetch_sql("SELECT 1")
    assert "absolute" in relative.value.message
    relative_ok = _sql({"name": "db", "type": "sqlite", "path": "sales.sqlite"}, settings, files_dir=sqlite_file.parent)
    assert relative_ok.fetch_sql("SELECT COUNT(*) AS n FROM sales").to_pylist() == [{"n": 4}]


def test_the_stacks_own_files_may_not_be_read(tmp_path: Path) -> None:
    import sqlite3

    settings = make_settings(tmp_path, LOCAL_HOSTS)
    settings.data_dir.mkdir(parents=True)
    own = settings.data_dir / "toucan.sqlite"
    sqlite3.connect(own).close()
    with pytest.raises(ValidationError) as caught:
        _sql({"name": "db", "type": "sqlite", "path": str(own)}, settings).fetch_sql("SELECT 1")
    assert caught.value.code == "path_not_allowed"


# SQL building ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("postgres", "SELECT * FROM (\nSELECT 1\n) AS _toucan_limit LIMIT 5"),
        ("oracle", "SELECT * FROM (\nSELECT 1\n) _toucan_limit FETCH FIRST 5 ROWS ONLY"),
        ("mysql", "SELECT * FROM (\nSELECT 1\n) AS _toucan_limit LIMIT 5"),
    ],
)
def test_limited_sql_wraps_the_query_untouched(dialect: str, expected: str) -> None:
    assert limited_sql("SELECT 1;", 5, dialect) == expected


def test_limited_sql_leaves_tsql_to_the_fetch() -> None:
    assert limited_sql("WITH a AS (SELECT 1 AS x) SELECT x FROM a ORDER BY x", 5, "tsql") is None


def test_table_sql_quotes_only_when_needed() -> None:
    assert table_sql("sales", None, "postgres") == "SELECT * FROM sales"
    assert table_sql("crm.My Sales", 10, "tsql") == "SELECT TOP 10 * FROM crm.[My Sales]"
    assert table_sql("analytics.sales", 3, "bigquery") == "SELECT * FROM analytics.sales LIMIT 3"
    with pytest.raises(ValidationError):
        table_sql("a.b.c.d", None, "postgres")


# Types whose drivers cannot be installed or reached here: the URL and options they get -----------


@pytest.mark.parametrize(
    ("provider", "url", "address"),
    [
        (
            {"type": "azure_mssql", "host": "x.database.windows.net", "user": "u", "database": "d", "encrypt": False},
            "mssql+pyodbc://u:***@x.database.windows.net:1433/d?Encrypt=yes&TrustServerCertificate=no"
            "&driver=ODBC+Driver+18+for+SQL+Server",
            ("x.database.windows.net", 1433),
        ),
        (
            {"type": "mssql", "host": "sql1", "user": "u", "encrypt": False, "trust_server_certificate": True},
            "mssql+pyodbc://u:***@sql1:1433?Encrypt=no&TrustServerCertificate=yes&driver=ODBC+Driver+18+for+SQL+Server",
            ("sql1", 1433),
        ),
        (
            {"type": "oracle", "host": "ora", "user": "u", "service_name": "ORCL"},
            "oracle+oracledb://u:***@ora:1521?service_name=ORCL",
            ("ora", 1521),
        ),
        (
            {"type": "snowflake", "account": "org-acc", "user": "u", "database": "DB", "schema": "PUBLIC", "role": "R"},
            "snowflake://u:***@org-acc/DB/PUBLIC?role=R",
            None,
        ),
        (
            {"type": "bigquery", "project": "proj", "dataset": "ds", "credentials": {"private_key": PASSWORD}},
            "bigquery://proj/ds?user_supplied_client=True",
            None,
        ),
        # clickhouse: no SQLAlchemy URL, see test_warehouses.py::test_clickhouse_client_options
    ],
)
def test_connection_urls_of_types_without_a_server_here(
    provider: dict[str, Any], url: str, address: tuple[str, int] | None, tmp_path: Path
) -> None:
    import importlib

    from toucan.connectors.types import TYPES

    entry = TYPES[provider["type"]]
    connector_class = getattr(importlib.import_module(f"toucan.connectors.{entry.module}"), entry.class_name)
    secret = {} if provider["type"] == "bigquery" else {"password": PASSWORD}
    config = connector_class.config_model.model_validate({"name": "db", **secret, **provider})
    connector = connector_class(config, make_settings(tmp_path, LOCAL_HOSTS))
    assert connector.url().render_as_string(hide_password=True) == url
    assert connector.address() == address
    assert PASSWORD not in repr(connector) and PASSWORD not in repr(connector.config)
    assert connector.redact(f"driver said: bad login {PASSWORD}") == "driver said: bad login ***"
