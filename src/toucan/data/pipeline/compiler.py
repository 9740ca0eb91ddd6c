"""Compile a weaverbird pipeline into ONE DuckDB query: a chain of CTEs, no materialisation.

The pipeline is validated into step models first (data/pipeline/registry.py), then each step
reads the previous CTE and adds its own, through its compile function in the registry. Values
are bound parameters, names are quoted identifiers; domains are read through the caller's
resolver with the caller's row filter applied, on every read (joins, appends and raw SQL
included): see data/pipeline/builder.py.
"""

from __future__ import annotations

from typing import Any

from toucan.data.pipeline.builder import Compiled, DomainResolver, QueryBuilder, RowFilters
from toucan.data.pipeline.registry import REGISTRY, check_nesting, parse_pipeline
from toucan.data.pipeline.sql import Frag
from toucan.data.pipeline.step import Here, Rows, Step

__all__ = ["Compiled", "PipelineCompiler"]


class PipelineCompiler:
    def __init__(self, resolve_domain: DomainResolver, row_filters: RowFilters, max_depth: int) -> None:
        self.q = QueryBuilder(resolve_domain, row_filters, max_depth)

    def compile(self, pipeline: list[Any]) -> Compiled:
        """The SQL of a pipeline (JSON); a 400 naming the step when it is not valid."""
        check_nesting(pipeline, self.q.max_depth)
        return self.compile_steps(parse_pipeline(pipeline))

    def compile_steps(self, steps: list[Step] | str) -> Compiled:
        """The SQL of a validated pipeline."""
        rows = self.pipeline(steps, ())
        final = Frag(f"SELECT * FROM {rows.table}")
        if rows.order is not None:
            final = final + " ORDER BY " + rows.order
        return self.q.finish(final)

    def pipeline(self, steps: list[Step] | str, path: tuple[int, ...]) -> Rows:
        """The rows of a (nested) pipeline: its first step is a domain; `path` locates it."""
        if isinstance(steps, str):  # a bare domain name, as append/join allow
            return Rows(self.q.domain_source(steps))
        rows = REGISTRY["domain"].compile(self, steps[0], Rows(""), Here((*path, 0) if path else 0, "domain"))
        for index, step in enumerate(steps[1:], start=1):
            kind = REGISTRY[step.name]
            rows = kind.compile(self, step, rows, Here((*path, index) if path else index, step.name))
        return rows
