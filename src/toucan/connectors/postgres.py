"""PostgreSQL: the connector, and its rows as Arrow record batches through ADBC
(adbc-driver-postgresql), decoded in C from PostgreSQL's binary format instead of row by row in
Python.

A query without parameters is read with `COPY (query) TO STDOUT (FORMAT binary)`, streamed in
batches of about 16 MB. A query with parameters (COPY takes none) is read through a server-side
cursor, `fetch_rows` rows per FETCH; its `$n` are bound to values, never pasted into its text.

Columns get the types the SQLAlchemy path gives (integers as int64, float4 as float64, json as
the objects it holds), except that a column's type now comes from the database, not from its
values: numeric(p, s) is decimal128(p, s), an all-NULL int column is int64, not null. What ADBC
cannot read as that path does raises `Unsupported` before any row is returned, and the connector
reads through SQLAlchemy and psycopg instead: arrays (ADBC flattens the multi-dimensional ones),
network, geometric, range, money and other types outside the core ones; statements COPY cannot
wrap; parameter values that do not convert exactly to their placeholder's type.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import exc as sa_exc

from toucan.connectors.base import ConnectorSource, ConnectorStatus, concat_tables, to_array, unique_names
from toucan.connectors.network import check_database_reach
from toucan.connectors.parameters import positional
from toucan.connectors.sql import FETCH_BATCH, ServerConfig, SqlAlchemyConnector, says_timeout
from toucan.errors import ToucanError

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection, Cursor

log = logging.getLogger("toucan.connectors")


class Unsupported(Exception):
    """ADBC cannot read this query as the SQLAlchemy path does; the message says why."""


class Unconvertible(Exception):
    """A value the column's Arrow type cannot hold (NaN in a decimal, an infinite date)."""


_CURSOR = "toucan_rows"
# Statements COPY (or DECLARE) cannot wrap, e.g. SHOW: the SQLAlchemy path runs them, or says
# what is wrong with them in the words it always did.
_NOT_WRAPPABLE = frozenset({"42601", "0A000"})
# The server could not type an expression with a parameter as bound: psycopg binds differently.
_PARAMETER_TYPES = frozenset({"42883", "42804", "42P08", "42P18", "42725"})


# Errors ------------------------------------------------------------------------------------------


def sqlstate(exc: BaseException) -> str:
    """The error's SQLSTATE, "" when ADBC did not say (errors while streaming)."""
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str) and state:
        return state
    found = re.search(r"SQLSTATE: ([0-9A-Z]{5})", str(exc))
    return found.group(1) if found else ""


def error_text(exc: BaseException) -> str:
    """What the database said, without ADBC's status prefix and its copy of the statement."""
    text = str(exc).split("Query was:", 1)[0]
    said = re.search(r"\b(?:ERROR|FATAL):\s+", text)
    if said:
        return text[said.end() :].strip()
    return re.sub(r"^[A-Z_]+: (?:\[libpq\] )?", "", text).strip()


def _adbc_errors() -> tuple[type[BaseException], ...]:
    import adbc_driver_manager

    # OSError: how a failure reaches the reader of a COPY (e.g. the statement timeout).
    return (adbc_driver_manager.Error, pa.ArrowException, OSError)


# Parameters --------------------------------------------------------------------------------------


def bind(values: Sequence[Any], types: pa.Schema | None) -> pa.RecordBatch:
    """The values of $1…$n as one row. A string takes the type the server infers for its placeholder
    (psycopg sends strings untyped, for the server to read); other values keep their own type."""
    if types is None or len(types) != len(values):
        raise Unsupported("the server did not tell the types of the query's parameters")
    arrays = []
    for number, (value, field) in enumerate(zip(values, types, strict=True), start=1):
        try:
            arrays.append(_parameter(value, field))
        except (pa.ArrowException, InvalidOperation, ValueError, TypeError, OverflowError):
            raise Unsupported(f"parameter ${number} cannot be bound as a {_pg_type(field)}") from None
    return pa.RecordBatch.from_arrays(arrays, names=[f"p{number}" for number in range(1, len(arrays) + 1)])


