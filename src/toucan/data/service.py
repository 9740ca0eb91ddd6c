"""The data path: a data request → permissions → one SQL query → cached JSON rows.

Called by the HTTP layer (`/data`, `/query/preview`, downloads) and by workers alike.

A cached answer costs one small read of the metadata database (besides the caller's token):
the app's row with its stage head and the version of its ETL config. Per process, the
domains and permission rules of a stage are kept while that head and version hold, and
compiled requests are kept by everything their SQL depends on — so new data, a changed
rule or a changed caller never reuse them, and nothing goes stale between processes.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, bindparam, select
from starlette.concurrency import run_in_threadpool

from toucan.apps.configs import ConfigKind, Stage, parse_etl
from toucan.apps.small_apps import check_app_access
from toucan.auth.identity import Identity
from toucan.auth.roles import AppPrivilege
from toucan.data import permissions
from toucan.data.cache import Memo, ResultCache, cache_key, make_cache
from toucan.data.domains import DomainStore, Snapshot, domain_store_for, sql_string
from toucan.data.engine import QueryEngine, Reach, fetch_page
from toucan.data.live import LiveSource, LiveSources
from toucan.data.live import marker as live_marker
from toucan.data.pipeline.registry import check_nesting
from toucan.data.query import DEFAULT_MAX_DEPTH, CompiledQuery, compile_request
from toucan.data.reads import RequestReads, Statement
from toucan.db.domain_models import StageHead
from toucan.db.engine import Database
from toucan.db.models import AppConfig, SmallApp
from toucan.errors import NotFound, PermissionDenied
from toucan.metrics import QueryObserver
from toucan.settings import Settings
from toucan.templating import render

PREVIEW_ROWS = 50


class DataRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Any = Field(description="A pipeline (list of steps) or a Mongo-style query")
    variables: dict[str, Any] = Field(default_factory=dict)
    limit: int | None = Field(default=None, ge=0)
    offset: int = Field(default=0, ge=0)


# An ETL config row is identified by its id, version and update time: a rewrite bumps the
# version, and a re-created app's config has another update time even if SQLite reuses the id.
RulesStamp = tuple[int, int, datetime]
Rules = tuple[permissions.PermissionRule, ...]


@dataclass(frozen=True)
class Stamps:
    """What says whether a stage's domains and rules changed: its head and its ETL config row."""

    head: str | None
    rules: RulesStamp | None


@dataclass(frozen=True)
class StageState:
    """The domains and permission rules of one app and stage, with the stamps they were read at."""

    snapshot: Snapshot
    rules_stamp: RulesStamp | None
    rules: Rules
    # The `live_data` sources, by domain: read through their connector at request time.
    live: Mapping[str, LiveSource] = field(default_factory=dict)

    @property
    def stamps(self) -> Stamps:
        return Stamps(self.snapshot.version_id, self.rules_stamp)


@dataclass(frozen=True)
class Plan:
    """A compiled data request and the key of its cached answer."""

    snapshot: Snapshot
    compiled: CompiledQuery
    cache_key: str
    # The files its query may read: the stage's domain files (and live fetches), nothing else.
    reach: Reach
    # Reads live data: its answer depends on when it runs, so it is never memoised.
    live: bool = False


_STAGE_STAMP: Statement = (
    select(SmallApp.id, StageHead.version_id, AppConfig.id, AppConfig.version, AppConfig.updated_at)
    .select_from(SmallApp)
    .outerjoin(StageHead, and_(StageHead.app_id == SmallApp.id, StageHead.stage == bindparam("stage")))
    .outerjoin(
        AppConfig,
        and_(
            AppConfig.app_id == SmallApp.id,
            AppConfig.stage == bindparam("stage"),
            AppConfig.kind == ConfigKind.ETL.value,
        ),
    )
    .where(SmallApp.id == bindparam("app_id"))
)

_RULES: Statement = select(AppConfig.id, AppConfig.version, AppConfig.updated_at, AppConfig.content).where(
    AppConfig.app_id == bindparam("app_id"),
    AppConfig.stage == bindparam("stage"),
    AppConfig.kind == ConfigKind.ETL.value,
)


