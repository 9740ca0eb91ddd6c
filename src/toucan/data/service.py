"""The data path: a data request → permissions → one SQL query → cached JSON rows.

Called by the HTTP layer (`/data`, `/query/preview`, downloads) and by workers alike.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from toucan.apps.configs import ConfigKind, Stage, read_config
from toucan.auth.identity import Identity
from toucan.auth.roles import AppPrivilege
from toucan.data import permissions
from toucan.data.cache import ResultCache, cache_key, make_cache
from toucan.data.domains import DomainStore, Snapshot, sql_string
from toucan.data.engine import QueryEngine, fetch_page
from toucan.data.query import CompiledQuery, compile_request
from toucan.data.templating import render
from toucan.db.engine import Database
from toucan.errors import PermissionDenied
from toucan.settings import Settings

PREVIEW_ROWS = 50


class DataRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Any = Field(description="A pipeline (list of steps) or a Mongo-style query")
    variables: dict[str, Any] = Field(default_factory=dict)
    limit: int | None = Field(default=None, ge=0)
    offset: int = Field(default=0, ge=0)


@dataclass
class DataService:
    db: Database
    store: DomainStore
    # The engine starts with the first query: DuckDB and Arrow stay out of start-up and of
    # the memory of workers that never query.
    engine_factory: Callable[[], QueryEngine]
    cache: ResultCache
    max_rows: int
    _engine: QueryEngine | None = field(default=None, init=False, repr=False)
    _engine_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def engine(self) -> QueryEngine:
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    self._engine = self.engine_factory()
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()

    # --- compiling ---------------------------------------------------------------------

    def _rules(self, app_id: str, stage: Stage) -> list[permissions.PermissionRule]:
        with self.db.readonly_session() as session:
            return permissions.parse_rules(read_config(session, app_id, stage, ConfigKind.ETL))

    def compile(
        self, app_id: str, stage: Stage, identity: Identity, query: Any, variables: dict[str, Any]
    ) -> tuple[Snapshot, CompiledQuery, dict[str, permissions.RowFilter]]:
        """Template, check and compile a request against the stage's current domains."""
        snapshot = self.store.snapshot(app_id, stage)
        rules = self._rules(app_id, stage)
        user_vars = identity.template_variables()
        filters: dict[str, permissions.RowFilter] = {}
        for name in snapshot.domains:
            rf = permissions.row_filter(rules, name, identity)
            if rf.conditions:  # conditions may use the user's attributes
                rf = permissions.RowFilter(
                    see_all=False,
                    conditions=tuple(render(list(rf.conditions), {"user": user_vars})),
                )
            filters[name] = rf
        rendered = render(query, {**variables, "user": user_vars})

        def resolve(domain: str) -> str:
            return f"read_parquet({sql_string(str(snapshot.get(domain).path))})"

        compiled = compile_request(rendered, resolve_domain=resolve, row_filters=filters)
        if compiled.uses_raw_sql and not identity.can(app_id, AppPrivilege.CONTRIBUTE):
            raise PermissionDenied(
                "customsql and custom steps are for contributors only.",
                details={"privilege": AppPrivilege.CONTRIBUTE.value},
            )
        return snapshot, compiled, filters

    # --- querying ----------------------------------------------------------------------

    async def query(
        self,
        app_id: str,
        stage: Stage,
        identity: Identity,
        request: DataRequest,
        *,
        default_limit: int | None = None,
    ) -> bytes:
        """The JSON answer of `/data`: `{"data", "columns", "total", "truncated"}`."""
        # Compiling reads metadata (stage head, rules): off the event loop, like the query.
        snapshot, compiled, filters = await run_in_threadpool(
            self.compile, app_id, stage, identity, request.query, request.variables
        )
        wanted = request.limit if request.limit is not None else (default_limit or self.max_rows)
        limit = min(wanted, self.max_rows)
        key = cache_key(
            app_id,
            stage.value,
            snapshot.version_id,
            compiled.sql,
            compiled.params,
            {k: (v.see_all, v.conditions) for k, v in sorted(filters.items())},
            limit,
            request.offset,
        )
        cached = self.cache.get(key)
        if cached is not None:
            return cached

        def work(cursor: Any) -> bytes:
            result = fetch_page(cursor, compiled.sql, compiled.params, limit, request.offset)
            rows = result.table.to_pylist()
            body = {
                "data": rows,
                "columns": result.columns,
                "total": result.total,
                "truncated": request.offset + len(rows) < result.total,
            }
            return orjson.dumps(body, default=_json_default, option=orjson.OPT_NON_STR_KEYS)

        payload = await self.engine.run(work)
        self.cache.set(key, payload)
        return payload


def build_data_service(settings: Settings, db: Database) -> DataService:
    """The data service of one process, from the settings."""
    # Versions stay readable well past the longest query that could have started on them.
    grace = timedelta(seconds=max(60.0, settings.query_timeout * 4))
    return DataService(
        db=db,
        store=DomainStore(db, settings.data_dir, grace, memory_mb=settings.duckdb_memory_mb),
        engine_factory=lambda: QueryEngine(
            settings.query_workers,
            settings.query_timeout,
            settings.duckdb_memory_mb,
            settings.data_dir / "tmp" / "duckdb",
        ),
        cache=make_cache(settings.redis_url, settings.cache_max_mb, settings.cache_ttl_seconds),
        max_rows=settings.data_max_rows,
    )


class DownloadFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


async def export_domain(
    service: DataService,
    app_id: str,
    stage: Stage,
    identity: Identity,
    domain: str,
    fmt: DownloadFormat,
) -> Path:
    """Write a domain, with the caller's data permissions applied, to a temporary file."""
    _snapshot, compiled, _ = await run_in_threadpool(
        service.compile, app_id, stage, identity, [{"name": "domain", "domain": domain}], {}
    )
    out = Path(tempfile.mkstemp(prefix="toucan-export-", suffix=f".{fmt.value}")[1])
    options = {
        DownloadFormat.CSV: "FORMAT csv, HEADER true",
        DownloadFormat.JSON: "FORMAT json, ARRAY true",
        DownloadFormat.PARQUET: "FORMAT parquet, COMPRESSION zstd",
    }[fmt]

    def work(cursor: Any) -> None:
        # COPY takes no parameters: bind them through a prepared view of the query.
        cursor.execute(f"CREATE TEMP TABLE export_rows AS {compiled.sql}", compiled.params)
        cursor.execute(f"COPY export_rows TO {sql_string(str(out))} ({options})")
        cursor.execute("DROP TABLE export_rows")

    try:
        await service.engine.run(work)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def stage_read_privilege(stage: Stage) -> AppPrivilege:
    """Viewers query production; staging needs `validate` (builders and validators)."""
    return AppPrivilege.VIEW if stage is Stage.PRODUCTION else AppPrivilege.VALIDATE
