"""SQL databases: PostgreSQL, MySQL/MariaDB, SQL Server, Azure SQL, Oracle and SQLite through
SQLAlchemy; DuckDB files through DuckDB itself. Snowflake, BigQuery and ClickHouse: warehouses.py.

A data source gives a `table` or a `query`. The query's `:name` placeholders are bound to the
source's `parameters` (never pasted into the SQL text). Connections are read-only where the
database allows it (PostgreSQL, MySQL, SQLite, DuckDB), and every query has the connector's
time limit where the driver supports one (PostgreSQL, MySQL, Oracle, SQLite, DuckDB).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import sqlalchemy as sa
from pydantic import Field, SecretStr, model_validator
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine

from toucan.connectors.base import (
    Connector,
    ConnectorError,
    ConnectorSource,
    ConnectorStatus,
    ProviderConfig,
    SourceQueryError,
    concat_tables,
    rows_to_table,
)
from toucan.connectors.network import check_database_reach, port_open
from toucan.connectors.parameters import positional
from toucan.errors import ErrorCode, QueryTimeout, ToucanError, ValidationError

if TYPE_CHECKING:
    import pyarrow as pa

    from toucan.settings import Settings

log = logging.getLogger("toucan.connectors")


class SqlSource(ConnectorSource):
    """A data source of a SQL provider: a `table` (optionally `schema.table`) or a `query`."""

    query: str | None = Field(default=None, description="A SELECT in the database's SQL; `:name` binds a parameter.")
    table: str | None = Field(default=None, description="A table or view, `schema.table` accepted.")

    @model_validator(mode="after")
    def _query_or_table(self) -> SqlSource:
        if bool(self.query and self.query.strip()) == bool(self.table and self.table.strip()):
            raise ValueError("give either `query` or `table` (one of them, not empty)")
        return self


FETCH_BATCH = 50_000


def limited_sql(sql: str, limit: int, dialect: str) -> str | None:
    """`sql` inside a SELECT with the dialect's row limit, or None where a subquery cannot hold any
    query (T-SQL refuses WITH and ORDER BY there): the rows are then cut while fetching."""
    import sqlglot
    from sqlglot import exp

    if dialect == "tsql":
        return None
    body = sql.strip().rstrip(";").strip()
    marker = "__toucan_query__"
    outer = sqlglot.select("*").from_(exp.Table(this=exp.to_identifier(marker)).as_("_toucan_limit")).limit(limit)
    return outer.sql(dialect=dialect).replace(marker, f"(\n{body}\n)", 1)


def table_sql(table: str, limit: int | None, dialect: str) -> str:
    """`SELECT * FROM table` in the dialect, names quoted only when they need it."""
    import sqlglot
    from sqlglot import exp

    parts = [exp.to_identifier(part.strip()) for part in table.strip().split(".")]
    if len(parts) > 3 or not all(part.name for part in parts):
        raise ValidationError(f"Invalid table name {table!r}: use `table`, `schema.table` or `catalog.schema.table`.")
    node = exp.Table(
        this=parts[-1], db=parts[-2] if len(parts) > 1 else None, catalog=parts[0] if len(parts) > 2 else None
    )
    query = sqlglot.select("*").from_(node)
    if limit is not None:
        query = query.limit(limit)
    return query.sql(dialect=dialect)


def one_line(message: str) -> str:
    message = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", message)
    return " ".join(message.split())[:1000]


def says_timeout(message: str) -> bool:
    text = message.lower()
    return any(word in text for word in ("timeout", "timed out", "canceling statement"))


class SqlConnector(Connector):
    """A provider that speaks SQL: `fetch_sql` runs SQL written in `dialect` (a sqlglot dialect name)."""

    source_model = SqlSource
    dialect: ClassVar[str]

    def fetch(self, source: Mapping[str, Any] | ConnectorSource, *, limit: int | None = None) -> pa.Table:
        return self._run(*self._statement(source, limit), limit)

    def fetch_sql(self, sql: str, *, limit: int | None = None, parameters: Mapping[str, Any] | None = None) -> pa.Table:
        """Run one query in the provider's dialect; at most `limit` rows."""
        return self._run(self._limited(sql, limit), dict(parameters or {}), limit)

    def _statement(self, source: Mapping[str, Any] | ConnectorSource, limit: int | None) -> tuple[str, dict[str, Any]]:
        """The SQL that reads `source` (at most `limit` rows) and the values of its `:name` placeholders."""
        parsed = self.parse_source(source)
        assert isinstance(parsed, SqlSource)
        self.check_limit(limit)
        if parsed.table:
            return table_sql(parsed.table, limit, self.dialect), {}
        assert parsed.query is not None
        return self._limited(parsed.query, limit), dict(parsed.parameters)

    def _limited(self, sql: str, limit: int | None) -> str:
        self.check_limit(limit)
        if not sql.strip():
            raise ValidationError("The SQL query is empty.")
        wrapped = limited_sql(sql, limit, self.dialect) if limit is not None else None
        return wrapped or sql

    @abstractmethod
    def _run(self, sql: str, parameters: dict[str, Any], limit: int | None) -> pa.Table:
        """Execute and convert; `limit` also caps the rows fetched."""

    def _timeout_error(self) -> QueryTimeout:
        return QueryTimeout(
            f"The query on {self.type_name} provider {self.name!r} took longer than {self.timeout:g} s.",
            details={"provider": self.name, "timeout": self.timeout},
            code=ErrorCode.CONNECTOR_TIMEOUT,
        )

    def _query_failed(self, message: str) -> SourceQueryError:
        return SourceQueryError(
            f"The query failed on {self.type_name} provider {self.name!r}: {one_line(self.redact(message))}",
            details={"provider": self.name},
        )


