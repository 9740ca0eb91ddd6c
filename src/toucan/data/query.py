"""One entry point for data requests: pipelines and Mongo-style queries → one SQL query."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toucan.data.mongo import MongoCompiler
from toucan.data.permissions import RowFilter
from toucan.data.pipeline.compiler import PipelineCompiler
from toucan.data.pipeline.conditions import condition_sql
from toucan.data.pipeline.registry import parse_pipeline
from toucan.data.pipeline.sql import Frag, join
from toucan.errors import ValidationError
from toucan.nesting import check_value, too_deep
from toucan.settings import Settings

# TOUCAN_MAX_NESTING_DEPTH's default, for callers without settings (tests, benchmarks).
DEFAULT_MAX_DEPTH: int = Settings.model_fields["max_nesting_depth"].default


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    params: list[Any]
    domains: set[str] = field(default_factory=set)
    uses_raw_sql: bool = False


def is_pipeline(request: Any) -> bool:
    return isinstance(request, list) and bool(request) and isinstance(request[0], dict) and "name" in request[0]


def _filters(row_filters: Mapping[str, RowFilter | Frag | None], max_depth: int) -> dict[str, Frag | None]:
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
            check_value(list(rf.conditions), max_depth, f"The row rules of the domain {domain!r}")
            where = {"permission": domain}
            out[domain] = "(" + join([condition_sql(c, where) for c in rf.conditions], " OR ") + ")"
    return out


def compile_request(
    request: Any,
    *,
    resolve_domain: Callable[[str], str],
    row_filters: Mapping[str, RowFilter | Frag | None],
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> CompiledQuery:
    """Compile a pipeline (list of steps) or a Mongo-style query (object or stage list).

    The compilers recurse into nested pipelines (append, join), conditions (and, or) and
    formulas: a request nested deeper than `max_depth` (TOUCAN_MAX_NESTING_DEPTH) is refused
    with a 400 naming the path, before it is compiled.
    """
    check_value(request, max_depth, "The data request")
    try:
        return _compile(request, resolve_domain, _filters(row_filters, max_depth), max_depth)
    except RecursionError:  # a formula's parentheses nest deeper than Python's stack
        raise too_deep("The data request", max_depth, ()) from None


def _compile(
    request: Any, resolve_domain: Callable[[str], str], filters: dict[str, Frag | None], max_depth: int
) -> CompiledQuery:
    if is_pipeline(request):
        compiled = PipelineCompiler(resolve_domain, filters, max_depth).compile_steps(parse_pipeline(request))
    elif isinstance(request, dict) or (isinstance(request, list) and request and isinstance(request[0], dict)):
        compiled = MongoCompiler(resolve_domain, filters, max_depth).compile_mongo(request)
    else:
        raise ValidationError(
            "'query' must be a pipeline (a list of steps starting with a domain step) or a "
            "Mongo-style query (an object, or a list of stages starting with $match).",
            details={"field": "query"},
        )
    return CompiledQuery(compiled.sql, compiled.params, compiled.domains, compiled.uses_raw_sql)
