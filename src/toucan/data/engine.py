"""DuckDB execution: confined in-process databases, queries in a bounded thread pool, timeouts.

Queries run off the event loop so a slow one never blocks others; each gets its own
cursor, which `interrupt()` stops when the timeout passes.

Every query runs on a database that can read only the files of its `Reach` (the domain
files of the app and version being read): external access is off, the allowed paths are set
once and the configuration is locked (`confine`). Even SQL that slipped past the compiler's
checks (a customsql rewrite bug) cannot read another app's files, the data dir, the metadata
database or the network. Databases are kept by reach, the most recently used first.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from toucan.errors import ErrorCode, PermissionDenied, QueryTimeout, ValidationError

if TYPE_CHECKING:  # DuckDB and Arrow load on the first query, not at start-up
    import duckdb
    import pyarrow as pa

T = TypeVar("T")

_SIMPLE_TYPES = (
    ("BOOL", "boolean"),
    ("TINYINT", "integer"),
    ("SMALLINT", "integer"),
    ("INTEGER", "integer"),
    ("BIGINT", "integer"),
    ("HUGEINT", "integer"),
    ("UTINYINT", "integer"),
    ("USMALLINT", "integer"),
    ("UINTEGER", "integer"),
    ("UBIGINT", "integer"),
    ("FLOAT", "float"),
    ("DOUBLE", "float"),
    ("DECIMAL", "float"),
    ("TIMESTAMP", "datetime"),
    ("DATE", "date"),
    ("TIME", "time"),
    ("VARCHAR", "string"),
    ("UUID", "string"),
    ("BLOB", "binary"),
    ("INTERVAL", "interval"),
)


# Loads (the COPY of an upload into the store's Parquet) run on one thread: two hold about
# twice the memory (a 10 M-row Parquet upload peaked at 225 MiB instead of 115 MiB in a
# bare Python process) to load in about 2 s instead of 3 s. Loads are rare, and a worker's
# peak memory is what bounds how many workers a machine can run.
LOAD_THREADS = 1


def duckdb_config(memory_mb: int | None, temp_dir: Path | None, threads: int = 2) -> dict[str, Any]:
    """DuckDB settings of every connection the stack opens: bounded memory, spilling to disk."""
    config: dict[str, Any] = {"threads": threads}
    if memory_mb:
        config["memory_limit"] = f"{memory_mb}MB"
    if temp_dir is not None:
        # DuckDB creates the directory when it first spills, but not its parents: without
        # them, a query that needs to spill fails with an IO error.
        temp_dir.parent.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(temp_dir)
    return config


@dataclass(frozen=True)
class Reach:
    """The only files a query may read (and write): exact paths, and folders with all they hold."""

    paths: frozenset[str] = field(default_factory=frozenset)
    directories: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, paths: Iterable[Path | str] = (), directories: Iterable[Path | str] = ()) -> Reach:
        # A folder is given with its trailing slash: DuckDB then allows only what lies inside.
        return cls(
            frozenset(str(p) for p in paths),
            frozenset(str(d).rstrip("/") + "/" for d in directories),
        )

    def __add__(self, other: Reach) -> Reach:
        return Reach(self.paths | other.paths, self.directories | other.directories)


def confine(conn: duckdb.DuckDBPyConnection, reach: Reach) -> None:
    """Turn off every file, network and extension access of `conn`'s database but `reach`.

    DuckDB takes the allowed lists only after start-up and before external access goes off;
    locking the configuration then keeps SQL from changing any setting back.
    """
    conn.execute("SET allowed_paths = ?", [sorted(reach.paths)])
    conn.execute("SET allowed_directories = ?", [sorted(reach.directories)])
    conn.execute("SET enable_external_access = false")
    conn.execute("SET autoinstall_known_extensions = false")
    conn.execute("SET autoload_known_extensions = false")
    conn.execute("SET lock_configuration = true")


def load_config(memory_mb: int | None, temp_dir: Path | None) -> dict[str, Any]:
    """DuckDB settings of a connection that loads data into the store."""
    return duckdb_config(memory_mb, temp_dir, threads=LOAD_THREADS)


def simple_type(duckdb_type: str) -> str:
    """A DuckDB type name as the API shows it: string, integer, float, boolean, date…"""
    upper = duckdb_type.upper()
    if upper.endswith("[]") or upper.startswith(("LIST", "STRUCT", "MAP")):
        return "object"
    for prefix, name in _SIMPLE_TYPES:
        if upper.startswith(prefix):
            return name
    return "string"


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    columns: list[dict[str, str]]
    total: int


class QueryEngine:
    """Confined DuckDB databases, one per reach, with a bounded pool of query threads.

    A database per reach (in practice: per app, stage and version) keeps DuckDB's caches of
    Parquet metadata between requests; the `DATABASES` most recently used are kept and an
    older one closes when its last query ends. The memory limit holds per database, and at
    most `workers` queries run at once.
    """

    DATABASES = 32

    def __init__(
        self, workers: int, timeout: float, memory_mb: int | None = None, temp_dir: Path | None = None
    ) -> None:
        self.timeout = timeout
        self._config: dict[str, Any] = duckdb_config(memory_mb, temp_dir)
        self._databases: OrderedDict[Reach, duckdb.DuckDBPyConnection] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="toucan-query")
        self._lock = threading.Lock()

    def _open(self, reach: Reach) -> duckdb.DuckDBPyConnection:
        import duckdb

        db = duckdb.connect(":memory:", config=self._config)
        db.execute("SET enable_object_cache = true")
        confine(db, reach)
        return db

    def cursor(self, reach: Reach = Reach(), keep: bool = True) -> duckdb.DuckDBPyConnection:
        """A cursor on the database of `reach` (`keep=False`: a database of its own, for a
        reach no other query shares, such as an export's output file)."""
        if not keep:
            return self._open(reach).cursor()  # the cursor holds the database until it closes
        with self._lock:  # cursor() on a shared connection is not thread-safe
            db = self._databases.get(reach)
            if db is None:
                db = self._databases[reach] = self._open(reach)
                while len(self._databases) > self.DATABASES:
                    # Dropped, not closed: running cursors keep it until they end.
                    self._databases.popitem(last=False)
            else:
                self._databases.move_to_end(reach)
            return db.cursor()

    async def run(self, work: Callable[[duckdb.DuckDBPyConnection], T], reach: Reach = Reach(), keep: bool = True) -> T:
        """Run `work(cursor)` in the pool on the database of `reach`; interrupt it and raise
        QueryTimeout after the timeout."""
        cursor = await asyncio.get_running_loop().run_in_executor(self._pool, self.cursor, reach, keep)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, _guarded, work, cursor)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            cursor.interrupt()
            raise QueryTimeout(
                f"The query ran longer than {self.timeout:g} s (TOUCAN_QUERY_TIMEOUT) and was "
                "stopped. Filter or aggregate earlier in the pipeline, or ask an operator to "
                "raise the limit.",
                details={"timeout_seconds": self.timeout},
            ) from None
        finally:
            future.add_done_callback(lambda _f: cursor.close())

    def run_sync(self, work: Callable[[duckdb.DuckDBPyConnection], T], reach: Reach = Reach()) -> T:
        """The same, from synchronous code (workers, CLI)."""
        import duckdb

        cursor = self.cursor(reach)
        timer = threading.Timer(self.timeout, cursor.interrupt)
        timer.start()
        try:
            return _guarded(work, cursor)
        except duckdb.InterruptException:
            raise QueryTimeout(
                f"The query ran longer than {self.timeout:g} s (TOUCAN_QUERY_TIMEOUT).",
                details={"timeout_seconds": self.timeout},
            ) from None
        finally:
            timer.cancel()
            cursor.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for db in self._databases.values():
                db.close()
            self._databases.clear()


