"""customsql as an attacker writes it: no file, no other app, no unfiltered row, no setting.

mallory holds `contribute` on alpha and sees France only; victor views alpha. Every query
below is sent through the HTTP API (`/alpha/query/preview`, `/alpha/data`) or a real
preprocess job, and must neither return beta's rows (BETA_MARKER), alpha's rows outside
France (HIDDEN_MARKER) nor a file's content; the refusal is a 4xx JSON error. The second
lock (the DuckDB database of a query reads only the app's own domain files) is tested both
alone and behind a compiler whose customsql checks are switched off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.tenants import ALPHA_ETL, BETA_MARKER, HIDDEN_MARKER, Tenants, leaked
from tests.helpers.workers import wait_for_job
from toucan.apps.configs import Stage
from toucan.data.domains import DomainStore, copy_select_to_parquet, domain_store_for, sql_string
from toucan.data.engine import QueryEngine, Reach
from toucan.db.engine import Database
from toucan.errors import PermissionDenied
from toucan.settings import Settings

FILE_MARKER = "ON-DISK-ONLY-5d1e"


def preview(client: TestClient, headers: dict[str, str], sql: str, app: str = "alpha") -> Any:
    pipeline = [{"name": "domain", "domain": "sales"}, {"name": "customsql", "query": sql}]
    return client.post(f"/{app}/query/preview", json={"query": pipeline}, headers=headers)


def assert_refused(response: Any) -> None:
    """A 4xx JSON error that leaks nothing (no row of beta or outside France, no file)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    assert set(response.json()) == {"error"}, response.text[:500]
    assert not leaked(response.text) and FILE_MARKER not in response.text, response.text[:500]


@pytest.fixture
def csv_on_disk(tmp_path: Path) -> Path:
    """A CSV anywhere on the host, as a file an attacker would like to read."""
    path = tmp_path / "elsewhere" / "secrets.csv"
    path.parent.mkdir()
    path.write_text(f"what\n{FILE_MARKER}\n")
    return path


def attacks(tenants: Tenants, csv: Path) -> list[str]:
    """Every way found to read a file, another app's domain or the catalog from customsql."""
    beta = tenants.domain_files("beta")
    alpha = tenants.domain_files("alpha")
    assert beta and alpha, "the tenants have no domain files"
    beta_dir = beta[0].parent
    glob = f"{beta_dir}/*.parquet"
    data_dir = tenants.data_dir
    relative = f"{data_dir.name}/domains/*/*.parquet"
    return [
        # The report's query: a CTE named like the path, in a scope where DuckDB cannot see it.
        f'SELECT * FROM (WITH "{glob}" AS (SELECT 1) SELECT 1) t, "{glob}"',
        # A self-referencing CTE (not RECURSIVE: the name inside is not the CTE).
        f'WITH "{glob}" AS (SELECT * FROM "{glob}") SELECT * FROM "{glob}"',
        # A CTE defined after the table that reads it.
        f'WITH a AS (SELECT * FROM "{beta[0]}"), "{beta[0]}" AS (SELECT 1) SELECT * FROM a',
        f'SELECT * FROM "{beta[0]}"',
        f"SELECT * FROM '{beta[0]}'",
        f"SELECT * FROM '{relative}'",
        f'SELECT * FROM "{relative}"',
        f"SELECT * FROM read_parquet('{glob}')",
        f"SELECT * FROM parquet_scan('{beta[0]}')",
        f"SELECT * FROM '{csv}'",
        f"SELECT * FROM read_csv('{csv}')",
        f"SELECT * FROM read_csv_auto('{csv}')",
        f"SELECT * FROM read_text('{csv}')",
        f"SELECT * FROM sales WHERE EXISTS (FROM '{csv}')",
        f"SELECT (SELECT list(what) FROM '{csv}') AS x FROM sales",
        f"SELECT * FROM sales, LATERAL (SELECT * FROM '{csv}')",
        f"SELECT * FROM glob('{data_dir}/**')",
        # The builder's own domain file, read without the row filter.
        f"SELECT * FROM '{alpha[0]}'",
        f"SELECT * FROM read_parquet('{alpha[0]}')",
        # Catalog, settings, environment, extensions.
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM duckdb_tables()",
        "SELECT current_setting('temp_directory') AS t FROM sales",
        "SELECT getenv('TOUCAN_SECRET_KEY') AS k FROM sales",
        "SELECT * FROM main.sales",
        "SELECT * FROM memory.main.sales",
        "SELECT * FROM range(10)",
        "PRAGMA database_list",
        "SET enable_external_access = true",
        "INSTALL httpfs",
        f"ATTACH '{data_dir}/toucan.db' AS meta",
        f"COPY (SELECT 1) TO '{data_dir}/x.csv'",
        "SELECT * FROM sales; SELECT * FROM payroll",
        # A parameter would bind the row filter's value elsewhere.
        "SELECT * FROM sales WHERE country = ? OR true",
        # The pipeline's own CTEs, shadowed.
        "WITH __s0 AS (SELECT 1) SELECT * FROM sales",
    ]