def _parameter(value: Any, field: pa.Field) -> pa.Array:
    if _pg_type(field) == "numeric" and not isinstance(value, bool) and isinstance(value, str | int | float | Decimal):
        number = Decimal(str(value))
        if number.as_tuple().exponent > 0:  # type: ignore[operator]  # 1E+3: scale 0, not -3
            number = number.quantize(Decimal(1))
        return pa.array([number])
    if value is None:
        return pa.nulls(1, pa.decimal128(1, 0) if _pg_type(field) == "numeric" else _storage_type(field.type))
    if isinstance(field.type, pa.BaseExtensionType):
        raise TypeError(field.type)
    if isinstance(value, str):
        return pa.array([value], pa.string()).cast(field.type)
    return pa.array([value])


def _storage_type(kind: pa.DataType) -> pa.DataType:
    return kind.storage_type if isinstance(kind, pa.BaseExtensionType) else kind


# Result columns ----------------------------------------------------------------------------------

_INTEGERS = frozenset({"int2", "int4", "int8"})
# Types ADBC reads into the Arrow type the SQLAlchemy path gives (interval: month_day_nano where
# that path gives duration; both are DuckDB's INTERVAL).
_KEPT: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "float8": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", "UTC"),
    "time": pa.time64("us"),
    "interval": pa.month_day_nano_interval(),
    "bytea": pa.binary(),
    "uuid": pa.uuid(),
}
# ADBC shifts PostgreSQL's infinity and -infinity (the extreme values) by the 1970-2000 offset,
# which wraps them to these lowest values; real dates and timestamps start at 4713 BC, far above.
_WRAPPED_INFINITY = {"date": (pa.int32(), -(2**31) + 20_000), "timestamp": (pa.int64(), -(2**63) + 10**15)}

Convert = Callable[[pa.Array], pa.Array]


def _pg_type(field: pa.Field) -> str:
    raw = (field.metadata or {}).get(b"POSTGRESQL:type", b"")
    name = raw.decode(errors="replace")
    return f"{name[1:]}[]" if name.startswith("_") else name


def _storage(array: pa.Array) -> pa.Array:
    return array.storage if isinstance(array, pa.ExtensionArray) else array


def _column(field: pa.Field) -> tuple[pa.DataType | None, Convert]:
    """The column's Arrow type and how a batch of its values gets it; None: each batch's values
    are typed by what they hold, as the SQLAlchemy path types them."""
    pg_type, kind, name = _pg_type(field), field.type, field.name
    if pg_type in _INTEGERS and pa.types.is_integer(kind):
        return pa.int64(), lambda array: array.cast(pa.int64())
    if pg_type == "float4" and pa.types.is_float32(kind):
        # psycopg reads float4 as its shortest text: 1.1, not the 1.100000023841858 of a widened float.
        return pa.float64(), lambda array: array.cast(pa.string()).cast(pa.float64())
    if pg_type == "numeric":
        return _numeric(field)
    if pg_type in ("json", "jsonb"):
        return None, lambda array: to_array([None if v is None else json.loads(v) for v in _storage(array).to_pylist()])
    if kind == pa.string():  # text, varchar, char, name, enums
        return kind, lambda array: array
    if _KEPT.get(pg_type) == kind:
        kept = "date" if pg_type == "date" else "timestamp" if pg_type.startswith("timestamp") else None
        return kind, (_finite(name, *_WRAPPED_INFINITY[kept]) if kept else lambda array: array)
    raise Unsupported(f"column {name!r} is of type {pg_type or kind}")