# SQLAlchemy-based connectors -----------------------------------------------------------------


class ServerConfig(ProviderConfig):
    """A database server: host, port, user, password, database."""

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535, description="Default: the database's usual port.")
    user: str | None = None
    password: SecretStr | None = None
    database: str | None = None
    options: dict[str, str] = Field(default_factory=dict, description="Driver options added to the URL query.")

    credential_fields: ClassVar[tuple[str, ...]] = ("password",)


class SqlAlchemyConnector(SqlConnector):
    """Connects through a SQLAlchemy engine, created on first use and pooled until `close()`."""

    drivername: ClassVar[str]
    default_port: ClassVar[int | None] = None
    ping_sql: ClassVar[str] = "SELECT 1"

    def __init__(self, config: ProviderConfig, settings: Settings, **options: Any) -> None:
        super().__init__(config, settings, **options)
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()

    def url(self) -> URL:
        """The SQLAlchemy URL, built field by field (a password is never formatted into text): a
        server's from its `ServerConfig`; connectors configured otherwise give their own."""
        if not isinstance(self.config, ServerConfig):
            raise TypeError(f"{type(self).__name__} has no server configuration: it must build its own URL")
        password = self.config.password.get_secret_value() if self.config.password else None
        return URL.create(
            self.drivername,
            username=self.config.user,
            password=password,
            host=self.config.host,
            port=self.config.port or self.default_port,
            database=self.config.database,
            query=self.url_query(),
        )

    def url_query(self) -> dict[str, str]:
        """The URL's query: the server's driver `options`, plus what the database needs."""
        return dict(self.config.options) if isinstance(self.config, ServerConfig) else {}

    def connect_args(self) -> dict[str, Any]:
        """Driver arguments: time limits, read-only session."""
        return {}

    def address(self) -> tuple[str, int] | None:
        """Host and port of a server (checked before connecting, probed by the status check)."""
        if not isinstance(self.config, ServerConfig):
            return None
        port = self.config.port or self.default_port
        return (self.config.host, port) if port else None

    @property
    def engine(self) -> Engine:
        with self._engine_lock:
            if self._engine is None:
                address = self.address()
                if address is not None:
                    check_database_reach(self.settings, *address)
                try:
                    self._engine = sa.create_engine(
                        self.url(),
                        connect_args=self.connect_args(),
                        pool_size=1,
                        max_overflow=4,
                        pool_recycle=300,
                        pool_pre_ping=True,
                        hide_parameters=True,
                    )
                except (ImportError, sa_exc.NoSuchModuleError) as exc:
                    from toucan.connectors.types import missing_driver_error

                    raise missing_driver_error(self.type_name, str(exc)) from None
                self._install_guards(self._engine)
            return self._engine

    def _install_guards(self, engine: Engine) -> None:
        """Hook for engine events (SQLite's authorizer)."""

    def close(self) -> None:
        with self._engine_lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except sa_exc.DBAPIError as exc:
            raise self._connection_failed(str(exc.orig), timed_out=self._is_timeout(exc)) from None
        except (ImportError, sa_exc.NoSuchModuleError) as exc:  # a driver that loads at connect (pyodbc's libodbc)
            from toucan.connectors.types import missing_driver_error

            raise missing_driver_error(self.type_name, str(exc)) from None

    def _connection_failed(self, message: str, *, timed_out: bool) -> ToucanError:
        where = self.address()
        at = f" at {where[0]}:{where[1]}" if where else ""
        message = one_line(self.redact(message))
        if timed_out:
            return QueryTimeout(
                f"No connection to {self.type_name} provider {self.name!r}{at} within {self.timeout:g} s: {message}",
                code=ErrorCode.CONNECTOR_TIMEOUT,
            )
        return ConnectorError(
            f"Cannot connect to {self.type_name} provider {self.name!r}{at}: {message}",
            details={"provider": self.name},
        )

    def _is_timeout(self, exc: sa_exc.DBAPIError) -> bool:
        return says_timeout(str(exc.orig))

    @contextlib.contextmanager
    def _query_guard(self, connection: Connection) -> Iterator[None]:
        """Hook around one query (SQLite's time limit)."""
        yield

    def _run(self, sql: str, parameters: dict[str, Any], limit: int | None) -> pa.Table:
        with self._connect() as connection:
            # Streamed in batches: the rows live as Python objects one batch at a time.
            connection = connection.execution_options(stream_results=True)
            try:
                with self._query_guard(connection):
                    # `:name` placeholders are bound; SQLAlchemy escapes `%` for the drivers that need it.
                    result = connection.execute(sa.text(sql), parameters)
                    if not result.returns_rows:
                        raise ValidationError(
                            f"The query on {self.type_name} provider {self.name!r} returns no rows: write a SELECT.",
                        )
                    columns = list(result.keys())
                    batches: list[pa.Table] = []
                    left = limit
                    while left is None or left > 0:
                        size = FETCH_BATCH if left is None else min(FETCH_BATCH, left)
                        rows = result.fetchmany(size)
                        if not rows and batches:
                            break
                        batches.append(rows_to_table(columns, [tuple(row) for row in rows]))
                        if left is not None:
                            left -= len(rows)
                        if len(rows) < size:
                            break
                    result.close()
            except sa_exc.DBAPIError as exc:
                raise self._database_error(exc) from None
            except sa_exc.StatementError as exc:  # before the database saw it, e.g. `:name` without its parameter
                raise ValidationError(
                    f"The query of {self.type_name} provider {self.name!r} cannot run: "
                    f"{one_line(self.redact(str(exc.orig or exc)))}",
                    details={"parameters": sorted(parameters)},
                ) from None
        return concat_tables(batches) if batches else rows_to_table(columns, [])

    def _database_error(self, exc: sa_exc.DBAPIError) -> ToucanError:
        """A time limit (504), the query's fault (400), or the database's (502)."""
        if self._is_timeout(exc):
            return self._timeout_error()
        connection_level = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.InternalError)
        if isinstance(exc, connection_level) and not self._is_query_error(exc):
            return self._provider_failed(str(exc.orig))
        if "CURSOR FOR" in str(exc.orig):
            # Results are read through a server-side cursor, which only a query can feed.
            return self._read_only(str(exc.orig))
        return self._query_failed(str(exc.orig))

    def _provider_failed(self, message: str) -> ConnectorError:
        return ConnectorError(
            f"{self.type_name} provider {self.name!r} failed: {one_line(self.redact(message))}",
            details={"provider": self.name},
        )

    def _read_only(self, message: str) -> SourceQueryError:
        return SourceQueryError(
            f"{self.type_name} provider {self.name!r} is read-only here: write a SELECT "
            f"(the database refused: {one_line(self.redact(message))})",
            details={"provider": self.name},
        )

    def _is_query_error(self, exc: sa_exc.DBAPIError) -> bool:
        """An OperationalError that is the query's fault (e.g. SQLite's "no such table")."""
        return False

    def reach_steps(self) -> list[tuple[str, Callable[[], str]]]:
        """Status steps before connecting: the host resolves and its port is open."""
        address = self.address()
        if address is None:
            return []
        host, port = address
        return [
            ("host allowed", lambda: check_database_reach(self.settings, host, port)),
            ("port open", lambda: port_open(host, port, self.timeout)),
        ]

    connect_step: ClassVar[str] = "authenticated"

    def status(self) -> ConnectorStatus:
        state: dict[str, Connection] = {}

        def connect() -> str:
            state["connection"] = self._connect()
            user = getattr(self.config, "user", None)
            return "connected" + (f" as {user}" if user else "")

        def query() -> str:
            state["connection"].exec_driver_sql(self.ping_sql).fetchall()
            return self.ping_sql

        try:
            return self.run_steps([*self.reach_steps(), (self.connect_step, connect), ("query ran", query)])
        finally:
            if "connection" in state:
                state["connection"].close()


