"""SQL fragments with bound parameters, and safe identifier quoting."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def ident(name: str) -> str:
    """A quoted identifier: any text is safe, quotes are doubled."""
    if not isinstance(name, str):
        raise TypeError("identifiers are strings")
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
            return Frag("?", [datetime.fromisoformat(v[6:].strip())])
        except ValueError:
            pass
    return Frag("?", [v])


def join(frags: list[Frag], sep: str = ", ") -> Frag:
    out = Frag("")
    for i, f in enumerate(frags):
        out = out + (sep if i else "") + f
    return out


def raw(sql: str) -> Frag:
    return Frag(sql)
