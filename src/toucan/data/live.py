"""Live data: a data source with `live_data: true` is read through its connector when a data
request needs it, instead of being loaded by preprocess.

The rows are fetched into a Parquet file under `<data dir>/live/`, kept for the source's
`cache_ttl` (TOUCAN_CACHE_TTL_SECONDS when not given), and queried by DuckDB like a loaded
domain, so data permissions, pipelines and Mongo-style requests apply unchanged. A source that
speaks SQL runs its own `query` (or reads its `table`) on the database. A slow source fails
after TOUCAN_CONNECTOR_TIMEOUT with a clear error; the fetch runs in the request's worker
thread, so other requests go on.

Only the provider's credential fields get the app's secrets (a source with a reference
anywhere else is refused with the 400 the config would get when stored), and the errors of a
fetch leave here with the secret values hidden: the one place a request uses them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toucan.apps.configs import EtlConfig, Stage
from toucan.apps.secrets import AppSecrets, MisplacedSecret, misplaced_secrets, render_secrets
from toucan.data.domains import sql_string, write_arrow
from toucan.data.query import CompiledQuery
from toucan.db.engine import Database
from toucan.errors import ToucanError, ValidationError
from toucan.redaction import Redactor
from toucan.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

# Keys of a DATA_SOURCES entry that are about loading, not about the connector.
_LOADING_KEYS = {"validation"}
_MARKER_PREFIX = "live-domain:"
_MARKER = re.compile(r"read_parquet\('" + _MARKER_PREFIX + r"([0-9a-f]*)'\)")


class _NoPushdown(Exception):
    """The query cannot be written in the source's dialect."""


def marker(domain: str) -> str:
    """What a compiled query reads for a live domain until `finalize` replaces it."""
    return _MARKER_PREFIX + domain.encode().hex()


