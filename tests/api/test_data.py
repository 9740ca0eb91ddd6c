"""The data routes through HTTP: domains, /data, preview, metadata, downloads, release,
data permissions and the cache."""

from __future__ import annotations

import io
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tests.helpers.api import assert_error
from toucan.app import create_api
from toucan.db.engine import Database
from toucan.settings import Settings

SALES_CSV = (
    "country,city,year,revenue\n"
    "France,Paris,2023,100\n"
    "France,Lyon,2024,50\n"
    "Spain,Madrid,2024,70\n"
    "Spain,Sevilla,2023,30\n"
    "Italy,Roma,2024,90\n"
)
TARGETS_CSV = "country,target\nFrance,120\nSpain,90\nItaly,100\n"


def _setup(client: TestClient, headers: dict[str, str], *, release: bool = True) -> None:
    client.post("/small-apps", json={"id": "sales", "name": "Sales"}, headers=headers).raise_for_status()
    for domain, body in (("sales", SALES_CSV), ("targets", TARGETS_CSV)):
        response = client.put(
            f"/sales/domain/{domain}?stage=staging",
            content=body,
            headers={**headers, "Content-Type": "text/csv"},
        )
        assert response.status_code == 200, response.text
    if release:
        client.post("/sales/data/release", headers=headers).raise_for_status()


def _data(client: TestClient, headers: dict[str, str], query: Any, stage: str = "production", **body: Any) -> Any:
    return client.post(f"/sales/data?stage={stage}", json={"query": query, **body}, headers=headers)