def _rules_stamp(config_id: int | None, version: int | None, updated_at: datetime | None) -> RulesStamp | None:
    if config_id is None or version is None or updated_at is None:
        return None
    return (config_id, version, updated_at)


@dataclass
class DataService:
    db: Database
    store: DomainStore
    # The engine starts with the first query: DuckDB and Arrow stay out of start-up and of
    # the memory of workers that never query.
    engine_factory: Callable[[], QueryEngine]
    cache: ResultCache
    max_rows: int
    reads: RequestReads
    live: LiveSources | None = None
    max_depth: int = DEFAULT_MAX_DEPTH  # TOUCAN_MAX_NESTING_DEPTH of data requests
    # Cache hits and misses, query times and slow queries (metrics.py); None: not observed.
    observer: QueryObserver | None = None
    _engine: QueryEngine | None = field(default=None, init=False, repr=False)
    _engine_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _states: Memo[tuple[str, Stage], StageState] = field(default_factory=lambda: Memo(1024), init=False, repr=False)
    _plans: Memo[bytes, Plan] = field(default_factory=lambda: Memo(4096), init=False, repr=False)

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
        self.reads.close()

    # --- metadata ------------------------------------------------------------------------

    def stamps(self, app_id: str, stage: Stage) -> Stamps | None:
        """The stage's head and ETL config version, in one indexed read; None: no such app."""
        row = self.reads.one(_STAGE_STAMP, {"app_id": app_id, "stage": stage.value})
        if row is None:
            return None
        _, head, config_id, version, updated_at = row
        return Stamps(head, _rules_stamp(config_id, version, updated_at))

    def known_state(self, app_id: str, stage: Stage, stamps: Stamps) -> StageState | None:
        """What this process kept of the stage, if it was read at exactly these stamps."""
        known = self._states.get((app_id, stage))
        return known if known is not None and known.stamps == stamps else None

    def read_state(self, app_id: str, stage: Stage, stamps: Stamps) -> StageState:
        """Read again what moved since this process last looked (domain list, rules)."""
        known = self._states.get((app_id, stage))
        # What is read may already be newer than `stamps`: it is kept under its own stamps,
        # so the next request reads it again; never older.
        if known is not None and known.snapshot.version_id == stamps.head:
            snapshot = known.snapshot
        else:
            snapshot = self.store.snapshot(app_id, stage)
        if known is not None and known.rules_stamp == stamps.rules:
            rules_stamp, rules, live = known.rules_stamp, known.rules, known.live
        else:
            rules_stamp, rules, live = self._read_rules(app_id, stage)
        state = StageState(snapshot, rules_stamp, rules, live)
        self._states.set((app_id, stage), state)
        return state

    def stage_state(self, app_id: str, stage: Stage) -> StageState | None:
        """The stage's current domains and rules; None when the app does not exist.

        One indexed read when nothing changed since this process last looked.
        """
        stamps = self.stamps(app_id, stage)
        if stamps is None:
            return None
        return self.known_state(app_id, stage, stamps) or self.read_state(app_id, stage, stamps)

    def _read_rules(self, app_id: str, stage: Stage) -> tuple[RulesStamp | None, Rules, Mapping[str, LiveSource]]:
        row = self.reads.one(_RULES, {"app_id": app_id, "stage": stage.value})
        if row is None:
            return None, (), {}
        config_id, version, updated_at, content = row
        etl = parse_etl(content)
        return (
            _rules_stamp(config_id, version, updated_at),
            tuple(etl.DATA_PERMISSIONS),
            self.live.parse(etl) if self.live is not None else {},
        )

    def reach(self, app_id: str, stage: Stage, state: StageState) -> Reach:
        """What queries on this stage may read: its domain files of the version read, and
        the folder of its live fetches. Another app's files, the data dir and the metadata
        database stay out of reach whatever the SQL says."""
        folders = [self.live.folder(app_id, stage)] if self.live is not None and state.live else []
        return Reach.of((info.path for info in state.snapshot.domains.values()), folders)

    # --- compiling ---------------------------------------------------------------------

    def _compile(
        self, state: StageState, identity: Identity, query: Any, variables: dict[str, Any]
    ) -> tuple[CompiledQuery, dict[str, permissions.RowFilter]]:
        check_nesting(query, self.max_depth)  # before templating recurses into it
        snapshot = state.snapshot
        rules = list(state.rules)
        user_vars = identity.template_variables()
        filters: dict[str, permissions.RowFilter] = {}
        for name in (*snapshot.domains, *state.live):
            rf = permissions.row_filter(rules, name, identity)
            if rf.conditions:  # conditions may use the user's attributes
                rf = permissions.RowFilter(
                    see_all=False,
                    conditions=tuple(render(list(rf.conditions), {"user": user_vars})),
                )
            filters[name] = rf
        rendered = render(query, {**variables, "user": user_vars})

        def resolve(domain: str) -> str:
            if domain not in snapshot.domains and domain in state.live:
                return f"read_parquet({sql_string(live_marker(domain))})"
            return f"read_parquet({sql_string(str(snapshot.get(domain).path))})"

        compiled = compile_request(rendered, resolve_domain=resolve, row_filters=filters, max_depth=self.max_depth)
        return compiled, filters

    def compile(
        self, app_id: str, stage: Stage, identity: Identity, query: Any, variables: dict[str, Any]
    ) -> tuple[CompiledQuery, Reach]:
        """Template, check and compile a request against the stage's current domains; with
        the files its query may read."""
        state = self.stage_state(app_id, stage)
        if state is None:
            raise NotFound(f"Small app {app_id!r} does not exist.", details={"app": app_id})
        compiled, _filters = self._compile(state, identity, query, variables)
        _check_raw_sql(compiled, identity, app_id)
        if self.live is not None and state.live:
            compiled = self.live.finalize(app_id, stage, compiled, state.live)
        return compiled, self.reach(app_id, stage, state)

    def _plan(
        self, app_id: str, stage: Stage, state: StageState, identity: Identity, request: DataRequest, limit: int
    ) -> Plan:
        compiled, filters = self._compile(state, identity, request.query, request.variables)
        live = False
        if self.live is not None and state.live:
            _check_raw_sql(compiled, identity, app_id)  # before anything is fetched
            finalized = self.live.finalize(app_id, stage, compiled, state.live)
            live, compiled = finalized is not compiled, finalized
        key = cache_key(
            app_id,
            stage.value,
            state.snapshot.version_id,
            compiled.sql,
            compiled.params,
            {k: (v.see_all, v.conditions) for k, v in sorted(filters.items())},
            limit,
            request.offset,
        )
        return Plan(state.snapshot, compiled, key, self.reach(app_id, stage, state), live)

    def visible_metadata(self, app_id: str, stage: Stage, identity: Identity) -> dict[str, Any]:
        """`/metadata`: the stage's domains as `identity` may see them — a domain it may see
        no row of is left out, and a filtered one is counted with the filter applied."""
        state = self.stage_state(app_id, stage)
        if state is None:
            raise NotFound(f"Small app {app_id!r} does not exist.", details={"app": app_id})
        rules = list(state.rules)
        domains = []
        reach = self.reach(app_id, stage, state)
        for name, info in state.snapshot.domains.items():
            rf = permissions.row_filter(rules, name, identity)
            if rf.see_nothing:
                continue
            rows = info.rows
            if not rf.see_all:
                compiled, _ = self._compile(state, identity, [{"name": "domain", "domain": name}], {})
                rows = self.engine.run_sync(partial(_count, compiled), reach)
            domains.append({"name": name, "rows": rows, "columns": info.columns})
        return {"stage": stage.value, "version": state.snapshot.version_id, "domains": domains}

    # --- querying ----------------------------------------------------------------------

    async def query(
        self,
        app_id: str,
        stage: Stage,
        identity: Identity,
        request: DataRequest,
        *,
        privilege: AppPrivilege,
        default_limit: int | None = None,
    ) -> bytes:
        """The JSON answer of `/data`: `{"data", "columns", "total", "truncated"}`.

        Checks that the app exists and that `identity` holds `privilege` on it. A request
        compiled before for the same stamps and caller, whose answer is cached, stays on the
        event loop; compiling and querying run in threads.
        """
        # The stamps and the caller's token are read on the event loop (see data/reads.py).
        stamps = self.stamps(app_id, stage)
        check_app_access(identity, app_id, stamps is not None, privilege)
        assert stamps is not None
        state = self.known_state(app_id, stage, stamps)
        if state is None:
            state = await run_in_threadpool(self.read_state, app_id, stage, stamps)
        wanted = request.limit if request.limit is not None else (default_limit or self.max_rows)
        limit = min(wanted, self.max_rows)
        memo_key = _plan_key(app_id, stage, state, identity, request, limit)
        plan = self._plans.get(memo_key) if memo_key is not None else None
        if plan is None:
            plan = await run_in_threadpool(self._plan, app_id, stage, state, identity, request, limit)
            if memo_key is not None and not plan.live:
                self._plans.set(memo_key, plan)
        # Privileges are read on every request: a memoised plan never skips this check.
        _check_raw_sql(plan.compiled, identity, app_id)
        cached = self.cache.get(plan.cache_key)
        if self.observer is not None:
            self.observer.cache(cached is not None)
        if cached is not None:
            return cached
        compiled = plan.compiled

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

        started = time.perf_counter()
        payload = await self.engine.run(work, plan.reach)
        if self.observer is not None:
            self.observer.query(time.perf_counter() - started, app_id=app_id, stage=stage.value, sql=compiled.sql)
        self.cache.set(plan.cache_key, payload)
        return payload