def test_customsql_reads_no_file_other_app_catalog_or_setting(
    client: TestClient, tenants: Tenants, csv_on_disk: Path
) -> None:
    for sql in attacks(tenants, csv_on_disk):
        response = preview(client, tenants.builder, sql)
        assert_refused(response)
        if str(tenants.data_dir) not in sql:  # the server's folders are named only when echoed
            assert str(tenants.data_dir) not in response.text, (sql, response.text[:300])


def test_another_apps_domain_is_not_a_name_customsql_can_use(client: TestClient, tenants: Tenants) -> None:
    assert_refused(preview(client, tenants.builder, "SELECT * FROM payroll"))
    # ...and beta's builder tools are closed to alpha's builder.
    assert_refused(preview(client, tenants.builder, "SELECT * FROM payroll", app="beta"))


def test_row_filters_hold_inside_customsql(client: TestClient, tenants: Tenants) -> None:
    """The builder's own domain, read by name from customsql, is filtered as everywhere."""
    for sql in (
        "SELECT * FROM sales",
        "SELECT * FROM ##PREVIOUS_STEP## UNION ALL SELECT * FROM sales",
        "WITH everything AS (SELECT * FROM sales) SELECT * FROM everything",
        "WITH RECURSIVE r AS (SELECT * FROM sales UNION SELECT * FROM r) SELECT * FROM r",
        "SELECT * FROM sales s JOIN (SELECT city FROM sales) t USING (city)",
    ):
        response = preview(client, tenants.builder, sql)
        assert response.status_code == 200, (sql, response.text)
        rows = response.json()["data"]
        assert rows and {r["country"] for r in rows} == {"France"}, (sql, rows)
        assert not leaked(response.text)


def test_a_story_with_customsql_serves_viewers_nothing_unfiltered(client: TestClient, tenants: Tenants) -> None:
    query = {"query": [{"name": "domain", "domain": "sales"}, {"name": "customsql", "query": "SELECT * FROM sales"}]}
    # On production, the builder's own request is filtered...
    response = client.post("/alpha/data", json=query, headers=tenants.builder)
    assert response.status_code == 200, response.text
    assert not leaked(response.text)
    # ...and a viewer cannot run raw SQL at all.
    response = client.post("/alpha/data", json=query, headers=tenants.viewer)
    assert_refused(response)


def test_legitimate_customsql_still_works(client: TestClient, tenants: Tenants) -> None:
    sql = (
        "WITH by_city AS (SELECT city, sum(revenue) AS total FROM ##PREVIOUS_STEP## GROUP BY city) "
        "SELECT * FROM by_city PIVOT (sum(total) FOR city IN ('Paris', 'Lyon')) ORDER BY 1"
    )
    response = preview(client, tenants.admin, sql)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == [{"Paris": 100, "Lyon": 50}]


# --- the second lock: the database of a query reads only the app's own domain files --------


def sales_file(settings: Settings, db: Database) -> Path:
    """alpha's `sales` file in production (the data dir may hold files of earlier tests)."""
    return domain_store_for(settings, db).snapshot("alpha", Stage.PRODUCTION).get("sales").path