def _guarded(work: Callable[[duckdb.DuckDBPyConnection], T], cursor: duckdb.DuckDBPyConnection) -> T:
    import duckdb

    try:
        return work(cursor)
    except duckdb.InterruptException:
        raise
    except duckdb.PermissionException as exc:
        # A read outside the query's reach: only SQL that got past the compiler's checks
        # asks for one. The path stays out of the answer (it names the server's folders).
        raise PermissionDenied(
            "The query tried to read a file outside this app's data; it was stopped.",
            details={"engine": type(exc).__name__},
            code=ErrorCode.OUTSIDE_REACH,
        ) from None
    except (
        duckdb.BinderException,
        duckdb.ConversionException,
        duckdb.InvalidInputException,
        duckdb.ParserException,
        duckdb.CatalogException,
        duckdb.OutOfRangeException,
        duckdb.TypeMismatchException,
        duckdb.NotImplementedException,
    ) as exc:
        # Errors in what the request asked for (a missing column, a bad cast): the
        # builder can fix them, so they are 400s with DuckDB's explanation.
        raise ValidationError(
            f"The query failed: {_first_line(exc)}",
            details={"engine": type(exc).__name__},
            code=ErrorCode.QUERY_ERROR,
        ) from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


def fetch_page(
    cursor: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any], limit: int, offset: int
) -> QueryResult:
    """One page of `sql`'s rows, its columns, and the total row count."""
    # One row past the page says whether more follow; only then does the total cost a
    # second, count-only pass (which reads no column it does not filter on). A window
    # `count(*) OVER ()` counted in the same pass but first held every row of the result:
    # a 1,000-row page of a 10 M-row domain took 3.6 s or more and a 370 MiB process peak,
    # against 20 ms and 120 MiB this way.
    # limit and offset are ints (checked by the API): inlined, so queries that cannot take
    # parameters (PIVOT) page too.
    bound = list(params) or None
    relation = cursor.sql(f"SELECT * FROM ({sql}) AS q LIMIT {int(limit) + 1} OFFSET {int(offset)}", params=bound)
    table = relation.to_arrow_table()
    columns = [
        {"name": name, "type": simple_type(str(type_code))}
        for name, type_code in zip(relation.columns, relation.types, strict=True)
    ]
    if table.num_rows > limit or (table.num_rows == 0 and offset > 0):  # more rows, or past the end
        row = cursor.execute(f"SELECT count(*) FROM ({sql}) AS q", bound).fetchone()
        total = int(row[0]) if row else 0
    else:
        total = offset + table.num_rows
    return QueryResult(table.slice(0, limit), columns, total)