class MySQLConnector(SqlAlchemyConnector):
    """MySQL and MariaDB."""

    config: ServerConfig
    config_model = ServerConfig
    type_name = "mysql"
    dialect = "mysql"
    drivername = "mysql+pymysql"
    default_port = 3306

    def url_query(self) -> dict[str, str]:
        return {"charset": "utf8mb4", **self.config.options}

    def connect_args(self) -> dict[str, Any]:
        return {
            "connect_timeout": self.timeout,
            "read_timeout": self.timeout,
            "write_timeout": self.timeout,
            "init_command": "SET SESSION TRANSACTION READ ONLY",
        }

    def _is_query_error(self, exc: sa_exc.DBAPIError) -> bool:
        # Server errors (1000-1999) other than refused logins are the query's fault, e.g. 1054 unknown column.
        code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
        refused = {1040, 1044, 1045, 1129, 1130, 1203, 1226}
        return isinstance(code, int) and 1000 <= code < 2000 and code not in refused


class MSSQLConfig(ServerConfig):
    odbc_driver: str = Field(default="ODBC Driver 18 for SQL Server", description="Installed ODBC driver name.")
    encrypt: bool = True
    trust_server_certificate: bool = False
    authentication: str | None = Field(
        default=None,
        description="ODBC `Authentication`, e.g. `ActiveDirectoryPassword` or `ActiveDirectoryServicePrincipal`.",
    )