def test_the_engine_reads_only_its_reach(settings: Settings, db: Database, tenants: Tenants, csv_on_disk: Path) -> None:
    alpha, beta = sales_file(settings, db), tenants.domain_files("beta")[0]
    engine = QueryEngine(workers=1, timeout=30)
    reach = Reach.of([alpha])
    try:
        assert engine.run_sync(lambda c: c.execute(f"SELECT count(*) FROM '{alpha}'").fetchone(), reach) == (4,)
        for sql in (
            f"SELECT * FROM '{beta}'",
            f"SELECT * FROM read_parquet('{alpha.parent}/*.parquet')",
            f"SELECT * FROM '{csv_on_disk}'",
            f"SELECT * FROM glob('{tenants.data_dir}/*')",
            f"ATTACH '{tenants.data_dir}/other.db'",
            f"COPY (SELECT 1) TO '{tenants.data_dir}/out.csv'",
            "INSTALL httpfs",
        ):
            with pytest.raises(PermissionDenied) as refused:
                engine.run_sync(lambda c, sql=sql: c.execute(sql).fetchall(), reach)
            assert refused.value.code == "outside_reach" and str(tenants.data_dir) not in refused.value.message
        for sql in (
            "SET enable_external_access = true",
            "SET allowed_directories = ['/']",
            "RESET lock_configuration",
        ):
            with pytest.raises(Exception, match="locked"):
                engine.run_sync(lambda c, sql=sql: c.execute(sql).fetchall(), reach)
        assert not (tenants.data_dir / "out.csv").exists()
    finally:
        engine.close()


