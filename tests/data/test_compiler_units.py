"""Units of the data request compiler: templating, formulas, Mongo operators, errors, safety."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from toucan.data.pipeline.sql import ident
from toucan.data.query import compile_request
from toucan.errors import NotSupported, ValidationError
from toucan.templating import render


def _run(query: Any, rows: str = "VALUES ('FR', 10, 2), ('ES', 20, 5), ('FR', 5, 1)") -> list[tuple[Any, ...]]:
    conn = duckdb.connect()
    conn.execute(f"CREATE TABLE t AS SELECT * FROM ({rows}) v(country, revenue, cost)")
    compiled = compile_request(
        query, resolve_domain=lambda d: ident("t") if d == "sales" else _missing(d), row_filters={}
    )
    return conn.execute(compiled.sql, compiled.params).fetchall()


def _missing(domain: str) -> str:
    raise ValidationError(f"unknown {domain}")


def test_a_lone_placeholder_keeps_its_type_and_text_interpolates() -> None:
    assert render(
        {"v": "{{ year }}", "w": "<%= years %>", "t": "Year {{ year }}"}, {"year": 2024, "years": [1, 2]}
    ) == {
        "v": 2024,
        "w": [1, 2],
        "t": "Year 2024",
    }
    assert render("{{ user.attributes.country }}", {"user": {"attributes": {"country": "FR"}}}) == "FR"


def test_a_missing_variable_is_named() -> None:
    with pytest.raises(ValidationError) as info:
        render(["{{ here }}", "{{ nope }}"], {"here": 1})
    assert "nope" in info.value.message


def test_placeholders_cannot_hold_code() -> None:
    with pytest.raises(ValidationError):
        render("{{ __import__('os') }}", {})


def test_formulas_and_division_by_zero() -> None:
    rows = _run(
        [
            {"name": "domain", "domain": "sales"},
            {"name": "formula", "new_column": "ratio", "formula": "(revenue - cost) / (cost - cost)"},
            {"name": "formula", "new_column": "m", "formula": "[revenue] * 2 + 1"},
            {"name": "sort", "columns": [{"column": "revenue", "order": "asc"}]},
        ]
    )
    assert [(r[3], r[4]) for r in rows] == [(None, 11), (None, 21), (None, 41)]


@pytest.mark.parametrize("formula", ["revenue; DROP TABLE t", "revenue) FROM t --", "1 + ", "sum(revenue)"])
def test_formulas_refuse_anything_but_arithmetic(formula: str) -> None:
    with pytest.raises(ValidationError):
        _run([{"name": "domain", "domain": "sales"}, {"name": "formula", "new_column": "x", "formula": formula}])


def test_mongo_match_group_sort_limit() -> None:
    rows = _run(
        [
            {"$match": {"domain": "sales", "revenue": {"$gte": 5}, "country": {"$in": ["FR", "ES"]}}},
            {"$group": {"_id": "$country", "total": {"$sum": "$revenue"}, "n": {"$sum": 1}}},
            {"$sort": {"total": -1}},
            {"$limit": 1},
        ]
    )
    assert rows == [("ES", 20, 1)]
    assert _run({"domain": "sales", "$or": [{"country": "ES"}, {"revenue": {"$lt": 6}}]}) == [
        ("ES", 20, 5),
        ("FR", 5, 1),
    ]


def test_mongo_expressions() -> None:
    rows = _run(
        [
            {"$match": {"domain": "sales", "country": "ES"}},
            {
                "$project": {
                    "label": {"$concat": ["$country", "-", {"$toLower": "$country"}]},
                    "m": {"$divide": ["$revenue", "$cost"]},
                }
            },
        ]
    )
    assert rows == [("ES-es", 4.0)]


def test_unknown_operators_and_steps_are_named() -> None:
    with pytest.raises(ValidationError) as info:
        _run([{"$match": {"domain": "sales"}}, {"$lookup": {}}])
    assert "$lookup" in info.value.message and info.value.details["stage"] == 1
    with pytest.raises(ValidationError) as info:
        _run([{"name": "domain", "domain": "sales"}, {"name": "explode"}])
    assert info.value.details == {"step": 1, "name": "explode", "field": "name"}
    with pytest.raises(ValidationError) as info:
        _run([{"name": "domain", "domain": "sales"}, {"name": "filter"}])
    assert info.value.details["field"] == "condition"
    with pytest.raises(NotSupported):
        _run([{"name": "domain", "domain": "sales"}, {"name": "dissolve", "groups": []}])


def test_values_are_parameters_and_names_are_quoted() -> None:
    compiled = compile_request(
        [
            {"name": "domain", "domain": "sales"},
            {"name": "filter", "condition": {"column": 'a"b', "operator": "eq", "value": "x' OR '1'='1"}},
        ],
        resolve_domain=lambda d: ident("t"),
        row_filters={},
    )
    assert "x' OR" not in compiled.sql and compiled.params == ["x' OR '1'='1"]
    assert '"a""b"' in compiled.sql


def test_pivot_works_with_bound_values_and_quotes() -> None:
    rows = _run(
        [
            {"name": "domain", "domain": "sales"},
            {"name": "filter", "condition": {"column": "country", "operator": "ne", "value": "it's"}},
            {
                "name": "pivot",
                "index": ["cost"],
                "column_to_pivot": "country",
                "value_column": "revenue",
                "agg_function": "sum",
            },
            {"name": "sort", "columns": [{"column": "cost", "order": "asc"}]},
        ]
    )
    assert rows == [(1, None, 5), (2, None, 10), (5, 20, None)]


def _parquet_reads(query: Any, tmp_path: Any) -> tuple[int, list[tuple[Any, ...]]]:
    """How many times DuckDB's plan reads the domain's Parquet file, and the rows."""
    path = tmp_path / "sales.parquet"
    conn = duckdb.connect()
    conn.execute(
        "COPY (SELECT * FROM (VALUES ('FR', 'west', 10, 2), ('ES', 'south', 20, 5), ('FR', 'west', 5, 1), "
        f"('IT', 'south', 6, 1)) v(country, region, revenue, cost)) TO '{path}' (FORMAT parquet)"
    )
    compiled = compile_request(query, resolve_domain=lambda d: f"read_parquet('{path}')", row_filters={})
    plan = "".join(row[1] for row in conn.execute("EXPLAIN " + compiled.sql, compiled.params).fetchall())
    return plan.count("READ_PARQUET"), conn.execute(compiled.sql, compiled.params).fetchall()


def test_a_window_over_partitions_reads_an_aggregate_once(tmp_path: Any) -> None:
    aggregate = {
        "name": "aggregate",
        "on": ["region", "country"],
        "aggregations": [{"columns": ["revenue"], "aggfunction": "sum", "newcolumns": ["revenue"]}],
    }
    percentage = {"name": "percentage", "column": "revenue", "group": ["region"], "new_column_name": "share"}
    reads, rows = _parquet_reads([{"name": "domain", "domain": "sales"}, aggregate, percentage], tmp_path)
    # DuckDB turns the window into an aggregate joined back to its input: the GROUP BY is
    # computed once (a MATERIALIZED CTE), not once per side of that join.
    assert reads == 1
    assert sorted(rows) == [("south", "ES", 20, 20 / 26), ("south", "IT", 6, 6 / 26), ("west", "FR", 15, 1.0)]
    # Over the domain itself the window reads the file on each side: cheaper than holding it.
    reads, rows = _parquet_reads([{"name": "domain", "domain": "sales"}, percentage], tmp_path)
    assert reads == 2 and len(rows) == 4


def test_an_aggregate_on_a_truncated_date_truncates_each_raw_date_once(tmp_path: Any) -> None:
    path = tmp_path / "days.parquet"
    conn = duckdb.connect()
    # 400 days, 10 rows a day, some NULL dates and values.
    conn.execute(
        "COPY (SELECT CASE WHEN i % 97 = 0 THEN NULL ELSE DATE '2023-01-01' + CAST(i // 10 AS INTEGER) END AS day, "
        "CASE WHEN i % 13 = 0 THEN NULL ELSE i % 7 END AS units, 'c' || (i % 3) AS shop FROM range(4000) t(i)) "
        f"TO '{path}' (FORMAT parquet)"
    )

    def run(steps: list[dict[str, Any]]) -> tuple[str, list[tuple[Any, ...]]]:
        pipeline = [{"name": "domain", "domain": "d"}, *steps]
        compiled = compile_request(pipeline, resolve_domain=lambda d: f"read_parquet('{path}')", row_filters={})
        return compiled.sql, sorted(conn.execute(compiled.sql, compiled.params).fetchall(), key=str)

    def reference(granularity: str, aggregations: str, keys: str) -> list[tuple[Any, ...]]:
        truncated = f"CAST(date_trunc('{granularity}', day) AS TIMESTAMP)"
        sql = f"SELECT {keys.replace('day', truncated + ' AS day')}, {aggregations} FROM read_parquet('{path}') "
        sql += "GROUP BY ALL"
        return sorted(conn.execute(sql).fetchall(), key=str)

    month = {"name": "dategranularity", "column": "day", "granularity": "month"}
    aggregate = {
        "name": "aggregate",
        "on": ["shop", "day"],
        "aggregations": [
            {"columns": ["units"], "aggfunction": "sum", "newcolumns": ["units"]},
            {"columns": ["units"], "aggfunction": "count", "newcolumns": ["n"]},
            {"columns": ["units"], "aggfunction": "max", "newcolumns": ["most"]},
        ],
    }
    sql, rows = run([month, aggregate])
    assert "__part0" in sql  # aggregated on the raw dates first
    assert rows == reference("month", "sum(units), count(units), max(units)", "shop, day")
    assert len(rows) == 3 * 15  # 3 shops x (14 months + the NULL dates)
    # avg does not combine exactly, min(day) must see truncated dates: the plain form.
    for aggregation in ({"columns": ["units"], "aggfunction": "avg", "newcolumns": ["units"]},
                        {"columns": ["day"], "aggfunction": "min", "newcolumns": ["first_day"]}):  # fmt: skip
        sql, rows = run([month, {**aggregate, "aggregations": [aggregation]}])
        assert "__part0" not in sql
    sql, rows = run([{**month, "granularity": "year"}, {**aggregate, "on": ["day"]}])
    assert rows == reference("year", "sum(units), count(units), max(units)", "day")
