"""The query engine: pages with totals, timeouts that interrupt, no starved queries."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from toucan.data.engine import QueryEngine, fetch_page, simple_type
from toucan.errors import QueryTimeout, ValidationError

SLOW = "SELECT count(*) AS n FROM range(100000000000) a"


def run_async(coro: Any) -> Any:
    """asyncio.run in a thread of its own: other tools (Playwright's sync API) may own this one's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_fetch_page_returns_rows_columns_and_total() -> None:
    engine = QueryEngine(workers=2, timeout=10)
    try:
        result = engine.run_sync(lambda c: fetch_page(c, "SELECT range AS n, 'x' AS s FROM range(10)", [], 3, 8))
        assert result.table.column("n").to_pylist() == [8, 9]
        assert result.total == 10
        assert result.columns == [{"name": "n", "type": "integer"}, {"name": "s", "type": "string"}]
        past = engine.run_sync(lambda c: fetch_page(c, "SELECT range AS n FROM range(10)", [], 3, 50))
        assert past.table.num_rows == 0 and past.total == 10
    finally:
        engine.close()


def test_a_page_knows_whether_more_rows_follow() -> None:
    engine = QueryEngine(workers=1, timeout=10)
    sql = "SELECT range AS n FROM range(10) ORDER BY n"
    try:
        exact = engine.run_sync(lambda c: fetch_page(c, sql, [], 10, 0))
        assert exact.table.num_rows == 10 and exact.total == 10
        full = engine.run_sync(lambda c: fetch_page(c, sql, [], 4, 4))
        assert full.table.column("n").to_pylist() == [4, 5, 6, 7] and full.total == 10
        none = engine.run_sync(lambda c: fetch_page(c, sql, [], 0, 0))
        assert none.table.num_rows == 0 and none.total == 10
        empty = engine.run_sync(lambda c: fetch_page(c, "SELECT 1 AS n WHERE false", [], 5, 0))
        assert empty.total == 0 and empty.columns == [{"name": "n", "type": "integer"}]
        bound = engine.run_sync(lambda c: fetch_page(c, "SELECT range AS n FROM range(10) WHERE range >= ?", [7], 2, 0))
        assert bound.table.column("n").to_pylist() == [7, 8] and bound.total == 3
    finally:
        engine.close()


def test_a_query_that_needs_more_memory_spills_into_a_new_temp_dir(tmp_path: Path) -> None:
    temp_dir = tmp_path / "tmp" / "duckdb"  # neither exists yet
    engine = QueryEngine(workers=1, timeout=60, memory_mb=64, temp_dir=temp_dir)
    distinct = "SELECT count(*) FROM (SELECT DISTINCT range, repeat('x', 40) || range AS s FROM range(3000000))"
    try:
        assert engine.run_sync(lambda c: c.execute(distinct).fetchone()) == (3000000,)
    finally:
        engine.close()


def test_query_errors_are_validation_errors() -> None:
    engine = QueryEngine(workers=1, timeout=10)
    try:
        with pytest.raises(ValidationError) as info:
            engine.run_sync(lambda c: fetch_page(c, "SELECT nope FROM range(3)", [], 10, 0))
        assert "nope" in info.value.message
    finally:
        engine.close()


def test_a_slow_query_is_interrupted_at_the_timeout() -> None:
    engine = QueryEngine(workers=2, timeout=0.5)

    async def main() -> None:
        with pytest.raises(QueryTimeout):
            await engine.run(lambda c: c.execute(SLOW).fetchall())

    try:
        run_async(main())
        # The interrupted query does not keep its worker: the next one runs.
        assert run_async(engine.run(lambda c: c.execute("SELECT 42").fetchone())) == (42,)
    finally:
        engine.close()


def test_a_slow_query_does_not_delay_a_fast_one() -> None:
    engine = QueryEngine(workers=2, timeout=3)
    order: list[str] = []

    async def slow() -> None:
        try:
            await engine.run(lambda c: c.execute(SLOW).fetchall())
        except QueryTimeout:
            order.append("slow timed out")

    async def fast() -> None:
        await asyncio.sleep(0.2)  # starts while the slow one runs
        await engine.run(lambda c: c.execute("SELECT sum(range) FROM range(1000)").fetchall())
        order.append("fast done")

    async def main() -> None:
        await asyncio.gather(slow(), fast())

    try:
        run_async(main())
    finally:
        engine.close()
    # Ordering, not timing: the fast query finished while the slow one was still running.
    assert order == ["fast done", "slow timed out"]


def test_sync_runs_time_out_too() -> None:
    engine = QueryEngine(workers=1, timeout=0.3)
    try:
        start = time.monotonic()
        with pytest.raises(QueryTimeout):
            engine.run_sync(lambda c: c.execute(SLOW).fetchall())
        assert time.monotonic() - start < 30  # interrupted, not run to the end
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("duck", "simple"),
    [
        ("INTEGER", "integer"),
        ("BIGINT", "integer"),
        ("DOUBLE", "float"),
        ("DECIMAL(10,2)", "float"),
        ("VARCHAR", "string"),
        ("DATE", "date"),
        ("TIMESTAMP WITH TIME ZONE", "datetime"),
        ("BOOLEAN", "boolean"),
        ("INTEGER[]", "object"),
        ("STRUCT(a INTEGER)", "object"),
    ],
)
def test_simple_types(duck: str, simple: str) -> None:
    assert simple_type(duck) == simple
