"""Cloud data warehouses: Snowflake and BigQuery through SQLAlchemy, ClickHouse through
clickhouse-connect (its HTTP interface, results in ClickHouse's Native format block by block).

Their servers cannot run where our tests run: tests/connectors/standins/ holds local HTTP
stand-ins that speak just enough of each wire protocol and check every request.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator
from sqlalchemy.engine import URL, Connection

from toucan.connectors.base import (
    ConnectorError,
    ConnectorStatus,
    ProviderConfig,
    concat_tables,
    to_array,
    unique_names,
)
from toucan.connectors.network import check_database_reach, port_open
from toucan.connectors.parameters import pyformat
from toucan.connectors.sql import ServerConfig, SqlAlchemyConnector, SqlConnector, one_line
from toucan.errors import ErrorCode, QueryTimeout, ToucanError, ValidationError

if TYPE_CHECKING:
    import pyarrow as pa

    from toucan.settings import Settings


def whole_seconds(timeout: float) -> int:
    """A time limit for drivers that take whole seconds only (Snowflake refuses 2.5): rounded up."""
    return max(1, math.ceil(timeout))


# Snowflake -----------------------------------------------------------------------------------


class SnowflakeConfig(ProviderConfig):
    account: str = Field(min_length=1, description="Account identifier, e.g. `myorg-myaccount`.")
    user: str = Field(min_length=1)
    password: SecretStr | None = None
    warehouse: str | None = None
    database: str | None = None
    db_schema: str | None = Field(default=None, alias="schema")
    role: str | None = None
    authenticator: str | None = Field(default=None, description="e.g. `externalbrowser`, `oauth`; default: password.")
    host: str | None = Field(
        default=None,
        min_length=1,
        description="Server name, default `<account>.snowflakecomputing.com`; e.g. a private-link name.",
    )
    port: int | None = Field(default=None, ge=1, le=65535, description="Default: 443.")
    protocol: Literal["https", "http"] = Field(
        default="https", description="`http` sends the password in clear: only for a proxy on the same host."
    )
    options: dict[str, str] = Field(default_factory=dict)

    model_config = ProviderConfig.model_config | {"populate_by_name": True}
    # Snowflake's OAuth token, MFA passcode and key-pair passphrase go in the connection URL's options.
    credential_fields: ClassVar[tuple[str, ...]] = (
        "password",
        "options.token",
        "options.passcode",
        "options.private_key_file_pwd",
    )


class SnowflakeConnector(SqlAlchemyConnector):
    config: SnowflakeConfig
    config_model = SnowflakeConfig
    type_name = "snowflake"
    dialect = "snowflake"
    drivername = "snowflake"

    def url(self) -> URL:
        config = self.config
        database = config.database
        if database and config.db_schema:
            database = f"{database}/{config.db_schema}"
        query = {
            key: value
            for key, value in {
                "warehouse": config.warehouse,
                "role": config.role,
                "authenticator": config.authenticator,
            }.items()
            if value
        }
        return URL.create(
            self.drivername,
            username=config.user,
            password=config.password.get_secret_value() if config.password else None,
            host=config.account,
            database=database,
            query={**query, **config.options},
        )

    def connect_args(self) -> dict[str, Any]:
        seconds = whole_seconds(self.timeout)
        args: dict[str, Any] = {"login_timeout": seconds, "request_timeout": seconds, "query_timeout": seconds}
        # Given only when set, so the driver's defaults (the account's public name, 443, https) stay its own.
        if self.config.host:
            args["host"] = self.config.host
        if self.config.port:
            args["port"] = self.config.port
        if self.config.protocol != "https":
            args["protocol"] = self.config.protocol
        return args


# BigQuery ------------------------------------------------------------------------------------

# The scopes sqlalchemy-bigquery asks for: BigQuery, and Drive for tables over Google Sheets.
BIGQUERY_SCOPES = (
    "https://www.googleapis.com/auth/bigquery",
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/drive",
)


class BigQueryConfig(ProviderConfig):
    project: str = Field(min_length=1, description="Google Cloud project id.")
    dataset: str | None = Field(default=None, description="Default dataset of unqualified table names.")
    credentials: SecretStr | None = Field(
        default=None,
        description="Service account key (the JSON object or its text). Default: the host's application credentials.",
    )
    location: str | None = None
    endpoint: str | None = Field(
        default=None,
        description="The BigQuery API's URL instead of `https://bigquery.googleapis.com`: a private endpoint, "
        "or the BigQuery emulator.",
    )

    credential_fields: ClassVar[tuple[str, ...]] = ("credentials", "credentials.*")

    @field_validator("credentials", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        return json.dumps(value) if isinstance(value, dict) else value

    @field_validator("credentials")
    @classmethod
    def _is_json_object(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                parsed = json.loads(value.get_secret_value())
            except json.JSONDecodeError:
                raise ValueError("credentials must be a service account key (a JSON object)") from None
            if not isinstance(parsed, dict):
                raise ValueError("credentials must be a service account key (a JSON object)")
        return value

    @field_validator("endpoint")
    @classmethod
    def _is_http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("endpoint must be an http(s) URL, e.g. https://bigquery.example.internal")
        return value


class BigQueryConnector(SqlAlchemyConnector):
    """BigQuery through sqlalchemy-bigquery, on a client of ours: the provider's credentials,
    endpoint, location, default dataset and time limit (`jobTimeoutMs`, enforced by BigQuery)."""

    config: BigQueryConfig
    config_model = BigQueryConfig
    type_name = "bigquery"
    dialect = "bigquery"
    drivername = "bigquery"

    def __init__(self, config: ProviderConfig, settings: Settings, **options: Any) -> None:
        super().__init__(config, settings, **options)
        self._credentials: Any = None

    def url(self) -> URL:
        # `user_supplied_client`: the dialect uses the client of connect_args() instead of making one.
        query = {"user_supplied_client": "True"}
        return URL.create(self.drivername, host=self.config.project, database=self.config.dataset, query=query)

    def connect_args(self) -> dict[str, Any]:
        # Large results may be read through the BigQuery Storage API (gRPC, when its package is
        # installed), which would not go through `endpoint`: off when an endpoint is given.
        return {"client": self.client(), "prefer_bqstorage_client": self.config.endpoint is None}

    def client(self) -> Any:
        """A google-cloud-bigquery client of this provider (no request is sent yet)."""
        import google.auth
        from google.api_core.client_options import ClientOptions
        from google.auth import exceptions as auth_exceptions
        from google.cloud import bigquery
        from google.oauth2 import service_account

        config = self.config
        try:
            if config.credentials is not None:
                key = json.loads(config.credentials.get_secret_value())
                credentials = service_account.Credentials.from_service_account_info(key, scopes=BIGQUERY_SCOPES)
            else:
                credentials, _ = google.auth.default(scopes=BIGQUERY_SCOPES)
        except (ValueError, KeyError, auth_exceptions.GoogleAuthError) as exc:
            what = "credentials are not a usable service account key" if config.credentials else "has no credentials"
            raise ValidationError(
                f"The bigquery provider {self.name!r} {what}: {one_line(self.redact(str(exc)))}",
                details={"provider": self.name},
            ) from None
        self._credentials = credentials
        job_config = bigquery.QueryJobConfig(job_timeout_ms=math.ceil(self.timeout * 1000))
        if config.dataset:
            job_config.default_dataset = f"{config.project}.{config.dataset}"
        return bigquery.Client(
            project=config.project,
            credentials=credentials,
            location=config.location,
            client_options=ClientOptions(api_endpoint=config.endpoint) if config.endpoint else None,
            default_query_job_config=job_config,
        )

    def _connect(self) -> Connection:
        self._authenticate()
        return super()._connect()

    def _authenticate(self) -> None:
        """Obtain an access token now, so a refused key is a clear connection error rather than a failed query."""
        from google.auth import exceptions as auth_exceptions
        from google.auth.transport.requests import Request

        self.engine  # noqa: B018 - creating the engine creates the client and its credentials
        if self._credentials.valid:
            return
        request = Request()

        def within_time_limit(*args: Any, **kwargs: Any) -> Any:  # google-auth's default is 120 s
            return request(*args, **{"timeout": self.timeout, **kwargs})

        try:
            self._credentials.refresh(within_time_limit)
        except auth_exceptions.GoogleAuthError as exc:
            raise ConnectorError(
                f"Cannot connect to bigquery provider {self.name!r}: the token request failed: "
                f"{one_line(self.redact(str(exc)))}",
                details={"provider": self.name},
            ) from None

    def redact(self, text: str) -> str:
        text = super().redact(text)
        if self.config.credentials is not None:
            key = json.loads(self.config.credentials.get_secret_value())
            for name in ("private_key", "private_key_id"):
                if isinstance(key.get(name), str) and key[name]:
                    text = text.replace(key[name], "***")
        return text


# ClickHouse ----------------------------------------------------------------------------------

# ClickHouse error codes: a refused login (UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD,
# IP_ADDRESS_NOT_ALLOWED, AUTHENTICATION_FAILED) and a time limit (TIMEOUT_EXCEEDED, TOO_SLOW, SOCKET_TIMEOUT).
_CLICKHOUSE_LOGIN_CODES = frozenset({192, 193, 194, 195, 516})
_CLICKHOUSE_TIMEOUT_CODES = frozenset({159, 160, 209})


class ClickHouseConfig(ServerConfig):
    user: str | None = "default"
    protocol: Literal["http"] = Field(
        default="http", description="ClickHouse's HTTP interface, the only one the driver speaks."
    )
    secure: bool = Field(default=False, description="HTTPS (default port 8443 instead of 8123).")

    @field_validator("protocol", mode="before")
    @classmethod
    def _http_only(cls, value: Any) -> Any:
        if value == "native":
            raise ValueError(
                "the native protocol (port 9000) is not supported: the driver, clickhouse-connect, speaks "
                "ClickHouse's HTTP interface (port 8123, 8443 with `secure`); remove `protocol` and a native `port`"
            )
        return value


class ClickHouseConnector(SqlConnector):
    """ClickHouse through clickhouse-connect's HTTP client: each query streams Native blocks,
    typed from their ClickHouse column types; `:name` parameters are quoted by the driver."""

    config: ClickHouseConfig
    config_model = ClickHouseConfig
    type_name = "clickhouse"
    dialect = "clickhouse"
    ping_sql: ClassVar[str] = "SELECT 1"

    def __init__(self, config: ProviderConfig, settings: Settings, **options: Any) -> None:
        super().__init__(config, settings, **options)
        self._client: Any = None
        self._client_lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.config.port or (8443 if self.config.secure else 8123)

    def address(self) -> tuple[str, int]:
        return self.config.host, self.port

    def client_options(self) -> dict[str, Any]:
        """The arguments of `clickhouse_connect.get_client`, but the password."""
        seconds = whole_seconds(self.timeout)
        return {
            "host": self.config.host,
            "port": self.port,
            "username": self.config.user or "",
            "database": self.config.database,
            "interface": "https" if self.config.secure else "http",
            "connect_timeout": seconds,
            "send_receive_timeout": seconds,
            # One client serves several threads (live data): a session would make their queries wait in turn.
            "autogenerate_session_id": False,
            # As in a clickhouse-connect DSN: client options (`verify`, `ca_cert`, `compress`...) by name,
            # everything else is a ClickHouse setting; text values are converted.
            "generic_args": dict(self.config.options),
        }

    def _connect(self) -> Any:
        with self._client_lock:
            if self._client is None:
                check_database_reach(self.settings, *self.address())
                try:
                    import clickhouse_connect
                    from clickhouse_connect.driver.exceptions import Error as ClickHouseError
                except ImportError as exc:
                    from toucan.connectors.types import missing_driver_error

                    raise missing_driver_error(self.type_name, str(exc)) from None
                password = self.config.password.get_secret_value() if self.config.password else ""
                try:
                    self._client = clickhouse_connect.get_client(password=password, **self.client_options())
                except (TypeError, ValueError) as exc:  # `options` the driver does not take
                    raise ValidationError(
                        f"The options of clickhouse provider {self.name!r} are refused by the driver: "
                        f"{one_line(self.redact(str(exc)))}",
                        details={"provider": self.name},
                    ) from None
                except ClickHouseError as exc:
                    host, port = self.address()
                    message = one_line(self.redact(str(exc)))
                    if _is_timeout(exc):
                        raise QueryTimeout(
                            f"No connection to clickhouse provider {self.name!r} at {host}:{port} "
                            f"within {self.timeout:g} s: {message}",
                            code=ErrorCode.CONNECTOR_TIMEOUT,
                        ) from None
                    raise ConnectorError(
                        f"Cannot connect to clickhouse provider {self.name!r} at {host}:{port}: {message}",
                        details={"provider": self.name},
                    ) from None
            return self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _settings(self, client: Any) -> dict[str, Any]:
        """The query's time limit, enforced by ClickHouse, unless the user may not change it (readonly profile)."""
        known = client.server_settings.get("max_execution_time")
        if known is not None and known.readonly:
            return {}
        return {"max_execution_time": whole_seconds(self.timeout)}

    def _run(self, sql: str, parameters: dict[str, Any], limit: int | None) -> pa.Table:
        from clickhouse_connect.driver.exceptions import Error as ClickHouseError

        query, values = pyformat(sql, parameters)
        client = self._connect()
        settings = self._settings(client)
        tables: list[pa.Table] = []
        try:
            with client.query_column_block_stream(query, parameters=values or None, settings=settings) as stream:
                names = list(stream.source.column_names)
                types = [column_type.name for column_type in stream.source.column_types]
                for block in stream:
                    tables.append(clickhouse_table(names, types, block))
            if not tables and not names:
                # For an empty result ClickHouse's HTTP interface sends nothing, not even the columns
                # (the driver asks for them itself only when the query ends with LIMIT 0).
                described = client.query(f"DESCRIBE TABLE ({query})", parameters=values or None, settings=settings)
                names = [row[0] for row in described.result_rows]
                types = [row[1] for row in described.result_rows]
            if not tables:
                tables.append(clickhouse_table(names, types, [[] for _ in names]))
        except ClickHouseError as exc:
            raise self._error(exc) from None
        table = concat_tables(tables)
        return table.slice(0, limit) if limit is not None else table

    def _error(self, exc: Exception) -> ToucanError:
        """A time limit (504), a refused login or an unreachable server (502), or the query's fault (400)."""
        from clickhouse_connect.driver.exceptions import OperationalError, ProgrammingError

        code = getattr(exc, "code", None)
        if _is_timeout(exc):
            return self._timeout_error()
        if isinstance(exc, ProgrammingError):  # refused by the driver before sending, e.g. a bad parameter
            return self._query_failed(str(exc))
        if isinstance(exc, OperationalError) or code is None or code in _CLICKHOUSE_LOGIN_CODES:
            return ConnectorError(
                f"clickhouse provider {self.name!r} failed: {one_line(self.redact(str(exc)))}",
                details={"provider": self.name},
            )
        return self._query_failed(str(exc))

    def status(self) -> ConnectorStatus:
        host, port = self.address()

        def connect() -> str:
            self._connect()
            return f"connected as {self.config.user}"

        def query() -> str:
            from clickhouse_connect.driver.exceptions import Error as ClickHouseError

            try:
                self._connect().command(self.ping_sql)
            except ClickHouseError as exc:
                raise self._error(exc) from None
            return self.ping_sql

        return self.run_steps(
            [
                ("host allowed", lambda: check_database_reach(self.settings, host, port)),
                ("port open", lambda: port_open(host, port, self.timeout)),
                ("authenticated", connect),
                ("query ran", query),
            ]
        )


