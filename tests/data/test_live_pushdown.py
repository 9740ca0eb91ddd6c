"""Live data: a compiled query on one live SQL domain rewritten in the source's dialect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.helpers import PG, scratch_schema
from toucan.data.live import marker, pushdown_sql
from toucan.data.query import compile_request


@pytest.fixture
def orders() -> Iterator[str]:
    with scratch_schema(
        "live",
        "CREATE TABLE {schema}.orders (country text, amount numeric, status text)",
        "INSERT INTO {schema}.orders VALUES ('France', 10, 'paid'), ('France', 5, 'paid'), "
        "('Spain', 7, 'paid'), ('Spain', 100, 'refunded'), ('O''Brien land', 1, 'paid')",
    ) as schema:
        yield schema


def _compile(request: Any) -> Any:
    return compile_request(
        request,
        resolve_domain=lambda d: f"read_parquet('{marker(d)}')",
        row_filters={"orders": None},
    )


def _run(sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(PG) as conn:
        return [tuple(row) for row in conn.execute(sql).fetchall()]


def test_filter_aggregate_sort_runs_on_postgres_with_values_inlined_safely(orders: str) -> None:
    compiled = _compile(
        [
            {"name": "domain", "domain": "orders"},
            {"name": "filter", "condition": {"column": "status", "operator": "eq", "value": "paid"}},
            {
                "name": "aggregate",
                "on": ["country"],
                "aggregations": [{"aggfunction": "sum", "columns": ["amount"], "newcolumns": ["total"]}],
            },
            {"name": "sort", "columns": [{"column": "total", "order": "desc"}]},
        ]
    )
    assert compiled.params  # the value is a parameter in DuckDB's SQL
    sql = pushdown_sql(compiled.sql, compiled.params, marker("orders"), f"SELECT * FROM {orders}.orders", "postgres")
    assert sql is not None and "read_parquet" not in sql
    assert [(c, float(t)) for c, t in _run(sql)] == [("France", 15.0), ("Spain", 7.0), ("O'Brien land", 1.0)]


def test_an_injection_attempt_stays_a_value(orders: str) -> None:
    compiled = _compile({"domain": "orders", "country": "x' OR '1'='1"})
    sql = pushdown_sql(compiled.sql, compiled.params, marker("orders"), f"SELECT * FROM {orders}.orders", "postgres")
    assert sql is not None
    assert _run(sql) == []
    quoted = _compile({"domain": "orders", "country": "O'Brien land"})
    sql = pushdown_sql(quoted.sql, quoted.params, marker("orders"), f"SELECT * FROM {orders}.orders", "postgres")
    assert sql is not None and len(_run(sql)) == 1


def test_queries_that_cannot_be_pushed_down_say_so() -> None:
    compiled = _compile([{"name": "domain", "domain": "orders"}])
    assert pushdown_sql(compiled.sql, compiled.params, marker("other"), "SELECT 1", "postgres") is None
    assert pushdown_sql("not sql at all (", [], marker("orders"), "SELECT 1", "postgres") is None


def test_old_live_fetches_are_collected(tmp_path: Any) -> None:
    import os
    import time

    from toucan.data.live import collect_live_garbage

    folder = tmp_path / "live" / "app" / "staging" / "k" / "q"
    folder.mkdir(parents=True)
    old, fresh = folder / "1.parquet", folder / "2.parquet"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (time.time() - 90000, time.time() - 90000))
    assert collect_live_garbage(tmp_path) == 1
    assert not old.exists() and fresh.exists()
    fresh.unlink()
    collect_live_garbage(tmp_path)
    assert not (tmp_path / "live" / "app").exists()