def _numeric(field: pa.Field) -> tuple[pa.DataType | None, Convert]:
    typmod = int((field.metadata or {}).get(b"POSTGRESQL:typmod", b"-1"))
    if typmod >= 4:  # numeric(p, s): PostgreSQL packs ((p << 16) | s) + 4, s signed on 11 bits
        precision = ((typmod - 4) >> 16) & 0xFFFF
        scale = (((typmod - 4) & 0x7FF) ^ 1024) - 1024
        if 0 < precision <= 38 and 0 <= scale <= precision:
            target = pa.decimal128(precision, scale)

            def to_decimal(array: pa.Array) -> pa.Array:
                try:
                    return _storage(array).cast(target)
                except pa.ArrowInvalid:
                    raise Unconvertible(
                        f"column {field.name!r} (numeric({precision}, {scale})) holds NaN, which a decimal column "
                        f"cannot hold: cast it to float8 in the query"
                    ) from None

            return target, to_decimal
    return None, lambda array: to_array([None if v is None else Decimal(v) for v in _storage(array).to_pylist()])


def _finite(name: str, view: pa.DataType, floor: int) -> Convert:
    def check(array: pa.Array) -> pa.Array:
        lowest = pc.min(array.view(view)).as_py()
        if lowest is not None and lowest < floor:
            raise Unconvertible(
                f"column {name!r} holds infinity or -infinity, which a domain cannot hold: "
                f"replace it in the query, e.g. NULLIF({name}, 'infinity')"
            )
        return array

    return check


