"""PostgreSQL read through ADBC (binary COPY into Arrow) on the real server: the types the
SQLAlchemy path gave, parameters bound, rows streamed in batches, time limits and errors; and
what ADBC cannot read the same way goes through SQLAlchemy."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from sqlalchemy import create_engine, text

from tests.helpers import scratch_schema
from tests.helpers.connectors import LOCAL_HOSTS, PG_SERVER, make_settings
from toucan.connectors.base import ConnectorError, SourceQueryError
from toucan.connectors.postgres import PostgresConnector
from toucan.connectors.registry import build_connector
from toucan.connectors.sql import FETCH_BATCH
from toucan.data.domains import write_arrow
from toucan.errors import QueryTimeout
from toucan.settings import Settings

PROVIDER = {"name": "db", "type": "postgres", "host": "127.0.0.1", "user": "postgres", "database": "test"}
FALLBACK = "read through SQLAlchemy"
PASSWORD = "pg-pass-'quoted'-\\-7d1c"

COLUMNS = """
    i2 int2, i4 int4, i8 int8, price numeric(10, 2), ratio numeric, f4 float4, f8 float8,
    name text, code varchar(5), ok bool, day date, at timestamp, at_tz timestamptz, hour time,
    span interval, raw bytea, id uuid, doc json, docb jsonb, mood {schema}.mood
"""
VALUES = """
    (1, 2, 3, 120.50, 2.25, 1.1, 2.5, 'Paris', 'FR', true, DATE '2024-01-05',
     TIMESTAMP '2024-01-05 10:00:00.123456', TIMESTAMPTZ '2024-01-05 10:00:00+02', TIME '12:30',
     INTERVAL '1 day 2 hours', 'abc'::bytea, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"n": 1}',
     '{"n": 2}', 'happy'),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL)
"""


@pytest.fixture
def schema() -> Iterator[str]:
    """A fresh schema with a `kinds` table (a row of values, a row of NULLs), dropped afterwards."""
    with scratch_schema(
        "adbc",
        "CREATE TYPE {schema}.mood AS ENUM ('sad', 'happy')",
        f"CREATE TABLE {{schema}}.kinds ({COLUMNS})",
        f"INSERT INTO {{schema}}.kinds VALUES {VALUES}",
        "CREATE TABLE {schema}.sales (id int, city text, day date)",
        "INSERT INTO {schema}.sales VALUES (1, 'Paris', DATE '2024-01-05'), (2, 'Lyon', NULL)",
    ) as name:
        yield name


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, LOCAL_HOSTS)


@pytest.fixture
def postgres(settings: Settings) -> Iterator[PostgresConnector]:
    with _connector(PROVIDER, settings) as connector:
        yield connector


@pytest.fixture
def fallbacks(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The log lines of the reads that went through SQLAlchemy instead of ADBC, so far."""
    caplog.set_level(logging.INFO, logger="toucan.connectors")
    return lambda: [record.getMessage() for record in caplog.records if FALLBACK in record.getMessage()]


def _connector(provider: dict[str, Any], settings: Settings, **options: Any) -> PostgresConnector:
    connector = build_connector(provider, settings, **options)
    assert isinstance(connector, PostgresConnector)
    return connector


def _source(**fields: Any) -> dict[str, Any]:
    return {"domain": "sales", "name": "db", **fields}


def _to_parquet(connector: PostgresConnector, source: dict[str, Any], target: Path) -> int:
    """The source streamed into a Parquet file by DuckDB, as preprocess writes a domain; its row count."""
    with connector.stream(source) as rows:
        conn = duckdb.connect()
        try:
            write_arrow(conn, rows, target)
            found = conn.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()
        finally:
            conn.close()
    assert found is not None
    return int(found[0])


# Types -----------------------------------------------------------------------------------------

EXPECTED_TYPES = {
    "i2": pa.int64(),
    "i4": pa.int64(),
    "i8": pa.int64(),
    "price": pa.decimal128(10, 2),
    "ratio": pa.decimal128(3, 2),  # numeric without precision: typed from its values, as before
    "f4": pa.float64(),
    "f8": pa.float64(),
    "name": pa.string(),
    "code": pa.string(),
    "ok": pa.bool_(),
    "day": pa.date32(),
    "at": pa.timestamp("us"),
    "at_tz": pa.timestamp("us", "UTC"),
    "hour": pa.time64("us"),
    "span": pa.month_day_nano_interval(),
    "raw": pa.binary(),
    "id": pa.uuid(),
    "doc": pa.struct([("n", pa.int64())]),  # json: the objects it holds, as before
    "docb": pa.struct([("n", pa.int64())]),
    "mood": pa.string(),
}