def pushdown_sql(sql: str, params: list[Any], marker_path: str, source_sql: str, dialect: str) -> str | None:
    """`sql` (DuckDB, `?` parameters) rewritten for the source: parameters inlined as literals,
    the live domain's read replaced by the source's own query. None when it cannot be."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    try:
        # `?` are bound by position in the text: replace them in text order, as literals.
        tokens = [t for t in Dialect.get_or_raise("duckdb").tokenize(sql) if t.token_type == TokenType.PLACEHOLDER]
        if len(tokens) != len(params):
            return None
        for token, value in reversed(list(zip(tokens, params, strict=True))):
            sql = sql[: token.start] + exp.convert(value).sql(dialect="duckdb") + sql[token.end + 1 :]
        tree = sqlglot.parse_one(sql, read="duckdb")
        source = sqlglot.parse_one(source_sql, read=dialect)
        reads = [t for t in tree.find_all(exp.Table) if isinstance(t.this, exp.ReadParquet)]
        if len(reads) != 1 or reads[0].this.expressions[0].name != marker_path:
            return None
        reads[0].replace(exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier("live_source"))))
        return tree.sql(dialect=dialect)
    except Exception:  # sqlglot cannot parse or write it: DuckDB runs it instead
        return None


def _source_sql(source: Any, dialect: str) -> str:
    from toucan.connectors.sql import table_sql

    query = getattr(source, "query", None)
    if query:
        return str(query)
    return table_sql(str(source.table), None, dialect)


@dataclass(frozen=True)
class LiveSource:
    domain: str
    # None when DATA_PROVIDERS does not declare the source's provider: an error when it is read.
    provider: dict[str, Any] | None
    source: dict[str, Any]
    ttl: float
    # A `{{ secrets.x }}` in the source or outside its provider's credential fields (a config
    # stored before secrets were confined): reading the source is refused with its 400.
    misplaced: MisplacedSecret | None = None

    def checked_provider(self) -> dict[str, Any]:
        if self.misplaced is not None:
            raise self.misplaced.error()
        if self.provider is None:
            raise ValidationError(
                f"The live data source of domain {self.domain!r} names the provider {self.source.get('name')!r}, "
                "which DATA_PROVIDERS does not declare.",
                details={"domain": self.domain, "provider": self.source.get("name")},
            )
        return self.provider

    @property
    def key(self) -> str:
        """Changes whenever the provider or the source definition changes."""
        text = json.dumps([self.provider, self.source], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


class LiveSources:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.root = settings.data_dir / "live"
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def folder(self, app_id: str, stage: Stage) -> Path:
        """Where the live fetches of one app and stage lie (all a query on them may read)."""
        return self.root / app_id / stage.value

    def parse(self, etl: EtlConfig) -> dict[str, LiveSource]:
        """The `live_data: true` sources of an etl_config, by domain."""
        providers: dict[str, tuple[int, dict[str, Any]]] = {}
        for index, provider_entry in enumerate(etl.DATA_PROVIDERS):
            providers.setdefault(provider_entry.name, (index, provider_entry.model_dump(exclude_unset=True)))
        misplaced = misplaced_secrets(etl.model_dump(exclude_unset=True))
        found: dict[str, LiveSource] = {}
        for index, entry in enumerate(etl.DATA_SOURCES):
            domain = entry.domain
            if not entry.live_data or domain in found:
                continue
            ttl_seconds = float(entry.cache_ttl if entry.cache_ttl is not None else self.settings.cache_ttl_seconds)
            source = entry.model_dump(exclude_unset=True, exclude=_LOADING_KEYS)
            provider_index, provider = providers.get(entry.name or "", (None, None))
            mine = {("DATA_SOURCES", index), ("DATA_PROVIDERS", provider_index)}
            refused = next((m for m in misplaced if m.path[:2] in mine), None)
            found[domain] = LiveSource(domain, provider, source, ttl_seconds, refused)
        return found

    def finalize(
        self, app_id: str, stage: Stage, compiled: CompiledQuery, sources: Mapping[str, LiveSource]
    ) -> CompiledQuery:
        """Replace the live-domain markers of a compiled query by data (`sources`: the stage's
        live sources, from `parse`).

        A query on one live domain of a SQL source is pushed down: it runs on the source, in
        its dialect, and only its answer comes back. Otherwise (or when the source rejects the
        translated SQL) each live domain is fetched whole and DuckDB runs the query.
        """
        found = {bytes.fromhex(code).decode() for code in _MARKER.findall(compiled.sql)}
        if not found:
            return compiled
        for domain in found:  # before a cached fetch is served, too
            refused = sources[domain].misplaced if domain in sources else None
            if refused is not None:
                raise refused.error()
        if len(found) == 1 and not compiled.uses_raw_sql and "read_parquet(" not in _MARKER.sub("", compiled.sql):
            domain = next(iter(found))
            pushed = self._pushdown(app_id, stage, sources.get(domain), compiled)
            if pushed is not None:
                return CompiledQuery(
                    f"SELECT * FROM read_parquet({sql_string(str(pushed))})", [], compiled.domains, False
                )
        sql = compiled.sql
        for domain in found:
            live = sources.get(domain)
            if live is None:
                raise ValidationError(f"Domain {domain!r} is no longer a live data source.", details={"domain": domain})
            path = self._cached(app_id, stage, live, live.key, lambda connector, source: connector.fetch(source))
            sql = sql.replace(sql_string(marker(domain)), sql_string(str(path)))
        return CompiledQuery(sql, compiled.params, compiled.domains, compiled.uses_raw_sql)

    def _pushdown(self, app_id: str, stage: Stage, live: LiveSource | None, compiled: CompiledQuery) -> Path | None:
        from toucan.connectors.base import SourceQueryError
        from toucan.connectors.registry import get_connector_class
        from toucan.connectors.sql import SqlConnector

        if live is None:
            return None
        domain = live.domain
        try:
            if not issubclass(get_connector_class(str(live.checked_provider().get("type"))), SqlConnector):
                return None
        except ToucanError:
            return None
        key = hashlib.sha256(json.dumps([live.key, compiled.sql, compiled.params], default=str).encode()).hexdigest()[
            :32
        ]

        def run(connector: Any, source: Any) -> pa.Table:
            sql = pushdown_sql(
                compiled.sql, compiled.params, marker(domain), _source_sql(source, connector.dialect), connector.dialect
            )
            if sql is None:
                raise _NoPushdown
            return connector.fetch_sql(sql, parameters=dict(source.parameters))

        try:
            return self._cached(app_id, stage, live, f"q-{key}", run)
        except (_NoPushdown, SourceQueryError):
            return None

    def _cached(
        self, app_id: str, stage: Stage, live: LiveSource, key: str, fetch: Callable[[Any, Any], pa.Table]
    ) -> Path:
        directory = self.folder(app_id, stage) / live.key / key
        with self._lock(str(directory)):
            current = _newest(directory)
            if current is not None and time.time() - current.stat().st_mtime < live.ttl:
                return current
            fresh = self._fetch(app_id, live, directory, fetch)
            _remove_older(directory, keep=fresh)
            return fresh

    def _fetch(self, app_id: str, live: LiveSource, directory: Path, fetch: Callable[[Any, Any], pa.Table]) -> Path:
        from toucan.connectors.base import ConnectorError
        from toucan.connectors.registry import build_connector

        checked = live.checked_provider()
        secrets = AppSecrets(self.db, self.settings.resolved_secret_key()).values(app_id)
        provider = render_secrets(checked, secrets, "etl_config.DATA_PROVIDERS")
        redact = Redactor(secrets.values())
        try:
            connector = build_connector(provider, self.settings, secrets=secrets.values())
            with connector:
                table = fetch(connector, connector.parse_source(live.source))
        except ToucanError as exc:
            exc.message = redact(f"Live data source {live.domain!r}: {exc.message}")
            exc.details = redact.value(exc.details)
            raise
        except _NoPushdown:
            raise
        except Exception as exc:  # a driver's own error: its text may hold a credential too
            log.error("live data source %r of %s failed\n%s", live.domain, app_id, redact(traceback.format_exc()))
            raise ConnectorError(
                f"Live data source {live.domain!r}: the connector failed ({type(exc).__name__}); "
                "the server log has the details."
            ) from None
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = directory / f".{target.name}.tmp"
        import duckdb

        conn = duckdb.connect(":memory:")
        try:
            write_arrow(conn, table, tmp)
        finally:
            conn.close()
        os.replace(tmp, target)
        return target

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())


def _newest(directory: Path) -> Path | None:
    if not directory.is_dir():
        return None
    files = sorted(p for p in directory.glob("*.parquet"))
    return files[-1] if files else None


def _remove_older(directory: Path, keep: Path, grace: float = 300.0) -> None:
    """Drop fetches replaced more than `grace` seconds ago (queries may still read recent ones)."""
    now = time.time()
    for path in directory.glob("*.parquet"):
        if path != keep and now - path.stat().st_mtime > grace:
            path.unlink(missing_ok=True)


def collect_live_garbage(data_dir: Path, max_age: float = 86400.0) -> int:
    """Delete live fetches older than `max_age` seconds (and empty folders); returns how many files."""
    root = data_dir / "live"
    if not root.is_dir():
        return 0
    now = time.time()
    removed = 0
    for path in sorted(root.rglob("*.parquet")):
        try:
            if now - path.stat().st_mtime > max_age:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty
    return removed
