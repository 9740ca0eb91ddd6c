"""Running the weaverbird conformance fixtures (../shared/conformance/weaverbird) on our compiler.

Used by tests/data/test_conformance.py and bench/conformance_report.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml

from toucan.data.pipeline.sql import ident
from toucan.data.query import compile_request
from toucan.errors import NotSupported
from toucan.templating import render

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "weaverbird"
# Steps that cannot apply to a SQL engine: geographic data, and MongoDB queries.
NOT_SQL = {"dissolve", "simplify", "custom"}
# The variables the upstream fixtures' templated steps were written for.
FIXTURE_VARIABLES = {
    "ONE": 1,
    "ONE_POINT_ONE": 1.1,
    "TODAY": datetime(2022, 10, 17, 17, 30, 12),
    "TRUE": True,
    "VOID": "",
}
# Backend-specific variants of a case (other SQL dialects' quirks), not ours.
DIALECT_SUFFIXES = ("_bigquery", "_snowflake", "_athena", "_redshift", "_mysql")


@dataclass(frozen=True)
class Case:
    step: str
    name: str
    path: Path
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.step}/{self.name}"


def _load(path: Path) -> dict[str, Any]:
    text = path.read_text()
    data: dict[str, Any] = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return data


def cases() -> list[Case]:
    """One case per fixture, preferring the SQL backends' `_pypika` expectation when present."""
    if not FIXTURES.is_dir():
        return []
    out = []
    for step_dir in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        files = {p.stem: p for p in step_dir.iterdir() if p.suffix in (".json", ".yaml")}
        for stem, path in sorted(files.items()):
            if stem.endswith(DIALECT_SUFFIXES):
                continue
            data = _load(path)
            pypika = files.get(f"{stem}_pypika")
            if pypika is not None and "input" in _load(pypika):
                continue  # the SQL backends' expectation replaces the pandas one
            out.append(Case(step_dir.name, stem, path, data))
    return out


def _frame(table: dict[str, Any]) -> pd.DataFrame:
    fields = table["schema"]["fields"]
    frame = pd.DataFrame(table["data"], columns=[f["name"] for f in fields if f["name"] != "index"])
    for f in fields:
        if f["name"] in frame and f.get("type") == "datetime":
            frame[f["name"]] = pd.to_datetime(frame[f["name"]], utc=True).dt.tz_localize(None)
    return frame


def run_case(case: Case) -> pd.DataFrame:
    """Compile and run a case's pipeline on its inputs in DuckDB."""
    conn = duckdb.connect()
    tables = {"__input": _frame(case.data["input"])}
    for name, table in (case.data.get("other_inputs") or {}).items():
        tables[name] = _frame(table)
    names = {}
    for i, (name, frame) in enumerate(tables.items()):
        conn.register(f"__t{i}", frame)
        names[name] = f"__t{i}"
    steps = render(case.data["step"]["pipeline"], FIXTURE_VARIABLES)
    pipeline = [{"name": "domain", "domain": "__input"}, *steps]

    def resolve(domain: str) -> str:
        if domain not in names:
            from toucan.errors import NotFound

            raise NotFound(f"no domain {domain!r}")
        return ident(names[domain])

    compiled = compile_request(pipeline, resolve_domain=resolve, row_filters={})
    result = conn.execute(compiled.sql, compiled.params).df()
    conn.close()
    return result


def _norm(v: Any) -> Any:
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp | datetime):
        ts = pd.Timestamp(v)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        return ts.isoformat()
    if isinstance(v, date):
        return pd.Timestamp(v).isoformat()
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return round(float(v), 4)
    if isinstance(v, list | tuple):
        return tuple(_norm(x) for x in v)
    return v


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    return [tuple(_norm(row[c]) for c in columns) for row in frame.to_dict("records")]


def compare(case: Case, result: pd.DataFrame) -> str | None:
    """None when `result` matches the expectation, else what differs."""
    expected = _frame(case.data["expected"])
    if set(result.columns) != set(expected.columns):
        return f"columns differ: got {sorted(result.columns)}, expected {sorted(expected.columns)}"
    columns = list(expected.columns)
    got, want = _rows(result, columns), _rows(expected, columns)
    ordered = case.data["step"]["pipeline"][-1].get("name") == "sort"
    if not ordered:
        key = lambda r: tuple((x is None, str(type(x)), str(x)) for x in r)  # noqa: E731
        got, want = sorted(got, key=key), sorted(want, key=key)
    if got != want:
        diff = next(
            (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
            min(len(got), len(want)),
        )
        return (
            f"rows differ ({len(got)} vs {len(want)}); first difference at {diff}: "
            f"got {got[diff : diff + 1]}, expected {want[diff : diff + 1]}"
        )
    return None


def outcome(case: Case) -> tuple[str, str | None]:
    """('pass'|'fail'|'not_applicable', detail)."""
    if case.step in NOT_SQL:
        return "not_applicable", "geographic or MongoDB-only step"
    excluded = set(case.data.get("exclude") or [])
    if {"pandas", "postgres_pypika"} <= excluded and "mongo" not in excluded:
        return "not_applicable", "runs on the MongoDB backend only (excluded for pandas and SQL upstream)"
    if "input" not in case.data:
        return "not_applicable", "no input in the fixture (upstream reads its own beers_tiny table)"
    tables = [case.data["input"], *(case.data.get("other_inputs") or {}).values()]
    if any(not isinstance(t, dict) or not isinstance(t.get("schema"), dict) for t in tables) or any(
        f.get("type") == "geometry" for t in tables for f in t["schema"].get("fields", [])
    ):
        return "not_applicable", "geographic input (GeoJSON)"
    try:
        result = run_case(case)
    except NotSupported as exc:
        return "fail", f"not supported: {exc.message}"
    except Exception as exc:
        return "fail", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    problem = compare(case, result)
    return ("pass", None) if problem is None else ("fail", problem)
