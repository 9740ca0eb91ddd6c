"""Snowflake, BigQuery and ClickHouse end to end, through their real client libraries, against
local HTTP stand-ins (tests/connectors/standins/) that check every request: the login or token
payload, the Authorization header of each query, the SQL text and its parameters."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from tests.connectors.standins import bigquery as bq
from tests.connectors.standins import clickhouse as ch
from tests.connectors.standins import snowflake as sf
from tests.helpers.connectors import LOCAL_HOSTS, make_settings
from tests.helpers.workers import running_worker, wait_for_job
from toucan.connectors.base import ConnectorError, SourceQueryError
from toucan.connectors.extras import is_satisfied, missing_extras
from toucan.connectors.registry import build_connector
from toucan.connectors.sql import SqlConnector
from toucan.connectors.warehouses import ClickHouseConnector
from toucan.db.engine import Database
from toucan.errors import QueryTimeout, ValidationError
from toucan.settings import Settings

PASSWORD = "warehouse-pass-5b1e-unique"
TIME_LIMIT = 7  # seconds: each stand-in checks the time limit the connector sends


@pytest.fixture
def connector_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, LOCAL_HOSTS)


def _connector(provider: dict[str, Any], settings: Settings, timeout: float = TIME_LIMIT) -> SqlConnector:
    connector = build_connector({"name": "db", **provider}, settings, timeout=timeout)
    assert isinstance(connector, SqlConnector)
    return connector


def _source(**fields: Any) -> dict[str, Any]:
    return {"domain": "sales", "name": "db", **fields}


def _types(table: pa.Table) -> dict[str, str]:
    return {field.name: str(field.type) for field in table.schema}


# Snowflake -------------------------------------------------------------------------------------

SF = {"account": "myorg-analytics", "user": "TOUCAN", "database": "SALES", "schema": "PUBLIC"}
SF_ORDERS = sf.Result(
    [
        sf.column("ID", "fixed", precision=38, scale=0),
        sf.column("CITY", "text", length=40),
        sf.column("AMOUNT", "fixed", precision=10, scale=2),
        sf.column("DAY", "date"),
        sf.column("PAID_AT", "timestamp_ntz", scale=9),
        sf.column("PAID", "boolean"),
    ],
    [
        ["1", "Paris", "120.50", "19727", "1704441600.000000000", "1"],  # 2024-01-05 08:00 UTC
        ["2", "Lyon", "80.00", "19728", None, "0"],
        ["3", "Paris", "42.25", "19754", "1706745600.250000000", "1"],
    ],
)


@pytest.fixture
def snowflake(monkeypatch: pytest.MonkeyPatch) -> Iterator[sf.SnowflakeStandIn]:
    # The driver probes cloud metadata addresses (169.254.169.254...) to describe its platform.
    monkeypatch.setenv("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
    standin = sf.SnowflakeStandIn(password=PASSWORD, warehouse="REPORTING", role="ANALYST", **SF)
    standin.results["SELECT * FROM ORDERS"] = SF_ORDERS
    with standin:
        yield standin
    assert standin.problems == []


def _snowflake_provider(standin: sf.SnowflakeStandIn, password: str = PASSWORD) -> dict[str, Any]:
    where = {"host": "127.0.0.1", "port": standin.port, "protocol": "http"}
    return {"type": "snowflake", "password": password, "warehouse": "REPORTING", "role": "ANALYST", **SF, **where}


def test_snowflake_logs_in_and_reads_typed_rows(snowflake: sf.SnowflakeStandIn, connector_settings: Settings) -> None:
    with _connector(_snowflake_provider(snowflake), connector_settings) as connector:
        table = connector.fetch(_source(table="ORDERS"))

    # snowflake-sqlalchemy gives Snowflake's case-insensitive (upper case) names in lower case.
    assert _types(table) == {
        "id": "int64",
        "city": "string",
        "amount": "decimal128(5, 2)",
        "day": "date32[day]",
        "paid_at": "timestamp[us]",
        "paid": "bool",
    }
    assert table.to_pylist()[:2] == [
        {
            "id": 1,
            "city": "Paris",
            "amount": Decimal("120.50"),
            "day": dt.date(2024, 1, 5),
            "paid_at": dt.datetime(2024, 1, 5, 8, 0),
            "paid": True,
        },
        {
            "id": 2,
            "city": "Lyon",
            "amount": Decimal("80.00"),
            "day": dt.date(2024, 1, 6),
            "paid_at": None,
            "paid": False,
        },
    ]
    assert table.column("paid_at")[2].as_py() == dt.datetime(2024, 2, 1, 0, 0, 0, 250000)

    [login] = snowflake.logins
    assert (login["ACCOUNT_NAME"], login["LOGIN_NAME"], login["PASSWORD"]) == ("myorg-analytics", "TOUCAN", PASSWORD)
    assert login["SESSION_PARAMETERS"]["AUTOCOMMIT"] == "false"
    [token] = snowflake.tokens
    queries = [r for r in snowflake.requests if r.path == "/queries/v1/query-request"]
    assert queries and {r.headers["authorization"] for r in queries} == {f'Snowflake Token="{token}"'}
    assert "SELECT * FROM ORDERS" in [statement["sqlText"] for statement in snowflake.statements]
    assert any(r.path == "/session" and r.query.get("delete") == "true" for r in snowflake.requests)  # logout


def test_snowflake_query_parameters_and_limit(snowflake: sf.SnowflakeStandIn, connector_settings: Settings) -> None:
    # snowflake-connector-python binds pyformat parameters on the client: quoted into the text.
    sent = "SELECT * FROM (\nSELECT CITY, SUM(AMOUNT) AS TOTAL FROM ORDERS WHERE CITY <> 'x\\' OR \\'1\\'=\\'1' "
    sent += "GROUP BY CITY\n) AS _toucan_limit LIMIT 1"
    snowflake.results[sent] = sf.Result(
        [sf.column("CITY", "text"), sf.column("TOTAL", "fixed", precision=38, scale=2)], [["Paris", "162.75"]]
    )
    source = _source(
        query="SELECT CITY, SUM(AMOUNT) AS TOTAL FROM ORDERS WHERE CITY <> :city GROUP BY CITY",
        parameters={"city": "x' OR '1'='1"},
    )
    with _connector(_snowflake_provider(snowflake), connector_settings) as connector:
        assert connector.fetch(source, limit=1).to_pylist() == [{"city": "Paris", "total": Decimal("162.75")}]
    assert snowflake.statements[-2]["sqlText"] == sent  # then the pool's ROLLBACK


def test_snowflake_refused_password_is_a_clear_error_without_the_password(
    snowflake: sf.SnowflakeStandIn, connector_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + PASSWORD
    connector = _connector(_snowflake_provider(snowflake, password=wrong), connector_settings)
    with pytest.raises(ConnectorError) as caught:
        connector.fetch(_source(table="ORDERS"))
    status = connector.status()
    connector.close()

    assert caught.value.status == 502
    assert caught.value.message.startswith("Cannot connect to snowflake provider 'db': 390100")
    assert "Incorrect username or password was specified." in caught.value.message
    assert [(step.name, step.ok) for step in status.steps] == [("authenticated", False), ("query ran", None)]
    assert [login["PASSWORD"] for login in snowflake.logins] == [wrong, wrong]
    assert snowflake.statements == []
    shown = [caught.value.message, str(status), repr(connector.config), caplog.text]
    assert all(wrong not in text for text in shown)


def test_snowflake_sql_error_and_time_limit(snowflake: sf.SnowflakeStandIn, connector_settings: Settings) -> None:
    snowflake.failures["SELECT * FROM NOPE"] = sf.Failure(
        "002003", "42S02", "SQL compilation error:\nObject 'NOPE' does not exist or not authorized."
    )
    slow = "SELECT SYSTEM$WAIT(10)"
    snowflake.results[slow] = sf.Result([sf.column("W", "text")], [["waited"]])
    snowflake.delays[slow] = 2.5
    with _connector(_snowflake_provider(snowflake), connector_settings, timeout=1) as connector:
        with pytest.raises(SourceQueryError) as unknown:
            connector.fetch(_source(table="NOPE"))
        started = time.monotonic()
        with pytest.raises(QueryTimeout) as late:
            connector.fetch_sql(slow)
        waited = time.monotonic() - started

    assert unknown.value.status == 400
    assert "002003" in unknown.value.message and "Object 'NOPE' does not exist" in unknown.value.message
    assert late.value.status == 504 and waited < 2.5
    [abort] = [r for r in snowflake.requests if r.path == "/queries/v1/abort-request"]
    assert json.loads(abort.body)["sqlText"] == slow


def test_snowflake_status_and_defaults(snowflake: sf.SnowflakeStandIn, connector_settings: Settings) -> None:
    with _connector(_snowflake_provider(snowflake), connector_settings) as connector:
        status = connector.status()
    assert [(step.name, step.ok, step.detail) for step in status.steps] == [
        ("authenticated", True, "connected as TOUCAN"),
        ("query ran", True, "SELECT 1"),
    ]
    # Without host, port and protocol the driver keeps its own: https://<account>.snowflakecomputing.com.
    plain = _connector({"type": "snowflake", **SF}, connector_settings, timeout=2.5)
    assert plain.connect_args() == {"login_timeout": 3, "request_timeout": 3, "query_timeout": 3}


# BigQuery --------------------------------------------------------------------------------------

BQ_EMAIL = "toucan-reader@analytics-prod.iam.gserviceaccount.com"
BQ_FIELDS = [
    {"name": "id", "type": "INTEGER", "mode": "NULLABLE"},
    {"name": "city", "type": "STRING", "mode": "NULLABLE"},
    {"name": "amount", "type": "NUMERIC", "mode": "NULLABLE"},
    {"name": "day", "type": "DATE", "mode": "NULLABLE"},
    {"name": "paid_at", "type": "TIMESTAMP", "mode": "NULLABLE"},
]
BQ_SALES = bq.Result(
    BQ_FIELDS,
    [
        ["1", "Paris", "120.5", "2024-01-05", "1704441600000000"],
        ["2", "Lyon", "80", "2024-01-06", None],
        ["3", "Paris", "42.25", "2024-02-01", "1706745600250000"],
        ["4", "Nantes", None, "2024-02-03", "1706918400000000"],
    ],
)


@pytest.fixture(scope="module")
def bq_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def bigquery(bq_key: rsa.RSAPrivateKey) -> Iterator[bq.BigQueryStandIn]:
    standin = bq.BigQueryStandIn(
        project="analytics-prod",
        dataset="shop",
        location="EU",
        client_email=BQ_EMAIL,
        key_id="key-7f3a",
        public_key=bq_key.public_key(),
        job_timeout_ms=TIME_LIMIT * 1000,
    )
    standin.results["SELECT * FROM sales"] = BQ_SALES
    with standin:
        yield standin
    assert standin.problems == []


def _service_account(standin: bq.BigQueryStandIn, key: rsa.RSAPrivateKey) -> dict[str, str]:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {
        "type": "service_account",
        "project_id": "analytics-prod",
        "private_key_id": "key-7f3a",
        "private_key": pem.decode(),
        "client_email": BQ_EMAIL,
        "client_id": "104729361582934512345",
        "token_uri": f"{standin.url}/token",
    }


def _bigquery_provider(standin: bq.BigQueryStandIn, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return {
        "type": "bigquery",
        "project": "analytics-prod",
        "dataset": "shop",
        "location": "EU",
        "credentials": _service_account(standin, key),
        "endpoint": standin.url,
    }


def test_bigquery_signs_a_jwt_and_reads_every_page(
    bigquery: bq.BigQueryStandIn, bq_key: rsa.RSAPrivateKey, connector_settings: Settings
) -> None:
    with _connector(_bigquery_provider(bigquery, bq_key), connector_settings) as connector:
        table = connector.fetch(_source(table="sales"))

    assert _types(table) == {
        "id": "int64",
        "city": "string",
        "amount": "decimal128(5, 2)",
        "day": "date32[day]",
        "paid_at": "timestamp[us, tz=UTC]",
    }
    assert table.to_pylist()[0] == {
        "id": 1,
        "city": "Paris",
        "amount": Decimal("120.5"),
        "day": dt.date(2024, 1, 5),
        "paid_at": dt.datetime(2024, 1, 5, 8, 0, tzinfo=dt.UTC),
    }
    assert table.column("city").to_pylist() == ["Paris", "Lyon", "Paris", "Nantes"]  # two pages
    assert table.column("amount")[3].as_py() is None

    [token_request] = [r for r in bigquery.requests if r.path == "/token"]  # signature and claims checked there
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    [token] = bigquery.tokens
    api = [r for r in bigquery.requests if r.path != "/token"]
    assert [(r.method, r.path.removeprefix("/bigquery/v2/projects/analytics-prod/").split("/")[0]) for r in api] == [
        ("POST", "queries"),  # jobs.query
        ("GET", "jobs"),  # jobs.get: the job's destination table
        ("GET", "queries"),  # getQueryResults: page 2
    ]
    assert api[2].query["pageToken"] == "2" and api[2].query["location"] == "EU"
    assert {r.headers["authorization"] for r in api} == {f"Bearer {token}"}
    [query] = bigquery.queries
    assert query["query"] == "SELECT * FROM sales" and query["useLegacySql"] is False


def test_bigquery_named_parameters_and_limit(
    bigquery: bq.BigQueryStandIn, bq_key: rsa.RSAPrivateKey, connector_settings: Settings
) -> None:
    sent = (
        "SELECT * FROM (\nSELECT city, COUNT(*) AS n FROM sales WHERE day >= @`since` AND id > @`id` GROUP BY city\n)"
    )
    sent += " AS _toucan_limit LIMIT 5"
    bigquery.results[sent] = bq.Result(
        [{"name": "city", "type": "STRING", "mode": "NULLABLE"}, {"name": "n", "type": "INTEGER", "mode": "NULLABLE"}],
        [["Paris", "1"], ["Nantes", "1"]],
    )
    source = _source(
        query="SELECT city, COUNT(*) AS n FROM sales WHERE day >= :since AND id > :id GROUP BY city",
        parameters={"since": "2024-01-06", "id": 1},
    )
    with _connector(_bigquery_provider(bigquery, bq_key), connector_settings) as connector:
        assert connector.fetch(source, limit=5).to_pylist() == [{"city": "Paris", "n": 1}, {"city": "Nantes", "n": 1}]

    [query] = bigquery.queries
    assert query["query"] == sent and query["parameterMode"] == "NAMED"
    assert query["queryParameters"] == [
        {"name": "since", "parameterType": {"type": "STRING"}, "parameterValue": {"value": "2024-01-06"}},
        {"name": "id", "parameterType": {"type": "INT64"}, "parameterValue": {"value": "1"}},
    ]


def test_bigquery_refused_key_and_sql_error(
    bigquery: bq.BigQueryStandIn, bq_key: rsa.RSAPrivateKey, connector_settings: Settings
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = _connector(_bigquery_provider(bigquery, other_key), connector_settings)
    with pytest.raises(ConnectorError) as caught:
        refused.fetch(_source(table="sales"))
    status = refused.status()
    refused.close()
    assert caught.value.status == 502
    assert caught.value.message == (
        "Cannot connect to bigquery provider 'db': the token request failed: "
        "('invalid_grant: Invalid JWT Signature.', {'error': 'invalid_grant', "
        "'error_description': 'Invalid JWT Signature.'})"
    )
    assert [(step.name, step.ok) for step in status.steps] == [("authenticated", False), ("query ran", None)]
    assert bigquery.queries == []
    key_text = _service_account(bigquery, other_key)["private_key"]
    assert refused.redact(f"key: {key_text}") == "key: ***"

    bigquery.failures["SELECT * FROM nope"] = bq.Failure(
        404, "notFound", "Not found: Table analytics-prod:shop.nope was not found in location EU"
    )
    with _connector(_bigquery_provider(bigquery, bq_key), connector_settings) as connector:
        with pytest.raises(SourceQueryError) as unknown:
            connector.fetch(_source(table="nope"))
        assert connector.status().ok
    assert unknown.value.status == 400
    assert "Table analytics-prod:shop.nope was not found in location EU" in unknown.value.message


def test_bigquery_endpoint_must_be_a_url(connector_settings: Settings) -> None:
    with pytest.raises(ValidationError) as caught:
        _connector({"type": "bigquery", "project": "p", "endpoint": "bigquery.internal"}, connector_settings)
    assert "endpoint" in caught.value.message


# ClickHouse ------------------------------------------------------------------------------------

CH_COLUMNS = [
    ("id", "Int32"),
    ("city", "String"),
    ("amount", "Decimal(10, 2)"),
    ("day", "Date"),
    ("paid_at", "DateTime"),
    ("score", "Nullable(Float64)"),
]
CH_ROWS = [
    (1, "Paris", Decimal("120.50"), dt.date(2024, 1, 5), dt.datetime(2024, 1, 5, 8, 0), 0.5),
    (2, "Lyon", Decimal("80.00"), dt.date(2024, 1, 6), dt.datetime(2024, 1, 6, 9, 30), None),
    (3, "Paris", Decimal("42.25"), dt.date(2024, 2, 1), dt.datetime(2024, 2, 1, 0, 0), 2.0),
]


@pytest.fixture
def clickhouse() -> Iterator[ch.ClickHouseStandIn]:
    standin = ch.ClickHouseStandIn(user="reporter", password=PASSWORD, database="shop", time_limit=TIME_LIMIT)
    standin.results["SELECT * FROM sales"] = ch.Result(CH_COLUMNS, CH_ROWS)
    with standin:
        yield standin
    assert standin.problems == []


def _clickhouse_provider(standin: ch.ClickHouseStandIn, password: str = PASSWORD) -> dict[str, Any]:
    where = {"host": "127.0.0.1", "port": standin.port, "database": "shop"}
    return {"type": "clickhouse", "user": "reporter", "password": password, **where}


def test_clickhouse_reads_native_blocks_into_typed_arrow(
    clickhouse: ch.ClickHouseStandIn, connector_settings: Settings
) -> None:
    with _connector(_clickhouse_provider(clickhouse), connector_settings) as connector:
        table = connector.fetch(_source(table="sales"))

    assert _types(table) == {
        "id": "int32",
        "city": "string",
        "amount": "decimal128(10, 2)",
        "day": "date32[day]",
        "paid_at": "timestamp[s]",
        "score": "double",
    }
    assert [tuple(row.values()) for row in table.to_pylist()] == CH_ROWS  # two Native blocks, joined
    [(sql, parameters)] = clickhouse.queries
    assert sql == "SELECT * FROM sales"
    assert parameters["database"] == "shop" and parameters["max_execution_time"] == str(TIME_LIMIT)
    basic = "Basic " + base64.b64encode(f"reporter:{PASSWORD}".encode()).decode()
    assert {r.headers["authorization"] for r in clickhouse.requests} == {basic}


def test_clickhouse_parameters_are_quoted_by_the_driver(
    clickhouse: ch.ClickHouseStandIn, connector_settings: Settings
) -> None:
    quoted = "SELECT id FROM sales WHERE city = 'x\\' OR \\'1\\'=\\'1' OR city LIKE 'P%'"
    clickhouse.results[quoted] = ch.Result([("id", "Int32")], [])
    plain = "SELECT id FROM sales WHERE city LIKE 'P%' AND note <> '10:30'"
    clickhouse.results[plain] = ch.Result([("id", "Int32")], [(1,), (3,)])
    with _connector(_clickhouse_provider(clickhouse), connector_settings) as connector:
        bound = _source(
            query="SELECT id FROM sales WHERE city = :city OR city LIKE 'P%'", parameters={"city": "x' OR '1'='1"}
        )
        empty = connector.fetch(bound)
        written = "SELECT id FROM sales WHERE city LIKE 'P%' AND note <> '10\\:30'"  # `\:` a plain colon
        assert connector.fetch(_source(query=written)).to_pylist() == [{"id": 1}, {"id": 3}]
        with pytest.raises(ValidationError) as missing:
            connector.fetch(_source(query="SELECT id FROM sales WHERE day >= :since"))

    # ClickHouse's HTTP interface sends nothing for an empty result: the columns come from DESCRIBE.
    assert empty.num_rows == 0 and _types(empty) == {"id": "int32"}
    assert [sql for sql, _ in clickhouse.queries] == [
        quoted,
        f"DESCRIBE TABLE ({quoted})",
        plain,
    ]
    assert "since" in missing.value.message


def test_clickhouse_limit_zero_keeps_the_columns(
    clickhouse: ch.ClickHouseStandIn, connector_settings: Settings
) -> None:
    limited = "SELECT * FROM (\nSELECT * FROM sales\n) AS _toucan_limit LIMIT 0"
    clickhouse.results[limited] = ch.Result(CH_COLUMNS, [])
    with _connector(_clickhouse_provider(clickhouse), connector_settings) as connector:
        table = connector.fetch_sql("SELECT * FROM sales", limit=0)
    assert table.num_rows == 0
    assert _types(table) == {
        "id": "int32",
        "city": "string",
        "amount": "decimal128(10, 2)",
        "day": "date32[day]",
        "paid_at": "timestamp[s]",
        "score": "double",
    }


def test_clickhouse_refused_password_is_a_clear_error_without_the_password(
    clickhouse: ch.ClickHouseStandIn, connector_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + PASSWORD
    connector = _connector(_clickhouse_provider(clickhouse, password=wrong), connector_settings)
    with pytest.raises(ConnectorError) as caught:
        connector.fetch(_source(table="sales"))
    status = connector.status()

    assert caught.value.status == 502
    assert caught.value.message.startswith(f"Cannot connect to clickhouse provider 'db' at 127.0.0.1:{clickhouse.port}")
    assert "reporter: Authentication failed" in caught.value.message and "AUTHENTICATION_FAILED" in caught.value.message
    assert [(step.name, step.ok) for step in status.steps] == [
        ("host allowed", True),
        ("port open", True),
        ("authenticated", False),
        ("query ran", None),
    ]
    assert clickhouse.queries == []
    shown = [caught.value.message, str(status), repr(connector.config), caplog.text]
    assert all(wrong not in text for text in shown)


def test_clickhouse_errors(clickhouse: ch.ClickHouseStandIn, connector_settings: Settings) -> None:
    clickhouse.failures["SELECT * FROM nope"] = ch.Failure(
        60, "UNKNOWN_TABLE", "Unknown table expression identifier 'nope' in scope SELECT * FROM nope", status=404
    )
    slow = "SELECT count() FROM numbers(1e12)"
    clickhouse.failures[slow] = ch.Failure(
        159, "TIMEOUT_EXCEEDED", f"Timeout exceeded: elapsed 7.0 s, maximum: {TIME_LIMIT}", 500
    )
    with _connector(_clickhouse_provider(clickhouse), connector_settings) as connector:
        with pytest.raises(SourceQueryError) as unknown:
            connector.fetch(_source(table="nope"))
        with pytest.raises(QueryTimeout) as late:
            connector.fetch_sql(slow)
        status = connector.status()

    assert unknown.value.status == 400
    assert unknown.value.message.startswith("The query failed on clickhouse provider 'db'")
    assert "Unknown table expression identifier 'nope'" in unknown.value.message
    assert "(UNKNOWN_TABLE)" in unknown.value.message
    assert late.value.status == 504
    assert status.ok and [step.detail for step in status.steps][2:] == ["connected as reporter", "SELECT 1"]


def test_clickhouse_unreachable_server(connector_settings: Settings) -> None:
    connector = _connector({"type": "clickhouse", "host": "127.0.0.1", "port": 1}, connector_settings)
    with pytest.raises(ConnectorError) as caught:
        connector.fetch_sql("SELECT 1")
    assert caught.value.message.startswith("Cannot connect to clickhouse provider 'db' at 127.0.0.1:1: ")
    assert "Connection refused" in caught.value.message
    assert [(step.name, step.ok) for step in connector.status().steps] == [
        ("host allowed", True),
        ("port open", False),
        ("authenticated", None),
        ("query ran", None),
    ]


def test_clickhouse_client_options(connector_settings: Settings) -> None:
    def options(**provider: Any) -> dict[str, Any]:
        connector = _connector(
            {"type": "clickhouse", "host": "ch", "password": PASSWORD, **provider}, connector_settings
        )
        assert isinstance(connector, ClickHouseConnector)
        assert PASSWORD not in repr(connector.config)
        assert connector.redact(f"said: {PASSWORD}") == "said: ***"
        return {**connector.client_options(), "address": connector.address()}

    plain = options()
    assert {k: plain[k] for k in ("host", "port", "username", "interface", "address", "generic_args")} == {
        "host": "ch",
        "port": 8123,
        "username": "default",
        "interface": "http",
        "address": ("ch", 8123),
        "generic_args": {},
    }
    assert (plain["connect_timeout"], plain["send_receive_timeout"], plain["autogenerate_session_id"]) == (7, 7, False)
    secure = options(secure=True, options={"verify": "false", "max_threads": "4"})
    assert (secure["interface"], secure["port"], secure["generic_args"]) == (
        "https",
        8443,
        {"verify": "false", "max_threads": "4"},
    )
    assert options(port=18123)["address"] == ("ch", 18123)
    with pytest.raises(ValidationError) as native:
        options(protocol="native")
    assert "HTTP interface" in native.value.message
    # The extra's requirement names clickhouse-connect's `sqlalchemy` extra; it counts as installed.
    assert is_satisfied("clickhouse-connect[sqlalchemy]>=0.8") and missing_extras(["clickhouse"]) == []


# Through the stack: preprocess in a real worker, the password as the app's secret -----------------
# (One warehouse: each driver takes seconds to import in the worker; the others' reads are the
# same `fetch` as above.)


@pytest.fixture(scope="module", autouse=True)
def preprocess_worker(base_settings: Settings, migrated_db: Database) -> Iterator[Future[Any]]:
    """The worker of the preprocess test, started with the module so that its start (4.5 s)
    overlaps the tests above; the test waits for it with `.result()`."""
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(1) as pool:
        yield pool.submit(
            stack.enter_context, running_worker(base_settings, TOUCAN_CONNECTORS_ALLOWED_HOSTS=json.dumps(LOCAL_HOSTS))
        )


def test_preprocess_loads_a_clickhouse_source(
    settings: Settings,
    client: TestClient,
    admin_headers: dict[str, str],
    clickhouse: ch.ClickHouseStandIn,
    preprocess_worker: Future[Any],
) -> None:
    h, app = admin_headers, "warehouses"
    clickhouse.time_limit = settings.job_time_limit  # preprocess's time limit, not live data's
    assert client.post("/small-apps", json={"id": app, "name": "Warehouses"}, headers=h).status_code == 201
    assert client.put(f"/{app}/secrets/ch_password", json={"value": PASSWORD}, headers=h).status_code == 204
    etl = {
        "DATA_PROVIDERS": [
            {"name": "ch", **_clickhouse_provider(clickhouse), "password": "{{ secrets.ch_password }}"},
        ],
        "DATA_SOURCES": [
            {"domain": "ch_sales", "name": "ch", "table": "sales"},
            {
                "domain": "paris",
                "name": "ch",
                "query": "SELECT id, amount FROM sales WHERE city = :city",
                "parameters": {"city": "Paris"},
            },
        ],
    }
    clickhouse.results["SELECT id, amount FROM sales WHERE city = 'Paris'"] = ch.Result(
        [("id", "Int32"), ("amount", "Decimal(10, 2)")], [(1, Decimal("120.50")), (3, Decimal("42.25"))]
    )
    assert client.put(f"/{app}/config/etl", json=etl, headers=h).status_code == 200

    preprocess_worker.result()
    job_id = client.post(f"/{app}/data/preprocess?stage=staging", headers=h).json()["id"]
    job = wait_for_job(client, h, job_id)
    assert job["state"] == "succeeded", json.dumps(job)[-1500:]
    assert PASSWORD not in json.dumps(job)
    assert [sql for sql, _ in clickhouse.queries] == [
        "SELECT * FROM sales",
        "SELECT id, amount FROM sales WHERE city = 'Paris'",
    ]

    metadata = client.get(f"/{app}/metadata?stage=staging", headers=h).json()
    assert {d["name"]: d["rows"] for d in metadata["domains"]} == {"ch_sales": 3, "paris": 2}

    def rows(domain: str) -> list[dict[str, Any]]:
        response = client.post(f"/{app}/data?stage=staging", json={"query": {"domain": domain}}, headers=h)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    assert rows("ch_sales")[1] == {
        "id": 2,
        "city": "Lyon",
        "amount": 80.0,
        "day": "2024-01-06",
        "paid_at": "2024-01-06T09:30:00",
        "score": None,
    }
    assert rows("paris") == [{"id": 1, "amount": 120.5}, {"id": 3, "amount": 42.25}]