def test_types_round_trip_with_nulls(
    postgres: PostgresConnector, schema: str, fallbacks: Callable[[], list[str]]
) -> None:
    table = postgres.fetch(_source(table=f"{schema}.kinds"))
    assert dict(zip(table.column_names, table.schema.types, strict=True)) == EXPECTED_TYPES
    values, nulls = table.to_pylist()
    assert values == {
        "i2": 1,
        "i4": 2,
        "i8": 3,
        "price": Decimal("120.50"),
        "ratio": Decimal("2.25"),
        "f4": 1.1,  # float4 read as its shortest text, as psycopg does: not 1.100000023841858
        "f8": 2.5,
        "name": "Paris",
        "code": "FR",
        "ok": True,
        "day": dt.date(2024, 1, 5),
        "at": dt.datetime(2024, 1, 5, 10, 0, 0, 123456),
        "at_tz": dt.datetime(2024, 1, 5, 8, 0, tzinfo=dt.UTC),
        "hour": dt.time(12, 30),
        "span": pa.MonthDayNano([0, 1, 2 * 3600 * 10**9]),
        "raw": b"abc",
        "id": uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        "doc": {"n": 1},
        "docb": {"n": 2},
        "mood": "happy",
    }
    assert set(nulls.values()) == {None}
    assert fallbacks() == []


def test_a_column_of_nulls_has_the_databases_type(postgres: PostgresConnector, schema: str) -> None:
    table = postgres.fetch(_source(query=f"SELECT i4, price, day, name FROM {schema}.kinds WHERE i4 IS NULL"))
    assert table.to_pylist() == [{"i4": None, "price": None, "day": None, "name": None}]
    assert table.schema.types == [pa.int64(), pa.decimal128(10, 2), pa.date32(), pa.string()]


def test_the_domain_file_keeps_the_types(postgres: PostgresConnector, schema: str, tmp_path: Path) -> None:
    target = tmp_path / "kinds.parquet"
    assert _to_parquet(postgres, _source(table=f"{schema}.kinds"), target) == 2
    with duckdb.connect() as conn:
        described = conn.execute(f"DESCRIBE SELECT i4, price, f4, at_tz, span, id FROM '{target}'").fetchall()
    assert [(name, kind) for name, kind, *_ in described] == [
        ("i4", "BIGINT"),
        ("price", "DECIMAL(10,2)"),
        ("f4", "DOUBLE"),
        ("at_tz", "TIMESTAMP WITH TIME ZONE"),
        ("span", "INTERVAL"),
        ("id", "UUID"),
    ]


def test_arrays_and_other_types_go_through_sqlalchemy(
    postgres: PostgresConnector, fallbacks: Callable[[], list[str]]
) -> None:
    # ADBC would flatten a two-dimensional array and give inet as its binary form.
    table = postgres.fetch_sql("SELECT ARRAY[[1, 2], [3, 4]] AS grid, inet '10.0.0.1' AS host, 1 AS n")
    assert table.to_pylist() == [{"grid": [[1, 2], [3, 4]], "host": "10.0.0.1", "n": 1}]
    assert len(fallbacks()) == 1 and "column 'grid' is of type int4[]" in fallbacks()[0]


def test_statements_copy_cannot_wrap_go_through_sqlalchemy(
    postgres: PostgresConnector, fallbacks: Callable[[], list[str]]
) -> None:
    assert postgres.fetch_sql("SELECT 1 AS a -- a comment").to_pylist() == [{"a": 1}]
    assert fallbacks() == []
    assert postgres.fetch_sql("SELECT 1 AS a; -- a comment after the semicolon").to_pylist() == [{"a": 1}]
    assert len(fallbacks()) == 1


def test_duplicate_column_names_are_made_unique(postgres: PostgresConnector) -> None:
    assert postgres.fetch_sql("SELECT 1 AS a, 2 AS a").column_names == ["a", "a_2"]


