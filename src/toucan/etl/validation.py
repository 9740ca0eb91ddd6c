"""Per-source `validation` of a data source: expected columns, types, rows, nulls, unique values.

    "validation": [
      {"type": "columns", "expected": ["country", "revenue"]},
      {"type": "dtypes", "expected": {"revenue": "number", "date": "date"}},
      {"type": "rows", "expected": 12},
      {"type": "not_null", "expected": ["country"]},
      {"type": "unique_values", "expected": {"country": ["France", "Spain"]}}
    ]
Types are the simple ones `/metadata` shows: string, integer, number, boolean, date, datetime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toucan.apps.configs import ColumnCheck
from toucan.data.domains import sql_string

NUMERIC = {"integer", "number", "float"}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _type_matches(expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    if expected in ("number", "float") and actual in NUMERIC:
        return True
    return expected == "datetime" and actual == "date"


def check_source(path: Path, checks: list[ColumnCheck], columns: list[dict[str, str]], rows: int) -> list[str]:
    """Problems found (empty when valid); each names the column and what was expected."""
    if not checks:
        return []
    types = {c["name"]: c["type"] for c in columns}
    problems: list[str] = []
    conn: Any = None
    try:
        for check in checks:
            expected = check.expected
            if check.type == "columns":
                missing = [c for c in (expected or []) if c not in types]
                problems += [f"column {c!r} is missing (columns are {', '.join(types)})" for c in missing]
            elif check.type == "dtypes":
                for name, kind in (expected or {}).items():
                    if name not in types:
                        problems.append(f"column {name!r} is missing")
                    elif not _type_matches(str(kind), types[name]):
                        problems.append(f"column {name!r} is {types[name]}, expected {kind}")
            elif check.type == "rows":
                if rows != expected:
                    problems.append(f"{rows} rows, expected {expected}")
            else:
                import duckdb

                conn = conn or duckdb.connect(":memory:")
                source = f"read_parquet({sql_string(str(path))})"
                if check.type == "not_null":
                    for name in expected or []:
                        if name not in types:
                            problems.append(f"column {name!r} is missing")
                            continue
                        nulls = conn.execute(f"SELECT count(*) FROM {source} WHERE {_quote(name)} IS NULL").fetchone()[
                            0
                        ]
                        if nulls:
                            problems.append(f"column {name!r} has {nulls} empty values")
                elif check.type == "unique_values":
                    for name, values in (expected or {}).items():
                        if name not in types:
                            problems.append(f"column {name!r} is missing")
                            continue
                        found = {
                            row[0]
                            for row in conn.execute(
                                f"SELECT DISTINCT CAST({_quote(name)} AS VARCHAR) FROM {source}"
                            ).fetchall()
                        }
                        wanted = {str(v) for v in values}
                        if found != wanted:
                            extra, lacking = sorted(found - wanted, key=str), sorted(wanted - found)
                            problems.append(
                                f"column {name!r} values differ: unexpected {extra[:10]}, missing {lacking[:10]}"
                            )
    finally:
        if conn is not None:
            conn.close()
    return problems