def test_upload_metadata_and_a_pipeline_query(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    meta = client.get("/sales/metadata?stage=production", headers=admin_headers).json()
    sales = next(d for d in meta["domains"] if d["name"] == "sales")
    assert sales["rows"] == 5
    assert {"name": "revenue", "type": "integer"} in sales["columns"]
    pipeline = [
        {"name": "domain", "domain": "sales"},
        {"name": "filter", "condition": {"column": "year", "operator": "eq", "value": 2024}},
        {
            "name": "aggregate",
            "on": ["country"],
            "aggregations": [{"columns": ["revenue"], "aggfunction": "sum", "newcolumns": ["revenue"]}],
        },
        {"name": "sort", "columns": [{"column": "revenue", "order": "desc"}]},
    ]
    body = _data(client, admin_headers, pipeline).json()
    assert body["data"] == [
        {"country": "Italy", "revenue": 90},
        {"country": "Spain", "revenue": 70},
        {"country": "France", "revenue": 50},
    ]
    assert [c["name"] for c in body["columns"]] == ["country", "revenue"]
    assert body["total"] == 3 and body["truncated"] is False


def test_mongo_style_requests(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    body = _data(client, admin_headers, {"domain": "sales", "country": "France", "year": {"$gte": 2024}}).json()
    assert [r["city"] for r in body["data"]] == ["Lyon"]
    aggregation = [
        {"$match": {"domain": "sales"}},
        {"$group": {"_id": "$country", "total": {"$sum": "$revenue"}}},
        {"$sort": {"total": -1}},
        {"$limit": 1},
    ]
    rows = _data(client, admin_headers, aggregation).json()["data"]
    assert len(rows) == 1 and rows[0]["total"] == 150
    error = assert_error(_data(client, admin_headers, [{"$match": {"domain": "sales"}}, {"$lookup": {}}]), 400)
    assert "$lookup" in error["message"]


def test_variables_are_typed_and_a_missing_one_is_named(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    pipeline = [
        {"name": "domain", "domain": "sales"},
        {
            "name": "filter",
            "condition": {"column": "year", "operator": "eq", "value": "{{ year }}"},
        },
        {
            "name": "filter",
            "condition": {"column": "country", "operator": "eq", "value": "<%= country %>"},
        },
    ]
    rows = _data(client, admin_headers, pipeline, variables={"year": 2023, "country": "Spain"}).json()["data"]
    assert [r["city"] for r in rows] == ["Sevilla"]
    error = assert_error(_data(client, admin_headers, pipeline, variables={"year": 2023}), 400)
    assert "country" in error["message"]


def test_injection_attempts_stay_values(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    evil = "France' OR '1'='1"
    pipeline = [
        {"name": "domain", "domain": "sales"},
        {
            "name": "filter",
            "condition": {"column": "country", "operator": "eq", "value": "{{ c }}"},
        },
    ]
    assert _data(client, admin_headers, pipeline, variables={"c": evil}).json()["data"] == []
    column = 'country" = country OR "1'
    response = _data(
        client,
        admin_headers,
        [
            {"name": "domain", "domain": "sales"},
            {"name": "filter", "condition": {"column": column, "operator": "eq", "value": "x"}},
        ],
    )
    assert_error(response, 400)
    assert_error(
        _data(client, admin_headers, [{"name": "domain", "domain": "sales'); DROP TABLE x; --"}]),
        404,
    )


def test_limit_offset_total_and_truncation(
    settings: Settings, db: Database, admin_headers: dict[str, str], client: TestClient
) -> None:
    _setup(client, admin_headers)
    page = _data(client, admin_headers, [{"name": "domain", "domain": "sales"}], limit=2, offset=1).json()
    assert len(page["data"]) == 2 and page["total"] == 5 and page["truncated"] is True
    capped = settings.model_copy(update={"data_max_rows": 3})
    with TestClient(create_api(capped, db)) as c:
        body = _data(c, admin_headers, [{"name": "domain", "domain": "sales"}]).json()
    assert len(body["data"]) == 3 and body["total"] == 5 and body["truncated"] is True


def test_a_slow_query_answers_504(
    settings: Settings, db: Database, admin_headers: dict[str, str], client: TestClient
) -> None:
    _setup(client, admin_headers)
    impatient = settings.model_copy(update={"query_timeout": 0.2})
    slow = [
        {"name": "domain", "domain": "sales"},
        # 5 rows joined with themselves 15 times: 3e10 combinations, far past the timeout.
        {
            "name": "customsql",
            "query": "SELECT sum(t0.revenue) AS n FROM " + ", ".join(f"##PREVIOUS_STEP## t{i}" for i in range(15)),
        },
    ]
    with TestClient(create_api(impatient, db)) as c:
        error = assert_error(_data(c, admin_headers, slow), 504, "query_timeout")
    assert "TOUCAN_QUERY_TIMEOUT" in error["message"]


def test_viewers_query_production_only_and_not_raw_sql(
    client: TestClient, admin_headers: dict[str, str], make_user: Any
) -> None:
    _setup(client, admin_headers)
    viewer = make_user("vic", privileges={"sales": ["view"]})
    stranger = make_user("sam")
    q = [{"name": "domain", "domain": "sales"}]
    assert _data(client, viewer, q).status_code == 200
    assert_error(_data(client, viewer, q, stage="staging"), 403)
    assert_error(_data(client, stranger, q), 404)
    assert_error(client.post("/sales/query/preview", json={"query": q}, headers=viewer), 403)
    raw = [
        {"name": "domain", "domain": "sales"},
        {"name": "customsql", "query": "SELECT * FROM sales"},
    ]
    assert_error(_data(client, viewer, raw), 403)
    assert_error(client.get("/sales/domain/sales?format=csv", headers=viewer), 403)
    assert_error(
        client.put(
            "/sales/domain/x?stage=staging",
            content="a\n1\n",
            headers={**viewer, "Content-Type": "text/csv"},
        ),
        403,
    )


def test_preview_defaults_to_staging_and_a_small_limit(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers, release=False)
    preview = client.post(
        "/sales/query/preview",
        json={"query": [{"name": "domain", "domain": "sales"}]},
        headers=admin_headers,
    )
    assert preview.status_code == 200 and preview.json()["total"] == 5
    assert_error(_data(client, admin_headers, [{"name": "domain", "domain": "sales"}]), 404)  # nothing released


def test_release_makes_staging_data_production(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    client.put(
        "/sales/domain/sales?stage=staging",
        content="country,revenue\nPeru,1\n",
        headers={**admin_headers, "Content-Type": "text/csv"},
    ).raise_for_status()
    q = [{"name": "domain", "domain": "sales"}]
    assert _data(client, admin_headers, q).json()["total"] == 5
    assert _data(client, admin_headers, q, stage="staging").json()["total"] == 1
    released = client.post("/sales/data/release", headers=admin_headers).json()
    assert released["domains"] == ["sales", "targets"]
    assert _data(client, admin_headers, q).json()["data"] == [{"country": "Peru", "revenue": 1}]


def test_bad_uploads_say_why_and_keep_the_previous_data(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    bad = "country,revenue\nFrance,10\nSpain,20,30,40\nItaly,5\n"
    error = assert_error(
        client.put(
            "/sales/domain/sales?stage=staging",
            content=bad,
            headers={**admin_headers, "Content-Type": "text/csv"},
        ),
        400,
        "invalid_file",
    )
    assert "line" in error["message"].lower() or "line" in str(error["details"]).lower()
    assert_error(
        client.put(
            "/sales/domain/sales?stage=staging",
            content=b"",
            headers={**admin_headers, "Content-Type": "text/csv"},
        ),
        400,
    )
    assert_error(client.put("/sales/domain/sales?stage=staging", content=b"x", headers=admin_headers), 400)
    assert_error(
        client.put(
            "/sales/domain/sales?stage=staging&format=parquet",
            content=b"not parquet",
            headers=admin_headers,
        ),
        400,
        "invalid_file",
    )
    assert _data(client, admin_headers, [{"name": "domain", "domain": "sales"}], stage="staging").json()["total"] == 5


def test_upload_delimiter_is_checked_and_used(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    csv_headers = {**admin_headers, "Content-Type": "text/csv"}
    error = assert_error(
        client.put("/sales/domain/sales?stage=staging&delimiter=;;", content="a;b\n1;2\n", headers=csv_headers),
        400,
    )
    assert "separator" in error["message"]
    body = "country;revenue\nPeru;7\nChile;3\n"
    answer = client.put("/sales/domain/sales?stage=staging&delimiter=;", content=body, headers=csv_headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == 2
    assert {"name": "revenue", "type": "integer"} in answer.json()["columns"]
    rows = _data(client, admin_headers, [{"name": "domain", "domain": "sales"}], stage="staging").json()["data"]
    assert rows == [{"country": "Peru", "revenue": 7}, {"country": "Chile", "revenue": 3}]


def test_uploads_above_the_limit_are_413(
    settings: Settings, db: Database, admin_headers: dict[str, str], client: TestClient
) -> None:
    _setup(client, admin_headers, release=False)
    small = settings.model_copy(update={"upload_max_bytes": 1024})
    with TestClient(create_api(small, db)) as c:
        body = "a,b\n" + "1,2\n" * 1000
        assert_error(
            c.put(
                "/sales/domain/big?stage=staging",
                content=body,
                headers={**admin_headers, "Content-Type": "text/csv"},
            ),
            413,
        )


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_download_in_each_format(client: TestClient, admin_headers: dict[str, str], fmt: str) -> None:
    _setup(client, admin_headers)
    response = client.get(f"/sales/domain/targets?stage=production&format={fmt}", headers=admin_headers)
    assert response.status_code == 200
    if fmt == "csv":
        assert response.text.splitlines()[0] == "country,target" and len(response.text.splitlines()) == 4
    elif fmt == "json":
        assert {"country": "Spain", "target": 90} in response.json()
    else:
        assert pq.read_table(io.BytesIO(response.content)).num_rows == 3


PERMISSIONS = {
    "DATA_PERMISSIONS": [
        {
            "domain": "sales",
            "scope": "ALL_USERS",
            "effect": "CUSTOM",
            "condition": {
                "column": "country",
                "operator": "eq",
                "value": "{{ user.attributes.country }}",
            },
        },
        {"domain": "sales", "scope": "USER_GROUP", "group": "managers", "effect": "SEE_ALL"},
        {"domain": "targets", "scope": "DEFAULT", "effect": "SEE_NOTHING"},
    ]
}


def _with_permissions(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    client.put("/sales/config/etl?stage=staging", json=PERMISSIONS, headers=admin_headers).raise_for_status()
    client.post(
        "/sales/config/operations", json={"operations": ["release_design"]}, headers=admin_headers
    ).raise_for_status()
    client.post("/groups", json={"name": "managers"}, headers=admin_headers).raise_for_status()


def test_permissions_filter_rows_per_user(client: TestClient, admin_headers: dict[str, str], make_user: Any) -> None:
    _with_permissions(client, admin_headers)
    french = make_user("fr", privileges={"sales": ["view"]}, attributes={"country": "France"})
    manager = make_user("boss", privileges={"sales": ["view"]}, groups=["managers"], attributes={"country": "Spain"})
    q = [{"name": "domain", "domain": "sales"}]
    assert {r["country"] for r in _data(client, french, q).json()["data"]} == {"France"}
    assert _data(client, manager, q).json()["total"] == 5
    assert _data(client, french, [{"name": "domain", "domain": "targets"}]).json()["data"] == []
    # The same request by two users never shares a cached answer.
    assert _data(client, french, q).json()["total"] == 2


def test_no_request_shape_widens_permissions(client: TestClient, admin_headers: dict[str, str], make_user: Any) -> None:
    _with_permissions(client, admin_headers)
    builder = make_user("bea", privileges={"sales": ["contribute"]}, attributes={"country": "France"})
    attempts: list[Any] = [
        [
            {"name": "domain", "domain": "targets"},
            {"name": "append", "pipelines": [[{"name": "domain", "domain": "sales"}]]},
        ],
        [
            {"name": "domain", "domain": "targets"},
            {
                "name": "join",
                "right_pipeline": [{"name": "domain", "domain": "sales"}],
                "type": "left",
                "on": [["country", "country"]],
            },
        ],
        [
            {"name": "domain", "domain": "sales"},
            {"name": "customsql", "query": "SELECT * FROM sales"},
        ],
        [
            {"name": "domain", "domain": "sales"},
            {
                "name": "filter",
                "condition": {"or": [{"column": "country", "operator": "ne", "value": "x"}]},
            },
        ],
        {"domain": "sales", "$or": [{"country": "Spain"}, {"country": "Italy"}]},
        [{"$match": {"domain": "sales"}}, {"$group": {"_id": None, "n": {"$sum": 1}}}],
    ]
    for query in attempts:
        response = _data(client, builder, query)
        if response.status_code != 200:
            assert response.status_code in (400, 403), response.text
            continue
        rows = response.json()["data"]
        countries = {r.get("country") for r in rows} - {None}
        assert countries <= {"France"}, (query, rows)
        if rows and "n" in rows[0]:
            assert rows[0]["n"] == 2, (query, rows)
        assert all(r.get("target") is None for r in rows), (query, rows)
    # Raw SQL cannot reach files or tables other than the filtered domains.
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM duckdb_tables()",
        "COPY sales TO '/tmp/x.csv'",
    ):
        response = _data(
            client,
            builder,
            [{"name": "domain", "domain": "sales"}, {"name": "customsql", "query": sql}],
        )
        assert response.status_code in (400, 403), (sql, response.text)
    # Downloads apply the permissions too.
    csv = client.get("/sales/domain/sales?stage=production&format=csv", headers=builder).text
    assert "Spain" not in csv and "France" in csv


def test_steps_take_both_spellings_and_malformed_ones_say_where(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    _setup(client, admin_headers)
    top = {"name": "top", "rank_on": "revenue", "sort": "desc", "limit": 1}
    snake = _data(client, admin_headers, [{"name": "domain", "domain": "sales"}, top])
    camel = _data(client, admin_headers, [{"name": "domain", "domain": "sales"}, {**top, "rankOn": "revenue"}])
    assert camel.status_code == 400  # both spellings at once
    del top["rank_on"]
    camel = _data(client, admin_headers, [{"name": "domain", "domain": "sales"}, {**top, "rankOn": "revenue"}])
    assert snake.status_code == camel.status_code == 200 and snake.json()["data"] == camel.json()["data"]
    error = assert_error(
        _data(client, admin_headers, [{"name": "domain", "domain": "sales"}, {"name": "sort", "columns": "revenue"}]),
        400,
        "validation_error",
    )
    assert error["details"] == {"step": 1, "name": "sort", "field": "columns", "problem": "list_type"}
    assert "has no attribute" not in error["message"] and "'columns'" in error["message"]
    # Deeply nested conditions: a 400 before anything recurses into them.
    condition: dict[str, Any] = {"column": "year", "operator": "eq", "value": 2024}
    for _ in range(300):
        condition = {"and": [condition]}
    deep = [{"name": "domain", "domain": "sales"}, {"name": "filter", "condition": condition}]
    error = assert_error(_data(client, admin_headers, deep), 400, "too_deep")
    assert "query[1].condition" in error["details"]["path"] and "TOUCAN_MAX_NESTING_DEPTH" in error["message"]


def test_new_data_is_never_served_from_a_stale_cache(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    q = [{"name": "domain", "domain": "targets"}]
    first = _data(client, admin_headers, q, stage="staging").json()
    assert _data(client, admin_headers, q, stage="staging").json() == first  # cached
    client.put(
        "/sales/domain/targets?stage=staging",
        content="country,target\nPeru,1\n",
        headers={**admin_headers, "Content-Type": "text/csv"},
    ).raise_for_status()
    assert _data(client, admin_headers, q, stage="staging").json()["data"] == [{"country": "Peru", "target": 1}]


def test_bad_data_requests_are_400_with_where(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    assert_error(client.post("/sales/data", json={"variables": {}}, headers=admin_headers), 400)
    assert_error(client.post("/sales/data", json={"query": [], "limit": -1}, headers=admin_headers), 400)
    error = assert_error(
        _data(client, admin_headers, [{"name": "domain", "domain": "sales"}, {"name": "filter"}]),
        400,
    )
    assert error["details"]["step"] == 1
    assert_error(_data(client, admin_headers, [{"name": "domain", "domain": "nope"}]), 404)
    assert_error(_data(client, admin_headers, "SELECT 1"), 400)