@pytest.mark.parametrize(
    ("sql", "column", "says"),
    [
        ("SELECT 'NaN'::numeric(10, 2) AS price", "price", "NaN"),
        ("SELECT 'infinity'::timestamp AS valid_to", "valid_to", "infinity"),
        ("SELECT '-infinity'::date AS since", "since", "infinity"),
    ],
)
def test_a_value_a_domain_cannot_hold_is_a_clear_error(
    postgres: PostgresConnector, sql: str, column: str, says: str
) -> None:
    with pytest.raises(SourceQueryError) as caught:
        postgres.fetch_sql(sql)
    assert caught.value.status == 400
    assert repr(column) in caught.value.message and says in caught.value.message and "'db'" in caught.value.message


# Parameters ------------------------------------------------------------------------------------

INJECTION = "x' OR '1'='1"


def test_parameters_are_bound_never_pasted(
    postgres: PostgresConnector, schema: str, fallbacks: Callable[[], list[str]]
) -> None:
    assert postgres.fetch_sql("SELECT :v AS v", parameters={"v": INJECTION}).to_pylist() == [{"v": INJECTION}]
    found = postgres.fetch(
        _source(query=f"SELECT id FROM {schema}.sales WHERE city = :city", parameters={"city": INJECTION})
    )
    assert found.num_rows == 0
    dropping = "'); DROP TABLE " + schema + ".sales; --"
    assert postgres.fetch_sql("SELECT :v AS v", parameters={"v": dropping}).to_pylist() == [{"v": dropping}]
    assert postgres.fetch(_source(table=f"{schema}.sales")).num_rows == 2
    assert fallbacks() == []


def test_parameters_take_their_placeholders_types(
    postgres: PostgresConnector, schema: str, fallbacks: Callable[[], list[str]]
) -> None:
    # A JSON config gives dates and numbers as text: they take the type the server infers, as
    # psycopg's untyped strings did. A name used twice is one placeholder.
    query = f"SELECT id FROM {schema}.sales WHERE day >= :since AND id >= :low AND (:low IS NOT NULL) ORDER BY id"
    assert postgres.fetch(_source(query=query, parameters={"since": "2024-01-01", "low": "1"})).to_pylist() == [
        {"id": 1}
    ]
    typed = {"since": dt.date(2024, 1, 1), "low": 1}
    assert postgres.fetch(_source(query=query, parameters=typed)).to_pylist() == [{"id": 1}]
    assert postgres.fetch_sql(
        "SELECT CAST(:d AS numeric(10, 2)) * 2 AS d, :n AS n, :flag AS flag",
        parameters={"d": "1.25", "n": None, "flag": True},
    ).to_pylist() == [{"d": Decimal("2.50"), "n": None, "flag": True}]
    assert fallbacks() == []


def test_a_parameter_that_does_not_fit_its_placeholder_goes_through_sqlalchemy(
    postgres: PostgresConnector, schema: str, fallbacks: Callable[[], list[str]]
) -> None:
    source = _source(query=f"SELECT id FROM {schema}.sales WHERE id = :id", parameters={"id": "one"})
    with pytest.raises(SourceQueryError) as caught:  # psycopg's error, as before
        postgres.fetch(source)
    assert "invalid input syntax for type integer" in caught.value.message
    assert len(fallbacks()) == 1 and "parameter $1" in fallbacks()[0]


# Streaming ---------------------------------------------------------------------------------------


def _server_side(marker: str) -> list[tuple[str, str]]:
    """(state, query) of the other sessions whose last statement mentions `marker`."""
    engine = create_engine(PG_SERVER)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT state, query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE :marker"),
                {"marker": f"%{marker}%"},
            )
            return [(row.state, row.query) for row in found]
    finally:
        engine.dispose()


def test_a_large_result_is_streamed_in_batches(postgres: PostgresConnector, tmp_path: Path) -> None:
    rows = 600_000  # about 45 MB: several COPY batches of about 16 MB, more than socket buffers hold
    marker = f"stream_{uuid.uuid4().hex[:8]}"
    source = _source(query=f"SELECT i, repeat(md5(i::text), 2) AS {marker} FROM generate_series(1, {rows}) AS i")
    with postgres.stream(source) as reader:
        first = reader.read_next_batch()
        # The first rows are here while the server still sends the others: nothing waits for them all.
        assert [(state, query.split("(")[0]) for state, query in _server_side(marker)] == [("active", "COPY ")]
        sizes = [first.num_rows, *(batch.num_rows for batch in reader)]
    assert 0 < first.num_rows < rows and len(sizes) > 1 and sum(sizes) == rows
    assert _to_parquet(postgres, source, tmp_path / "big.parquet") == rows


