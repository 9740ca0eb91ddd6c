"""Preprocess: the app's data sources → its domains, written as one new version of a stage.

Steps: read every `DATA_SOURCES` entry with `load: true` (uploaded file, URL or connector),
check its `validation`, run the legacy `augment(dfs)` (whitelisted apps only), run the
`PIPELINE` entries in order (declarative pipeline compiled to DuckDB, or an augment.py
function run isolated), then commit the loaded domains in one transaction. A failure at any
step leaves the previous version serving.

Secrets are put only into DATA_PROVIDERS' credential fields (a config stored before that rule
fails here with the 400 it would get now); what the job logs is redacted by its JobContext.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError

from toucan.apps.configs import ConfigKind, DataSource, EtlConfig, Stage, read_config
from toucan.apps.secrets import render_provider_secrets
from toucan.data.domains import (
    DomainStore,
    StagedFile,
    copy_select_to_parquet,
    domain_store_for,
    sql_string,
    write_arrow,
)
from toucan.data.query import compile_request
from toucan.errors import ToucanError
from toucan.etl.builder_code import LEGACY_ENTRY, run_builder_code, top_level_functions
from toucan.etl.readers import copy_to_parquet, parse_options
from toucan.etl.sources import SourceFiles
from toucan.etl.validation import check_source
from toucan.jobs.context import JobContext
from toucan.jobs.failure import JobFailed, details_text

if TYPE_CHECKING:
    import duckdb


def run_preprocess_job(ctx: JobContext) -> None:
    """Job handler for `preprocess`: load the stage's data sources into a new version."""
    if ctx.app_id is None or ctx.stage is None:
        raise JobFailed("A preprocess job needs an app and a stage.")
    Preprocess(ctx, domain_store_for(ctx.settings, ctx.db)).run(ctx.app_id, Stage(ctx.stage))