def test_a_rewrite_bug_still_reads_nothing_outside_the_app(
    client: TestClient, tenants: Tenants, csv_on_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With customsql's checks switched off, the engine alone keeps other files out of reach."""
    from toucan.data.pipeline import raw_sql

    def unchecked(query: Any, previous: str, domain_source: Any, where: Any) -> str:
        return str(query).replace(raw_sql.PLACEHOLDER, previous)

    monkeypatch.setattr(raw_sql, "rewrite_custom_sql", unchecked)
    beta = tenants.domain_files("beta")[0]
    for sql in (f"SELECT * FROM '{beta}'", f"SELECT * FROM read_csv('{csv_on_disk}')"):
        response = preview(client, tenants.builder, sql)
        assert_refused(response)
        assert response.json()["error"]["code"] == "outside_reach", response.text
    # The switch worked: the same broken compiler runs the builder's own table.
    assert preview(client, tenants.builder, "SELECT 1 AS one FROM ##PREVIOUS_STEP##").status_code == 200


def test_a_preprocess_connection_reads_only_its_inputs(settings: Settings, db: Database, tenants: Tenants) -> None:
    store: DomainStore = domain_store_for(settings, db)
    alpha, beta = sales_file(settings, db), tenants.domain_files("beta")[0]

    def steal(conn: Any, target: Path) -> None:
        copy_select_to_parquet(conn, f"SELECT * FROM read_parquet({sql_string(str(beta))})", target)

    with pytest.raises(Exception, match="Permission Error"):
        store.stage_file("alpha", steal, reads=[alpha])
    staged = store.stage_file(
        "alpha",
        lambda conn, target: copy_select_to_parquet(conn, f"SELECT * FROM read_parquet('{alpha}')", target),
        reads=[alpha],
    )
    assert staged.rows == 4
    assert not any(p.name.endswith(".tmp") for p in store.app_dir("alpha").iterdir())


@pytest.mark.usefixtures("worker")
def test_a_preprocess_pipeline_with_customsql_reads_only_its_inputs(
    client: TestClient, tenants: Tenants, csv_on_disk: Path
) -> None:
    beta = tenants.domain_files("beta")[0]
    uploaded = client.post(
        "/alpha/data/sources",
        files={"file": ("seed.csv", b"n\n1\n")},
        data={"data": json.dumps({"filename": "seed.csv"})},
        headers=tenants.builder,
    )
    assert uploaded.status_code == 201, uploaded.text
    for sql in (f"SELECT * FROM '{beta}'", f"SELECT * FROM read_csv('{csv_on_disk}')", "SELECT * FROM payroll"):
        etl = {
            "DATA_SOURCES": [{"domain": "seed", "file": "seed.csv"}],
            "PIPELINE": [
                {
                    "input_domains": ["seed"],
                    "pipeline": [{"name": "domain", "domain": "seed"}, {"name": "customsql", "query": sql}],
                    "output_domain": "stolen",
                }
            ],
        }
        assert client.put("/alpha/config/etl", json=etl, headers=tenants.builder).status_code == 200
        response = client.post("/alpha/data/preprocess?stage=staging", headers=tenants.builder)
        assert response.status_code == 202, response.text
        job = wait_for_job(client, tenants.builder, response.json()["id"], timeout=90)
        assert job["state"] == "failed", job
        text = json.dumps(job)
        assert BETA_MARKER not in text and FILE_MARKER not in text and HIDDEN_MARKER not in text
        assert "PIPELINE[0]" in job["error"], job["error"]
    metadata = client.get("/alpha/metadata?stage=staging", headers=tenants.builder).json()
    assert "stolen" not in {d["name"] for d in metadata["domains"]}


# --- /metadata and domain names -----------------------------------------------------------


def test_metadata_counts_only_what_the_caller_may_see(client: TestClient, tenants: Tenants) -> None:
    etl = {
        "DATA_PERMISSIONS": [
            *ALPHA_ETL["DATA_PERMISSIONS"],  # sales: the caller's country only
            {"domain": "secret", "scope": "ALL_USERS", "effect": "SEE_NOTHING"},
        ]
    }
    secret = client.put(
        "/alpha/domain/secret?stage=staging",
        content="a\n1\n2\n3\n",
        headers={**tenants.admin, "Content-Type": "text/csv"},
    )
    assert secret.status_code == 200, secret.text
    assert client.put("/alpha/config/etl", json=etl, headers=tenants.admin).status_code == 200
    released = client.post(
        "/alpha/config/operations", json={"operations": ["release_design", "release_data"]}, headers=tenants.admin
    )
    assert released.status_code == 200, released.text

    def counts(headers: dict[str, str]) -> dict[str, int]:
        response = client.get("/alpha/metadata", headers=headers)
        assert response.status_code == 200, response.text
        return {d["name"]: d["rows"] for d in response.json()["domains"]}

    assert counts(tenants.viewer) == {"sales": 2}  # France only; `secret` is not even named
    assert counts(tenants.admin) == {"sales": 4, "secret": 3}


@pytest.mark.parametrize("name", ["..", "../../x", ".hidden", "a b", "a;b", "x" * 101, "-x", "a.parquet", "é"])
def test_domain_names_are_checked_like_app_ids(client: TestClient, tenants: Tenants, name: str) -> None:
    etl = {"DATA_SOURCES": [{"domain": name, "file": "seed.csv"}]}
    response = client.put("/alpha/config/etl", json=etl, headers=tenants.builder)
    assert response.status_code == 400, response.text
    assert "DATA_SOURCES[0].domain" in response.text
    from urllib.parse import quote

    uploaded = client.put(
        f"/alpha/domain/{quote(name, safe='')}?stage=staging",
        content="a\n1\n",
        headers={**tenants.builder, "Content-Type": "text/csv"},
    )
    assert uploaded.status_code in (400, 404), uploaded.text
    assert not list(tenants.data_dir.rglob("x.parquet")) and not (tenants.data_dir.parent / "x").exists()
    # Nothing of it reached the store.
    assert name not in {
        d["name"] for d in client.get("/alpha/metadata?stage=staging", headers=tenants.builder).json()["domains"]
    }


def test_the_store_refuses_a_bad_domain_name_whatever_calls_it(settings: Settings, db: Database) -> None:
    store = domain_store_for(settings, db)
    from toucan.data.domains import StagedFile
    from toucan.errors import ValidationError

    with pytest.raises(ValidationError):
        store.commit("alpha", Stage.STAGING, {"../x": StagedFile("f.parquet", 0, [])}, replace_all=False, author=None)