class MSSQLConnector(SqlAlchemyConnector):
    """Microsoft SQL Server through pyodbc (the Microsoft ODBC driver must be installed on the host)."""

    config: MSSQLConfig
    config_model = MSSQLConfig
    type_name = "mssql"
    dialect = "tsql"
    drivername = "mssql+pyodbc"
    default_port = 1433
    encrypt_required: ClassVar[bool] = False  # Azure SQL: `encrypt` and `options` cannot turn it off

    def url_query(self) -> dict[str, str]:
        query = {
            "driver": self.config.odbc_driver,
            "Encrypt": "yes" if self.config.encrypt else "no",
            "TrustServerCertificate": "yes" if self.config.trust_server_certificate else "no",
        }
        if self.config.authentication:
            query["Authentication"] = self.config.authentication
        query.update(self.config.options)
        if self.encrypt_required:
            query["Encrypt"] = "yes"
        return query

    def connect_args(self) -> dict[str, Any]:
        return {"timeout": max(1, round(self.timeout))}


class AzureMSSQLConnector(MSSQLConnector):
    """Azure SQL Database: SQL Server with encryption required."""

    type_name = "azure_mssql"
    encrypt_required = True


class OracleConfig(ServerConfig):
    service_name: str | None = Field(default=None, description="Oracle service name (or give `database` as the SID).")