class Preprocess:
    def __init__(self, ctx: JobContext, store: DomainStore) -> None:
        self.ctx = ctx
        self.store = store
        self.settings = ctx.settings
        self.files = SourceFiles(
            ctx.db, ctx.settings.data_dir, ctx.settings.upload_max_bytes, max_cells=ctx.settings.upload_max_cells
        )

    def run(self, app_id: str, stage: Stage) -> None:
        with self.ctx.db.readonly_session() as session:
            raw_etl = read_config(session, app_id, stage, ConfigKind.ETL)
            augment = read_config(session, app_id, stage, ConfigKind.AUGMENT).get("code", "")
        rendered = render_provider_secrets(raw_etl, self.ctx.secrets)
        try:
            etl = EtlConfig.model_validate(rendered)
        except PydanticValidationError as exc:
            raise JobFailed(f"The {stage.value} etl_config is not valid: {exc.errors()[0]['msg']}") from None
        sources = [s for s in etl.DATA_SOURCES if s.load and not s.live_data]
        steps = len(sources) + len(etl.PIPELINE) + 2
        done = 0
        staged: dict[str, StagedFile] = {}
        intermediate: set[str] = set()
        self.ctx.log(f"Preprocess of {app_id} ({stage.value}): {len(sources)} data sources, {len(etl.PIPELINE)} steps.")
        with tempfile.TemporaryDirectory(prefix="toucan-preprocess-") as tmp:
            work = Path(tmp)
            for index, source in enumerate(etl.DATA_SOURCES):
                if not source.load or source.live_data:
                    continue
                staged[source.domain] = self._load_source(app_id, index, source, etl, work)
                done += 1
                self.ctx.progress(100 * done / steps)
            functions = top_level_functions(augment) if augment else set()
            if LEGACY_ENTRY in functions:
                staged.update(self._legacy_augment(app_id, augment, staged, work))
            done += 1
            self.ctx.progress(100 * done / steps)
            for index, entry in enumerate(etl.PIPELINE):
                where = f"PIPELINE[{index}] ({entry.output_domain})"
                missing = [d for d in entry.input_domains if d not in staged]
                if missing:
                    raise JobFailed(
                        f"{where}: input domains {', '.join(map(repr, missing))} are not loaded by an earlier "
                        "data source or step.",
                    )
                inputs = {d: self.store.path(app_id, staged[d].file) for d in entry.input_domains}
                if entry.pipeline is not None:
                    self.ctx.log(f"{where}: pipeline of {len(entry.pipeline)} steps")
                    staged[entry.output_domain] = self._run_pipeline(app_id, where, entry.pipeline, staged)
                else:
                    self.ctx.log(f"{where}: augment.py function {entry.function_name}()")
                    if not augment:
                        raise JobFailed(f"{where}: names function {entry.function_name!r} but there is no augment.py.")
                    outputs = run_builder_code(
                        augment,
                        self.settings,
                        inputs=inputs,
                        function_name=entry.function_name,
                        output_domain=entry.output_domain,
                        workdir=work / f"step-{index}",
                    )
                    staged[entry.output_domain] = self._stage_parquet(app_id, outputs[entry.output_domain])
                if entry.load:
                    intermediate.discard(entry.output_domain)
                else:
                    intermediate.add(entry.output_domain)
                done += 1
                self.ctx.progress(100 * done / steps)
        loaded = {name: file for name, file in staged.items() if name not in intermediate}
        snapshot = self.store.commit(app_id, stage, loaded, replace_all=True, author=self.ctx.author)
        summary = ", ".join(f"{name} ({snapshot.domains[name].rows} rows)" for name in sorted(loaded))
        self.ctx.log(f"Wrote {len(loaded)} domains to {stage.value}: {summary or 'none'}.")

    # --- steps -----------------------------------------------------------------------------

    def _load_source(self, app_id: str, index: int, source: DataSource, etl: EtlConfig, work: Path) -> StagedFile:
        where = f"DATA_SOURCES[{index}] ({source.domain})"
        options = parse_options(source.model_dump(), f"etl_config {where}")
        try:
            if source.file:
                path = self.files.path_of(app_id, source.file)
                if path is None:
                    raise JobFailed(
                        f"{where}: the file {source.file!r} was not uploaded. "
                        "Upload it under Data sources on the app's data page, then run preprocess again."
                    )
                self.ctx.log(f"{where}: reading {source.file}")
                name = source.file
                staged = self._stage(
                    app_id,
                    lambda conn, target: copy_to_parquet(
                        conn, path, target, name, options, max_cells=self.settings.upload_max_cells
                    ),
                )
            elif source.name:  # a DATA_PROVIDERS entry: its connector reads `url`, `query`…
                staged = self._from_connector(app_id, where, source, etl)
            elif source.url:
                from toucan.connectors.network import display_url, fetch_url

                # Without its query string or credentials: a token in the URL stays out of the log.
                self.ctx.log(f"{where}: downloading {display_url(source.url)}")
                target = work / f"url-{index}{Path(source.url.split('?')[0]).suffix[:16]}"
                target.write_bytes(fetch_url(source.url, self.settings).content)
                name = Path(source.url.split("?")[0]).name or "download"
                staged = self._stage(
                    app_id,
                    lambda conn, out: copy_to_parquet(
                        conn, target, out, name, options, max_cells=self.settings.upload_max_cells
                    ),
                )
            else:
                raise JobFailed(f"{where}: give 'file' (an uploaded file), 'url', or 'name' (a DATA_PROVIDERS entry).")
        except ToucanError as exc:
            raise JobFailed(f"{where}: {exc.message}", details_text(exc)) from None
        report = check_source(self.store.path(app_id, staged.file), source.validation, staged.columns, staged.rows)
        if report:
            raise JobFailed(f"{where}: validation failed: " + "; ".join(report), "\n".join(report))
        self.ctx.log(f"{where}: {staged.rows} rows, {len(staged.columns)} columns")
        return staged

    def _from_connector(self, app_id: str, where: str, source: DataSource, etl: EtlConfig) -> StagedFile:
        from toucan.connectors.registry import build_connector

        provider = next((p for p in etl.DATA_PROVIDERS if p.name == source.name), None)
        if provider is None:
            raise JobFailed(
                f"{where}: no DATA_PROVIDERS entry is named {source.name!r}.",
            )
        connector = build_connector(
            provider.model_dump(),
            self.settings,
            timeout=self.settings.job_time_limit,
            secrets=self.ctx.secrets.values(),
        )
        # Only the connector's fields, as written: how the load is checked is preprocess's business.
        parsed = connector.parse_source(source.model_dump(exclude_unset=True, exclude={"validation"}))
        self.ctx.log(f"{where}: querying {provider.type} provider {provider.name!r}")
        # Batch by batch from the connector into the domain file: a source larger than memory loads.
        with connector, connector.stream(parsed) as rows:
            return self._stage(app_id, lambda conn, target: write_arrow(conn, rows, target))

    def _legacy_augment(self, app_id: str, code: str, staged: dict[str, StagedFile], work: Path) -> dict[str, Any]:
        if app_id not in self.settings.old_augment_whitelist:
            raise JobFailed(
                "augment.py defines the legacy augment(dfs), and this app is not in TOUCAN_OLD_AUGMENT_WHITELIST: "
                "write it as PIPELINE steps."
            )
        self.ctx.log("augment(dfs) (legacy, whitelisted app)")
        inputs = {name: self.store.path(app_id, file.file) for name, file in staged.items()}
        outputs = run_builder_code(
            code, self.settings, inputs=inputs, function_name=None, output_domain=None, workdir=work / "legacy"
        )
        return {name: self._stage_parquet(app_id, path) for name, path in outputs.items()}

    def _run_pipeline(
        self, app_id: str, where: str, pipeline: list[dict[str, Any]], staged: dict[str, StagedFile]
    ) -> StagedFile:
        def resolve(domain: str) -> str:
            if domain not in staged:
                raise JobFailed(f"{where}: the pipeline reads domain {domain!r}, which is not loaded before it.")
            return f"read_parquet({sql_string(str(self.store.path(app_id, staged[domain].file)))})"

        try:
            compiled = compile_request(
                pipeline, resolve_domain=resolve, row_filters={}, max_depth=self.settings.max_nesting_depth
            )
        except ToucanError as exc:
            raise JobFailed(f"{where}: {exc.message}", details_text(exc)) from None

        def write(conn: duckdb.DuckDBPyConnection, target: Path) -> None:
            try:
                copy_select_to_parquet(conn, compiled.sql, target, compiled.params)
            except Exception as exc:
                raise JobFailed(f"{where}: {_engine_message(exc)}") from None

        # The pipeline may hold a builder's customsql: it reads the files of the domains
        # loaded before it, and nothing else (see data/engine.py `confine`).
        reads = [self.store.path(app_id, staged[domain].file) for domain in compiled.domains]
        return self.store.stage_file(app_id, write, reads=reads)

    def _stage_parquet(self, app_id: str, path: Path) -> StagedFile:
        def write(conn: duckdb.DuckDBPyConnection, target: Path) -> None:
            shutil.copyfile(path, target)

        return self._stage(app_id, write)

    def _stage(self, app_id: str, write: Callable[[duckdb.DuckDBPyConnection, Path], None]) -> StagedFile:
        return self.store.stage_file(app_id, write)


def _engine_message(exc: Exception) -> str:
    """DuckDB's first line, but never a path outside the pipeline's reach."""
    import duckdb

    if isinstance(exc, duckdb.PermissionException):
        return "the pipeline tried to read a file outside this app's data; it was stopped."
    return str(exc).splitlines()[0][:500]
