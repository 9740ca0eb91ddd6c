"""`customsql` steps: a builder's SELECT over the previous step and the app's domains.

The text is parsed (sqlglot, DuckDB dialect) and rebuilt: only one SELECT is allowed, its
tables may only be `##PREVIOUS_STEP##`, the app's domains (read through their filtered
CTEs, so data permissions hold) or CTEs it defines itself; table functions, catalogs and
file readers are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlglot
from sqlglot import exp

from toucan.errors import ValidationError

PLACEHOLDER = "##PREVIOUS_STEP##"
_PLACEHOLDER_NAME = "__toucan_previous_step"
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
    "which_secret",
    "load",
    "install",
)


def _refuse(message: str, where: dict[str, Any]) -> ValidationError:
    return ValidationError(f"customsql: {message}", details={**where, "field": "query"}, code="invalid_custom_sql")


def rewrite_custom_sql(query: Any, previous: str, domain_source: Callable[[str], str], where: dict[str, Any]) -> str:
    """The safe SQL of a customsql step, with tables mapped to the pipeline's CTEs."""
    if not isinstance(query, str) or not query.strip():
        raise _refuse("the query is empty.", where)
    if "\x00" in query or "\x01" in query:
        raise _refuse("control characters are not allowed.", where)
    text = query.strip().rstrip(";").replace(PLACEHOLDER, _PLACEHOLDER_NAME)
    try:
        statements = sqlglot.parse(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise _refuse(f"cannot parse the query: {str(exc).splitlines()[0][:300]}", where) from None
    if len(statements) != 1 or statements[0] is None:
        raise _refuse("give exactly one SELECT statement.", where)
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise _refuse("only SELECT queries are allowed.", where)
    for node in tree.walk():
        if isinstance(node, exp.Func):
            name = (node.sql_name() if not isinstance(node, exp.Anonymous) else str(node.this)).lower()
            if name.startswith(_FORBIDDEN_FUNCTION_PREFIXES):
                raise _refuse(f"the function {name!r} is not allowed.", where)
        if isinstance(
            node,
            (
                exp.Command,
                exp.Pragma,
                exp.Copy,
                exp.Insert,
                exp.Update,
                exp.Delete,
                exp.Create,
                exp.Drop,
                exp.Attach,
            ),
        ):
            raise _refuse("only SELECT queries are allowed.", where)
    local = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier):
            raise _refuse("table functions are not allowed; select from ##PREVIOUS_STEP## or a domain.", where)
        if table.args.get("db") or table.args.get("catalog"):
            raise _refuse(f"qualified table names are not allowed ({table.sql(dialect='duckdb')}).", where)
        name = table.name
        if name in local:
            continue
        target = previous if name == _PLACEHOLDER_NAME else domain_source(name)
        alias = table.alias or (None if name == _PLACEHOLDER_NAME else name)
        replacement = exp.to_table(target)
        if alias:
            replacement.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        table.replace(replacement)
    return tree.sql(dialect="duckdb")
