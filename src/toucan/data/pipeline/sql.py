"""SQL fragments with bound parameters, and safe identifier quoting."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# Where a bound value goes. A control character, so that no identifier or SQL text of
# ours contains it: the final SQL gets `?` there, or the value as a literal.
PARAM = "\x01"


def ident(name: str) -> str:
    """A quoted identifier: any text is safe, quotes are doubled."""
    if not isinstance(name, str):
        raise TypeError("identifiers are strings")
    if "\x00" in name or PARAM in name:
        raise ValueError("control characters are not allowed in names")
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Frag:
    """A piece of SQL and the values of its `?` placeholders, in text order."""

    sql: str
    params: list[Any] = field(default_factory=list)

    def __add__(self, other: Frag | str) -> Frag:
        if isinstance(other, str):
            return Frag(self.sql + other, list(self.params))
        return Frag(self.sql + other.sql, self.params + other.params)

    def __radd__(self, other: str) -> Frag:
        return Frag(other + self.sql, list(self.params))


def value(v: Any) -> Frag:
    """A bound value (never inlined). `"date: 2024-01-31 00:00:00"` is a timestamp."""
    if isinstance(v, str) and v.startswith("date: "):
        try:
            return Frag(PARAM, [datetime.fromisoformat(v[6:].strip())])
        except ValueError:
            pass
    return Frag(PARAM, [v])


def join(frags: list[Frag], sep: str = ", ") -> Frag:
    """The fragments separated by `sep`, in linear time (a request may list 100,000 values:
    adding them one by one copied the text and the parameters each time)."""
    return Frag(sep.join(f.sql for f in frags), [p for f in frags for p in f.params])


def raw(sql: str) -> Frag:
    return Frag(sql)


def literal(v: Any) -> str:
    """A value as a SQL literal, for the statements DuckDB cannot prepare (PIVOT)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if v == v and v not in (float("inf"), float("-inf")) else f"'{v}'::DOUBLE"
    if isinstance(v, datetime):
        return f"TIMESTAMP '{v.isoformat()}'" if v.tzinfo is None else f"TIMESTAMPTZ '{v.isoformat()}'"
    if isinstance(v, date):
        return f"DATE '{v.isoformat()}'"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(literal(x) for x in v) + "]"
    return "'" + str(v).replace("'", "''") + "'"


def render_sql(frag: Frag, inline: bool) -> tuple[str, list[Any]]:
    """The final SQL text: `?` placeholders and the params, or every value inlined."""
    if not inline:
        return frag.sql.replace(PARAM, "?"), list(frag.params)
    pieces = frag.sql.split(PARAM)
    assert len(pieces) == len(frag.params) + 1
    out = [pieces[0]]
    for value_, piece in zip(frag.params, pieces[1:], strict=True):
        out.append(literal(value_))
        out.append(piece)
    return "".join(out), []
