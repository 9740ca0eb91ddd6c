"""A SQL source's `:name` placeholders bound to its `parameters`, in each driver's own style.

Builders write one style, `:name` (`\\:` for a plain colon), whatever the database; each driver
takes another (SQLAlchemy `:name`, DuckDB `?`, ADBC PostgreSQL `$1`, clickhouse-connect
`%(name)s`). SQLAlchemy's own parser rewrites the text, so every connector reads placeholders,
quotes and escapes the same way, and values are always sent apart from the text, never pasted
into it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.default import DefaultDialect

from toucan.errors import ValidationError

Positional = Literal["qmark", "numeric_dollar"]


def check_given(names: Iterable[str], parameters: Mapping[str, Any]) -> None:
    """400 naming every placeholder the query uses without a value."""
    missing = sorted({name for name in names if name not in parameters})
    if missing:
        raise ValidationError(
            f"The query uses parameters that are not given: {', '.join(missing)}.", details={"missing": missing}
        )


def positional(sql: str, parameters: Mapping[str, Any], style: Positional) -> tuple[str, list[Any]]:
    """`:name` as `?` (qmark) or `$1`, `$2`… (numeric_dollar, one number per name), with the values
    in the order the text now asks for them."""
    dialect = sqlite.dialect() if style == "qmark" else postgresql.dialect(paramstyle="numeric_dollar")
    compiled = sa.text(sql).compile(dialect=dialect)
    names = list(compiled.positiontup or [])
    check_given(names, parameters)
    return compiled.string, [parameters[name] for name in names]


def pyformat(sql: str, parameters: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """`:name` as `%(name)s` (a literal `%` doubled) with the values the text uses. Without
    placeholders the driver formats nothing, so `%` is left single."""
    compiled = sa.text(sql).compile(dialect=DefaultDialect(paramstyle="pyformat"))
    names = list(compiled.params)
    if not names:
        return compiled.string.replace("%%", "%"), {}
    check_given(names, parameters)
    return compiled.string, {name: parameters[name] for name in names}