class OracleConnector(SqlAlchemyConnector):
    config: OracleConfig
    config_model = OracleConfig
    type_name = "oracle"
    dialect = "oracle"
    drivername = "oracle+oracledb"
    default_port = 1521
    ping_sql = "SELECT 1 FROM DUAL"

    def url_query(self) -> dict[str, str]:
        extra = {"service_name": self.config.service_name} if self.config.service_name else {}
        return {**extra, **self.config.options}

    def connect_args(self) -> dict[str, Any]:
        return {"tcp_connect_timeout": self.timeout}

    def _install_guards(self, engine: Engine) -> None:
        milliseconds = max(1, int(self.timeout * 1000))

        @sa.event.listens_for(engine, "connect")
        def _call_timeout(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.call_timeout = milliseconds


# Database files ------------------------------------------------------------------------------


class FileConfig(ProviderConfig):
    path: str = Field(min_length=1, description="The database file: absolute, or relative to the app's files.")


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


class FileConnectorMixin:
    """Where a database file may be: not among the stack's own files (metadata, secret key, other apps)."""

    config: FileConfig
    settings: Settings
    files_dir: Path | None
    type_name: ClassVar[str]

    def file_path(self) -> Path:
        given = Path(self.config.path).expanduser()
        if not given.is_absolute():
            if self.files_dir is None:
                raise ValidationError(
                    f"The {self.type_name} file {self.config.path!r} must be an absolute path.",
                    details={"path": self.config.path},
                )
            given = self.files_dir / given
        path = given.resolve()
        data_dir = self.settings.data_dir.resolve()
        allowed_dir = self.files_dir.resolve() if self.files_dir is not None else None
        own = [data_dir]
        database_url = self.settings.resolved_database_url
        if database_url.startswith("sqlite:///"):
            own.append(Path(database_url.removeprefix("sqlite:///")).resolve())
        if any(_inside(path, item) for item in own) and not (allowed_dir and _inside(path, allowed_dir)):
            raise ValidationError(
                f"The {self.type_name} file {self.config.path!r} is among the stack's own files and may not be read.",
                details={"path": self.config.path},
                code=ErrorCode.PATH_NOT_ALLOWED,
            )
        return path

    def existing_file(self) -> Path:
        path = self.file_path()
        if not path.is_file():
            raise ConnectorError(
                f"The {self.type_name} file {self.config.path!r} does not exist.", details={"path": self.config.path}
            )
        return path


class SQLiteConnector(FileConnectorMixin, SqlAlchemyConnector):
    """A SQLite file, opened read-only; ATTACH of other files is refused."""

    config: FileConfig
    config_model = FileConfig
    type_name = "sqlite"
    dialect = "sqlite"
    drivername = "sqlite"

    def url(self) -> URL:
        path = self.existing_file()
        return sa.make_url(f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true")

    def connect_args(self) -> dict[str, Any]:
        return {"check_same_thread": False}

    def _install_guards(self, engine: Engine) -> None:
        @sa.event.listens_for(engine, "connect")
        def _refuse_attach(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            def authorize(action: int, *_args: Any) -> int:
                return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH else sqlite3.SQLITE_OK

            dbapi_connection.set_authorizer(authorize)

    @property
    def engine(self) -> Engine:
        # pool_size and friends do not apply to NullPool: build the engine here.
        with self._engine_lock:
            if self._engine is None:
                self._engine = sa.create_engine(
                    self.url(), connect_args=self.connect_args(), poolclass=sa.pool.NullPool, hide_parameters=True
                )
                self._install_guards(self._engine)
            return self._engine

    @contextlib.contextmanager
    def _query_guard(self, connection: Connection) -> Iterator[None]:
        raw = connection.connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)
        deadline = time.monotonic() + self.timeout
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield
        except sa_exc.OperationalError as exc:
            if "interrupted" in str(exc.orig) and time.monotonic() > deadline:
                raise self._timeout_error() from None
            raise
        finally:
            raw.set_progress_handler(None, 0)

    def _is_timeout(self, exc: sa_exc.DBAPIError) -> bool:
        return False  # SQLite's own messages say "interrupted"; _query_guard maps that

    def _is_query_error(self, exc: sa_exc.DBAPIError) -> bool:
        return True  # SQLite reports bad SQL as OperationalError; the file itself was opened already

    connect_step: ClassVar[str] = "opened"

    def reach_steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [("file found", lambda: str(self.existing_file()))]


class DuckDBConnector(FileConnectorMixin, SqlConnector):
    """A DuckDB file, opened read-only with access to other files and URLs turned off."""

    config: FileConfig
    config_model = FileConfig
    type_name = "duckdb"
    dialect = "duckdb"

    def _open(self) -> Any:
        import duckdb

        path = self.existing_file()
        try:
            return duckdb.connect(str(path), read_only=True, config={"enable_external_access": False, "threads": 2})
        except duckdb.Error as exc:
            raise ConnectorError(f"Cannot open the duckdb file {self.config.path!r}: {one_line(str(exc))}") from None

    def _run(self, sql: str, parameters: dict[str, Any], limit: int | None) -> pa.Table:
        import duckdb

        sql, values = positional(sql, parameters, "qmark")
        connection = self._open()
        timer = threading.Timer(self.timeout, connection.interrupt)
        timer.start()
        try:
            relation = connection.sql(sql, params=values or None)
            if relation is None:
                raise ValidationError(f"The query on duckdb provider {self.name!r} returns no rows: write a SELECT.")
            if limit is not None:
                relation = relation.limit(limit)
            table: pa.Table = relation.to_arrow_table()
            return table
        except duckdb.InterruptException:
            raise self._timeout_error() from None
        except duckdb.Error as exc:
            raise self._query_failed(str(exc)) from None
        finally:
            timer.cancel()
            connection.close()

    def status(self) -> ConnectorStatus:
        state: dict[str, Any] = {}

        def opened() -> str:
            state["connection"] = self._open()
            return "opened read-only"

        def query() -> str:
            state["connection"].sql("SELECT 1").fetchall()
            return "SELECT 1"

        try:
            return self.run_steps(
                [("file found", lambda: str(self.existing_file())), ("opened", opened), ("query ran", query)]
            )
        finally:
            if "connection" in state:
                state["connection"].close()