def _is_timeout(exc: Exception) -> bool:
    code = getattr(exc, "code", None)
    if code is not None:
        return code in _CLICKHOUSE_TIMEOUT_CODES
    text = str(exc).lower()  # the client's own: no answer in time
    return "timed out" in text or "timeout" in text


_CLICKHOUSE_WRAPPER = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")
_CLICKHOUSE_DECIMAL = re.compile(r"^Decimal\((\d+),\s*(\d+)\)$")


def clickhouse_arrow_type(type_name: str) -> pa.DataType | None:
    """The Arrow type of a ClickHouse column type (`Nullable(Decimal(10, 2))`), None to let Arrow infer it."""
    import pyarrow as pa

    while match := _CLICKHOUSE_WRAPPER.match(type_name):
        type_name = match.group(1)
    if match := _CLICKHOUSE_DECIMAL.match(type_name):
        precision, scale = int(match.group(1)), int(match.group(2))
        return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    base = type_name.split("(", 1)[0]
    simple = {
        **{f"Int{bits}": getattr(pa, f"int{bits}")() for bits in (8, 16, 32, 64)},
        **{f"UInt{bits}": getattr(pa, f"uint{bits}")() for bits in (8, 16, 32, 64)},
        "Float32": pa.float32(),
        "Float64": pa.float64(),
        "Bool": pa.bool_(),
        "String": pa.string(),
        "Enum8": pa.string(),
        "Enum16": pa.string(),
        "Date": pa.date32(),
        "Date32": pa.date32(),
        "DateTime": pa.timestamp("s"),
    }
    return simple.get(base)


def clickhouse_table(names: Sequence[str], type_names: Sequence[str], columns: Sequence[Sequence[Any]]) -> pa.Table:
    """One block of a ClickHouse result (columns of Python values) as an Arrow table of the columns' types."""
    import pyarrow as pa

    arrays = []
    for values, type_name in zip(columns, type_names, strict=True):
        arrow_type = clickhouse_arrow_type(type_name)
        array = None
        if arrow_type is not None:
            try:
                array = pa.array(list(values), arrow_type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
                array = None  # e.g. a time zone the type does not hold: Arrow infers it
        arrays.append(array if array is not None else to_array(list(values)))
    return pa.Table.from_arrays(arrays, names=unique_names(list(names)))
