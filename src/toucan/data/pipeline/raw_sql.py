"""`customsql` steps: a builder's SELECT over the previous step and the app's domains.

The text is parsed (sqlglot, DuckDB dialect) and rebuilt. Names are resolved with sqlglot's
scope analysis, as DuckDB resolves them: a table is either a CTE visible at that point
(defined before it in an enclosing WITH, or itself in WITH RECURSIVE), `##PREVIOUS_STEP##`,
or one of the app's domains — read through its filtered CTE, so the caller's row filters
hold. Anything else (a path, a glob, a catalog name, a table function, a catalog or settings
function, a query parameter) is refused. The engine runs the result on a database that can
read only the app's own domain files (data/engine.py `confine`): this module is the first
of two locks, not the only one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.scope import Scope, traverse_scope

from toucan.errors import ErrorCode, ValidationError

PLACEHOLDER = "##PREVIOUS_STEP##"
_PLACEHOLDER_NAME = "__toucan_previous_step"

# Functions that reach files, the catalog, settings, variables or extensions. DuckDB's own
# reach is closed too (see the module docstring); these are refused to say so clearly.
_FORBIDDEN_FUNCTION_PREFIXES = (
    "read_",
    "glob",
    "sniff_",
    "parquet_",
    "duckdb_",
    "pragma_",
    "query",
    "iceberg",
    "delta_",
    "getenv",
    "current_setting",
    "getvariable",
    "setvariable",
    "which_secret",
    "load",
    "install",
    "checkpoint",
    "sql_auto_complete",
    "test_all_types",
    "arrow_scan",
    "seq_scan",
    "index_scan",
    "postgres_",
    "sqlite_",
    "mysql_",
    "json_execute",
    "iceberg_",
    "summary",
    "repeat_row",
    "unnest_file",
    "current_database",
    "current_catalog",
    "current_schema",
    "pg_",
    "has_",
    "col_description",
    "obj_description",
    "format_pg_type",
    "enable_",
    "disable_",
    "force_checkpoint",
    "import_database",
    "export_database",
    "attach",
    "detach",
)
_FORBIDDEN_NODES = (
    exp.Command,
    exp.Pragma,
    exp.Copy,
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Create,
    exp.Drop,
    exp.Attach,
    exp.Detach,
    exp.Set,
    exp.Use,
    exp.Describe,
    exp.Merge,
    exp.Placeholder,
    exp.Parameter,
    exp.SessionParameter,
)
# What a path, a glob or a URL has and a table or CTE name never needs.
_PATH_LIKE = re.compile(r"[/\\.*?:~\[\]{}$%'\"]|^\s|\s$")


def _refuse(message: str, where: dict[str, Any]) -> ValidationError:
    return ValidationError(
        f"customsql: {message}", details={**where, "field": "query"}, code=ErrorCode.INVALID_CUSTOM_SQL
    )


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower()


def _check_nodes(tree: exp.Expr, where: dict[str, Any]) -> None:
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            if isinstance(node, exp.Placeholder | exp.Parameter | exp.SessionParameter):
                raise _refuse("query parameters are not allowed; write the values in the query.", where)
            raise _refuse("only SELECT queries are allowed.", where)
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name.startswith(_FORBIDDEN_FUNCTION_PREFIXES):
                raise _refuse(f"the function {name!r} is not allowed.", where)
        if isinstance(node, exp.CTE):
            name = node.alias_or_name
            if _PATH_LIKE.search(name):
                raise _refuse(f"the name {name[:120]!r} looks like a path; name CTEs like columns.", where)
            if name.startswith("__"):  # the pipeline's own CTEs (`__s0`…) are named so
                raise _refuse(f"CTE names cannot start with '__' ({name[:120]!r}).", where)


def _visible_cte(scope: Scope, table: exp.Table) -> bool:
    """Whether `table` names a CTE that DuckDB sees where it is read."""
    source = scope.sources.get(table.alias_or_name)
    return isinstance(source, Scope) and table.name in scope.cte_sources and source.is_cte


def rewrite_custom_sql(query: Any, previous: str, domain_source: Callable[[str], str], where: dict[str, Any]) -> str:
    """The safe SQL of a customsql step, with tables mapped to the pipeline's CTEs."""
    if not isinstance(query, str) or not query.strip():
        raise _refuse("the query is empty.", where)
    if any(ord(c) < 32 and c not in "\t\n\r" for c in query):
        raise _refuse("control characters are not allowed.", where)
    text = query.strip().rstrip(";").replace(PLACEHOLDER, _PLACEHOLDER_NAME)
    try:
        statements = sqlglot.parse(text, read="duckdb")
    except sqlglot.errors.SqlglotError as exc:
        raise _refuse(f"cannot parse the query: {str(exc).splitlines()[0][:300]}", where) from None
    if len(statements) != 1 or statements[0] is None:
        raise _refuse("give exactly one SELECT statement.", where)
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise _refuse("only SELECT queries are allowed.", where)
    _check_nodes(tree, where)
    try:
        scopes = traverse_scope(tree)
    except (OptimizeError, RecursionError) as exc:
        raise _refuse(f"cannot resolve the query's names: {str(exc)[:300]}", where) from None

    checked: set[int] = set()
    replacements: list[tuple[exp.Table, str]] = []
    for scope in scopes:
        for table in scope.tables:
            checked.add(id(table))
            if not isinstance(table.this, exp.Identifier):
                raise _refuse("table functions are not allowed; select from ##PREVIOUS_STEP## or a domain.", where)
            if table.args.get("db") or table.args.get("catalog"):
                raise _refuse(f"qualified table names are not allowed ({table.sql(dialect='duckdb')}).", where)
            name = table.name
            if _visible_cte(scope, table):
                continue
            if name == _PLACEHOLDER_NAME:
                replacements.append((table, previous))
                continue
            if _PATH_LIKE.search(name):
                raise _refuse(
                    f"{name[:120]!r} is not a CTE of this query, ##PREVIOUS_STEP## or a domain; "
                    "files cannot be read from customsql.",
                    where,
                )
            replacements.append((table, domain_source(name)))
    # Every table the statement holds was resolved above: one scope analysis missed is refused.
    for table in tree.find_all(exp.Table):
        if id(table) not in checked:
            raise _refuse(f"cannot resolve the table {table.sql(dialect='duckdb')[:120]!r}.", where)
    for table, target in replacements:
        # Renamed in place: what the table carries (PIVOT, TABLESAMPLE…) stays with it.
        if not table.alias and table.name != _PLACEHOLDER_NAME:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
        table.set("this", exp.to_identifier(target))
    return tree.sql(dialect="duckdb")