class ResultPlan:
    """How each column of an ADBC result becomes the column the SQLAlchemy path gives."""

    def __init__(self, schema: pa.Schema) -> None:
        self.names = unique_names(schema.names)  # as the SQLAlchemy path: Parquet refuses duplicates
        self.columns = [_column(field) for field in schema]
        # Streamed when every column has its type before the first row; else typed batch by batch.
        self.streams = all(target is not None for target, _ in self.columns)
        self.schema = pa.schema(
            [pa.field(name, target or pa.null()) for name, (target, _) in zip(self.names, self.columns, strict=True)]
        )

    def batch(self, raw: pa.RecordBatch) -> pa.RecordBatch:
        arrays = [convert(array) for array, (_, convert) in zip(raw.columns, self.columns, strict=True)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def table(self, raw: pa.RecordBatch) -> pa.Table:
        arrays = [convert(array) for array, (_, convert) in zip(raw.columns, self.columns, strict=True)]
        return pa.Table.from_arrays(arrays, names=self.names)


# Reading -----------------------------------------------------------------------------------------


class ArrowStream:
    """The rows of one query for a `with` block: `reader` yields them once; leaving the block ends
    the query. A failure while the rows are read leaves the block as the connector's error."""

    def __init__(
        self,
        plan: ResultPlan,
        raw: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        error: Callable[[BaseException], ToucanError],
        resources: contextlib.ExitStack,
    ) -> None:
        self._error = error
        self._resources = resources
        self._failure: Exception | None = None
        if plan.streams:
            self.reader = pa.RecordBatchReader.from_batches(plan.schema, self._converted(plan, batches))
        else:  # json or unconstrained numeric columns: typed from their values, as before, whole
            tables = [plan.table(batch) for batch in batches]
            empty = pa.RecordBatch.from_pylist([], schema=raw)
            self.reader = concat_tables(tables or [plan.table(empty)]).to_reader()

    def _converted(self, plan: ResultPlan, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        try:
            for batch in batches:
                yield plan.batch(batch)
        except Exception as exc:  # the consumer (DuckDB) sees an Arrow error; __exit__ raises this one
            self._failure = self._error(exc) if isinstance(exc, (Unconvertible, *_adbc_errors())) else exc
            raise self._failure from None

    def __enter__(self) -> ArrowStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._resources.close()
        if exc is not None and self._failure is not None and exc is not self._failure:
            raise self._failure from None


def open_stream(
    connect: Callable[[], Connection],
    sql: str,
    values: Sequence[Any],
    *,
    error: Callable[[BaseException], ToucanError],
    fetch_rows: int,
) -> ArrowStream:
    """Run `sql` (placeholders `$1`…`$n`, bound to `values`) on a new connection from `connect`.
    Raises Unsupported (nothing read yet) or the connector's error from `error`."""
    resources = contextlib.ExitStack()
    try:
        connection = connect()
        resources.callback(connection.close)
        cursor = connection.cursor()
        resources.callback(cursor.close)
        raw, batches = _cursor_rows(cursor, sql, values, fetch_rows) if values else _copy_rows(cursor, sql, resources)
        return ArrowStream(ResultPlan(raw), raw, batches, error, resources)
    except (Unsupported, ToucanError):
        resources.close()
        raise
    except Exception as exc:
        resources.close()
        if isinstance(exc, (Unconvertible, *_adbc_errors())):
            raise error(exc) from None
        raise


def _statement(sql: str) -> str:
    # A trailing `-- comment` must not swallow the `)` that COPY or DECLARE adds after the query.
    return sql.strip().rstrip(";").rstrip() + "\n"


def _copy_rows(cursor: Cursor, sql: str, resources: contextlib.ExitStack) -> tuple[pa.Schema, Iterable[pa.RecordBatch]]:
    import adbc_driver_manager

    try:
        cursor.execute(_statement(sql))
    except adbc_driver_manager.Error as exc:
        if sqlstate(exc) in _NOT_WRAPPABLE:
            raise Unsupported(f"COPY cannot read this statement ({error_text(exc)})") from None
        raise
    reader = cursor.fetch_record_batch()
    resources.callback(reader.close)  # first: a COPY still running ends with its reader
    return reader.schema, reader


def _cursor_rows(
    cursor: Cursor, sql: str, values: Sequence[Any], fetch_rows: int
) -> tuple[pa.Schema, Iterable[pa.RecordBatch]]:
    import adbc_driver_manager
    from adbc_driver_postgresql import StatementOptions

    cursor.adbc_statement.set_options(**{StatementOptions.USE_COPY.value: "false"})  # FETCH cannot be COPY'd
    try:
        parameters = bind(values, cursor.adbc_prepare(sql))  # the query parsed, not run
        cursor.execute(f"DECLARE {_CURSOR} NO SCROLL CURSOR FOR\n{_statement(sql)}", parameters)
    except adbc_driver_manager.Error as exc:
        if sqlstate(exc) in _NOT_WRAPPABLE | _PARAMETER_TYPES or isinstance(exc, adbc_driver_manager.NotSupportedError):
            raise Unsupported(f"the query cannot run as a cursor with these parameters ({error_text(exc)})") from None
        raise

    def fetch() -> pa.Table:
        cursor.execute(f"FETCH {fetch_rows} FROM {_CURSOR}")
        table: pa.Table = cursor.fetch_arrow_table()
        return table

    first = fetch()

    def batches() -> Iterator[pa.RecordBatch]:
        table = first
        while True:
            yield from table.to_batches()
            if table.num_rows < fetch_rows:
                return
            table = fetch()

    return first.schema, batches()


# The connector ---------------------------------------------------------------------------------


class PostgresConnector(SqlAlchemyConnector):
    """PostgreSQL. Rows are read through ADBC into Arrow (binary COPY, see the module's text); a
    query ADBC cannot read as psycopg does (arrays, non-core types…) goes through SQLAlchemy."""

    config: ServerConfig
    config_model = ServerConfig

    type_name = "postgres"
    dialect = "postgres"
    drivername = "postgresql+psycopg"
    default_port = 5432
    # SQLSTATE classes of the connection, the login, resources and the server: not the query's fault.
    server_sqlstates: ClassVar[frozenset[str]] = frozenset({"08", "28", "53", "57", "58", "XX"})

    def connect_args(self) -> dict[str, Any]:
        milliseconds = max(1, int(self.timeout * 1000))
        return {
            "connect_timeout": max(1, round(self.timeout)),
            "options": f"-c statement_timeout={milliseconds} -c default_transaction_read_only=on",
        }

    def _is_query_error(self, exc: sa_exc.DBAPIError) -> bool:
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        return bool(sqlstate) and sqlstate[:2] not in self.server_sqlstates

    @contextlib.contextmanager
    def stream(
        self, source: Mapping[str, Any] | ConnectorSource, *, limit: int | None = None
    ) -> Iterator[pa.RecordBatchReader]:
        sql, parameters = self._statement(source, limit)
        with self._arrow(sql, parameters, limit) as reader:
            yield reader

    def _run(self, sql: str, parameters: dict[str, Any], limit: int | None) -> pa.Table:
        with self._arrow(sql, parameters, limit) as reader:
            return reader.read_all()

    @contextlib.contextmanager
    def _arrow(self, sql: str, parameters: dict[str, Any], limit: int | None) -> Iterator[pa.RecordBatchReader]:
        statement, values = positional(sql, parameters, "numeric_dollar")
        try:
            stream = open_stream(self._adbc_connect, statement, values, error=self._adbc_error, fetch_rows=FETCH_BATCH)
        except Unsupported as exc:
            log.info("postgres provider %r: read through SQLAlchemy, not ADBC: %s", self.name, self.redact(str(exc)))
            yield super()._run(sql, parameters, limit).to_reader()
            return
        with stream:
            yield stream.reader

    def _conninfo(self) -> str:
        """libpq's `key='value'…` connection string: the URL and the connect_args psycopg gets."""
        url = self.url()
        fields: dict[str, Any] = {
            "host": url.host,
            "port": url.port,
            "dbname": url.database,
            "user": url.username,
            "password": url.password,
            **url.query,
            **self.connect_args(),
        }
        return " ".join(f"{key}={_libpq_value(value)}" for key, value in fields.items() if value is not None)

    def _adbc_connect(self) -> Connection:
        import adbc_driver_manager
        import adbc_driver_postgresql.dbapi

        address = self.address()
        if address is not None:
            check_database_reach(self.settings, *address)
        try:
            # Not autocommit: a server-side cursor (queries with parameters) lives in a transaction.
            return adbc_driver_postgresql.dbapi.connect(self._conninfo(), autocommit=False)
        except adbc_driver_manager.Error as exc:
            if "GSSAPI" in str(exc):  # ADBC's own libpq is built without it; psycopg's may have it
                raise Unsupported("the server asks for GSSAPI") from None
            text = error_text(exc)
            raise self._connection_failed(text, timed_out=says_timeout(text)) from None

    def _adbc_error(self, exc: BaseException) -> ToucanError:
        """An ADBC error as the SQLAlchemy path reports it: time limit, the query's fault, or the database's."""
        if isinstance(exc, Unconvertible):
            return self._query_failed(str(exc))
        state, text = sqlstate(exc), error_text(exc)
        if state == "57014" or (not state and says_timeout(text)):
            return self._timeout_error()
        if state == "25006":  # read_only_sql_transaction
            return self._read_only(text)
        if state[:2] in self.server_sqlstates or not (state or "ERROR:" in str(exc)):
            return self._provider_failed(text)
        return self._query_failed(text)

    def status(self) -> ConnectorStatus:
        state: dict[str, Any] = {}

        def connect() -> str:
            try:
                state["adbc"] = self._adbc_connect()
            except Unsupported:  # reads go through SQLAlchemy too
                state["sqlalchemy"] = self._connect()
            return "connected" + (f" as {self.config.user}" if self.config.user else "")

        def query() -> str:
            if "sqlalchemy" in state:
                state["sqlalchemy"].exec_driver_sql(self.ping_sql).fetchall()
                return self.ping_sql
            try:
                with state["adbc"].cursor() as cursor:
                    cursor.execute(self.ping_sql)
                    cursor.fetchall()
            except Exception as exc:
                raise self._adbc_error(exc) from None
            return self.ping_sql

        try:
            return self.run_steps([*self.reach_steps(), (self.connect_step, connect), ("query ran", query)])
        finally:
            for connection in state.values():
                connection.close()


def _libpq_value(value: Any) -> str:
    """A value of a libpq connection string: quoted, its quotes and backslashes escaped."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