def test_a_query_with_parameters_is_streamed_through_a_cursor(postgres: PostgresConnector, tmp_path: Path) -> None:
    rows = 2 * FETCH_BATCH + 1
    source = _source(query="SELECT i FROM generate_series(1, :n) AS i", parameters={"n": rows})
    with postgres.stream(source) as reader:
        sizes = [reader.read_next_batch().num_rows]
        # One FETCH done, the cursor open for the next ones: the rows are not all read first.
        assert _server_side("FROM toucan_rows") == [("idle in transaction", f"FETCH {FETCH_BATCH} FROM toucan_rows")]
        sizes += [batch.num_rows for batch in reader]
    assert sizes == [FETCH_BATCH, FETCH_BATCH, 1]
    assert _to_parquet(postgres, source, tmp_path / "big.parquet") == rows


def test_limit_is_kept(postgres: PostgresConnector, schema: str) -> None:
    assert postgres.fetch(_source(table=f"{schema}.kinds"), limit=1).num_rows == 1
    empty = postgres.fetch(
        _source(query=f"SELECT i4, doc FROM {schema}.kinds WHERE i4 > :n", parameters={"n": 0}), limit=0
    )
    assert empty.num_rows == 0 and empty.column_names == ["i4", "doc"]


# Time limit and errors ---------------------------------------------------------------------------

# Rows come at once, then the query stops for 5 s: the limit is met while the rows are streamed.
SLOW = (
    "SELECT i, CASE WHEN i > 100000 THEN (SELECT 1 FROM pg_sleep(5)) END AS late FROM generate_series(1, 100001) AS i"
)


@pytest.mark.parametrize("parameters", [{}, {"n": 100000}], ids=["copy", "cursor"])
def test_the_time_limit_stops_a_streamed_query(settings: Settings, tmp_path: Path, parameters: dict[str, Any]) -> None:
    query = SLOW.replace("100000", ":n") if parameters else SLOW
    with _connector(PROVIDER, settings, timeout=1) as connector, pytest.raises(QueryTimeout) as caught:
        _to_parquet(connector, _source(query=query, parameters=parameters), tmp_path / "slow.parquet")
    assert caught.value.status == 504 and "'db'" in caught.value.message and "1 s" in caught.value.message


def test_a_failing_row_is_the_querys_error(postgres: PostgresConnector, tmp_path: Path) -> None:
    source = _source(query="SELECT 1 / (i - 300000) AS x FROM generate_series(1, 400000) AS i")
    with pytest.raises(SourceQueryError) as caught:
        _to_parquet(postgres, source, tmp_path / "x.parquet")
    assert caught.value.status == 400 and "division by zero" in caught.value.message


def test_a_write_is_refused(postgres: PostgresConnector, schema: str) -> None:
    with pytest.raises(SourceQueryError) as caught:
        postgres.fetch_sql(f"DELETE FROM {schema}.sales RETURNING id")
    assert "read-only" in caught.value.message
    assert postgres.fetch(_source(table=f"{schema}.sales")).num_rows == 2


def test_a_refused_login_names_the_provider_never_the_password(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connector = _connector({**PROVIDER, "user": "nobody_here", "password": PASSWORD}, settings)
    with pytest.raises(ConnectorError) as caught:
        connector.fetch_sql("SELECT 1")
    assert caught.value.status == 502
    assert "'db'" in caught.value.message and "127.0.0.1:5432" in caught.value.message
    assert 'role "nobody_here" does not exist' in caught.value.message
    status = connector.status()
    assert [(s.name, s.ok) for s in status.steps][2:] == [("authenticated", False), ("query ran", None)]
    shown = [caught.value.message, repr(connector), str(status), caplog.text]
    assert all(PASSWORD not in text for text in shown)


def test_a_password_with_quotes_and_backslashes_is_passed_whole(settings: Settings) -> None:
    # The test server trusts every login: a connection string cut at a quote would not connect.
    with _connector({**PROVIDER, "password": PASSWORD}, settings) as connector:
        assert connector.fetch_sql("SELECT 1 AS one").to_pylist() == [{"one": 1}]
        assert connector.status().ok