def _plan_key(
    app_id: str, stage: Stage, state: StageState, identity: Identity, request: DataRequest, limit: int
) -> bytes | None:
    """Everything a compiled request depends on, or None when it cannot be serialised exactly.

    The caller's template variables cover what permissions depend on (role, groups,
    attributes); the stamps cover the domains and the rules.
    """
    rules = state.rules_stamp
    parts = [
        app_id,
        stage.value,
        state.snapshot.version_id,
        None if rules is None else [rules[0], rules[1], rules[2].isoformat()],
        identity.template_variables(),
        request.query,
        request.variables,
        limit,
        request.offset,
    ]
    try:
        key = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits
        return None
    # orjson writes NaN and Infinity (which Python's JSON parser accepts) as null: such a key
    # would be shared with null's, so it is checked by reading it back.
    return key if orjson.loads(key) == parts else None


def _count(compiled: CompiledQuery, cursor: Any) -> int:
    row = cursor.execute(f"SELECT count(*) FROM ({compiled.sql}) AS q", compiled.params).fetchone()
    return int(row[0]) if row else 0


def _check_raw_sql(compiled: CompiledQuery, identity: Identity, app_id: str) -> None:
    if compiled.uses_raw_sql and not identity.can(app_id, AppPrivilege.CONTRIBUTE):
        raise PermissionDenied(
            "customsql and custom steps are for contributors only.",
            details={"privilege": AppPrivilege.CONTRIBUTE.value},
        )


def build_data_service(settings: Settings, db: Database) -> DataService:
    """The data service of one process, from the settings."""
    return DataService(
        db=db,
        store=domain_store_for(settings, db),
        engine_factory=lambda: QueryEngine(
            settings.query_workers,
            settings.query_timeout,
            settings.duckdb_memory_mb,
            settings.data_dir / "tmp" / "duckdb",
        ),
        cache=make_cache(
            settings.redis_url,
            settings.cache_max_mb,
            settings.cache_ttl_seconds,
            settings.redis_sentinel_password,
        ),
        max_rows=settings.data_max_rows,
        live=LiveSources(db, settings),
        reads=RequestReads(db),
        max_depth=settings.max_nesting_depth,
        observer=QueryObserver(settings.slow_query_ms),
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
    compiled, reach = await run_in_threadpool(
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
        # Written in place (no temporary file beside it): the output is all this database may write.
        cursor.execute(f"COPY export_rows TO {sql_string(str(out))} ({options}, USE_TMP_FILE false)")
        cursor.execute("DROP TABLE export_rows")

    try:
        await service.engine.run(work, reach + Reach.of([out]), keep=False)
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
