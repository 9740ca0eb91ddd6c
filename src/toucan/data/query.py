"""One entry point for data requests: pipelines and Mongo-style queries → one SQL query."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toucan.data.mongo import MongoCompiler
from toucan.data.permissions import RowFilter
from toucan.data.pipeline.compiler import PipelineCompiler
from toucan.data.pipeline.conditions import condition_sql
from toucan.data.pipeline.registry import check_nesting, parse_pipeline
from toucan.data.pipeline.sql import Frag, join
from toucan.errors import ValidationError


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    params: list[Any]
    domains: set[str] = field(default_factory=set)
    uses_raw_sql: bool = False


def is_pipeline(request: Any) -> bool:
    return isinstance(request, list) and bool(request) and isinstance(request[0], dict) and "name" in request[0]


def _filters(row_filters: Mapping[str, RowFilter | Frag | None]) -> dict[str, Frag | None]:
    """Permission filters as SQL: see-all → None, see-nothing → FALSE, else OR of conditions."""
    out: dict[str, Frag | None] = {}
    for domain, rf in row_filters.items():
        if rf is None or isinstance(rf, Frag):
            out[domain] = rf
        elif rf.see_all:
            out[domain] = None
        elif not rf.conditions:
            out[domain] = Frag("FALSE")
        else:
            where = {"permission": domain}
            out[domain] = "(" + join([condition_sql(c, where) for c in rf.conditions], " OR ") + ")"
    return out


def compile_request(
    request: Any,
    *,
    resolve_domain: Callable[[str], str],
    row_filters: Mapping[str, RowFilter | Frag | None],
) -> CompiledQuery:
    """Compile a pipeline (list of steps) or a Mongo-style query (object or stage list)."""
    check_nesting(request)  # before anything recurses into it
    filters = _filters(row_filters)
    if is_pipeline(request):
        compiled = PipelineCompiler(resolve_domain, filters).compile_steps(parse_pipeline(request))
    elif isinstance(request, dict) or (isinstance(request, list) and request and isinstance(request[0], dict)):
        compiled = MongoCompiler(resolve_domain, filters).compile_mongo(request)
    else:
        raise ValidationError(
            "'query' must be a pipeline (a list of steps starting with a domain step) or a "
            "Mongo-style query (an object, or a list of stages starting with $match).",
            details={"field": "query"},
        )
    return CompiledQuery(compiled.sql, compiled.params, compiled.domains, compiled.uses_raw_sql)
