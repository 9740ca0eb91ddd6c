"""`POST /{app}/data/export`: a data request's whole answer as CSV or Excel, with the caller's
row filters and the request's variables applied — tested as a viewer, as an attacker and
with hostile cell values."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.api.test_data import _setup, _with_permissions
from tests.helpers.api import assert_error
from toucan.app import create_api
from toucan.db.engine import Database
from toucan.settings import Settings

SALES = [{"name": "domain", "domain": "sales"}]


def _export(
    client: TestClient, headers: dict[str, str], query: Any, fmt: str = "csv", app: str = "sales", **params: Any
) -> Any:
    body = {"query": query, **params.pop("body", {})}
    query_string = "&".join(f"{k}={v}" for k, v in {"format": fmt, **params}.items())
    return client.post(f"/{app}/data/export?{query_string}", json=body, headers=headers)


def _csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


def _xlsx_rows(response: Any) -> list[list[Any]]:
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_csv_and_excel_hold_every_row_of_the_answer(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    pipeline = [
        *SALES,
        {"name": "filter", "condition": {"column": "year", "operator": "eq", "value": "{{ year }}"}},
        {"name": "sort", "columns": [{"column": "revenue", "order": "desc"}]},
    ]
    response = _export(client, admin_headers, pipeline, body={"variables": {"year": 2024}}, filename="Top cities")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == "attachment; filename*=utf-8''Top%20cities.csv"
    assert response.headers["x-toucan-rows"] == "3"
    assert response.headers["x-toucan-truncated"] == "false"
    assert [(r["city"], r["revenue"]) for r in _csv_rows(response)] == [
        ("Roma", "90"),
        ("Madrid", "70"),
        ("Lyon", "50"),
    ]

    response = _export(client, admin_headers, pipeline, "xlsx", body={"variables": {"year": 2023}})
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = _xlsx_rows(response)
    assert rows[0] == ["country", "city", "year", "revenue"]
    # Numbers stay numbers in the sheet.
    assert rows[1:] == [["Spain", "Sevilla", 2023, 30], ["France", "Paris", 2023, 100]][::-1]


def test_an_empty_answer_is_a_header(client: TestClient, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    query = [*SALES, {"name": "filter", "condition": {"column": "year", "operator": "eq", "value": 1999}}]
    response = _export(client, admin_headers, query)
    assert response.status_code == 200
    assert response.content.decode().splitlines() == ['"country","city","year","revenue"']
    assert _xlsx_rows(_export(client, admin_headers, query, "xlsx")) == [["country", "city", "year", "revenue"]]


def test_a_file_past_the_cap_is_cut_and_says_so(
    settings: Settings, db: Database, admin_headers: dict[str, str]
) -> None:
    capped = settings.model_copy(update={"export_max_rows": 4})
    with TestClient(create_api(capped, db), raise_server_exceptions=False) as client:
        _setup(client, admin_headers)
        response = _export(client, admin_headers, SALES)
        assert len(_csv_rows(response)) == 4
        assert response.headers["x-toucan-truncated"] == "true"
        response = _export(client, admin_headers, SALES, "xlsx", body={"limit": 2})
        assert len(_xlsx_rows(response)) == 3
        assert response.headers["x-toucan-truncated"] == "true"


def test_viewers_export_only_their_rows(client: TestClient, admin_headers: dict[str, str], make_user: Any) -> None:
    _with_permissions(client, admin_headers)
    french = make_user("fr", privileges={"sales": ["view"]}, attributes={"country": "France"})
    for fmt in ("csv", "xlsx"):
        response = _export(client, french, SALES, fmt)
        countries = (
            [r["country"] for r in _csv_rows(response)] if fmt == "csv" else [r[0] for r in _xlsx_rows(response)[1:]]
        )
        assert set(countries) == {"France"}, fmt
    # A domain they may see nothing of exports a header only; joins and unions do not widen it.
    assert _csv_rows(_export(client, french, [{"name": "domain", "domain": "targets"}])) == []
    widen = [
        {"name": "domain", "domain": "targets"},
        {"name": "append", "pipelines": [[{"name": "domain", "domain": "sales"}]]},
    ]
    assert {r["country"] for r in _csv_rows(_export(client, french, widen))} <= {"France"}


def test_attackers_are_refused(client: TestClient, admin_headers: dict[str, str], make_user: Any) -> None:
    _setup(client, admin_headers)
    client.post("/small-apps", json={"id": "other", "name": "Other"}, headers=admin_headers).raise_for_status()
    viewer = make_user("vic", privileges={"sales": ["view"]})
    outsider = make_user("out", privileges={"other": ["contribute"]})
    # No privilege on the app: the app does not exist for them, as on /data.
    assert_error(_export(client, outsider, SALES), 404)
    # A viewer reads production only, and never runs raw SQL.
    assert_error(_export(client, viewer, SALES, stage="staging"), 403)
    raw_sql = [*SALES, {"name": "customsql", "query": "SELECT * FROM sales"}]
    assert_error(_export(client, viewer, raw_sql), 403)
    # Unknown apps, formats, and file names that would leave the header are refused.
    assert_error(_export(client, admin_headers, SALES, app="nope"), 404)
    assert_error(_export(client, viewer, SALES, "parquet"), 400)
    for name in ("a/b", 'x"y', "x%0D%0ASet-Cookie:%20a=b"):
        assert_error(_export(client, viewer, SALES, filename=name), 400)
    # Without a login: 401.
    assert_error(client.post("/sales/data/export", json={"query": SALES}), 401)
    # A malformed request says where.
    error = assert_error(_export(client, viewer, [{"name": "filter"}]), 400)
    assert "filter" in error["message"] or error.get("details")


def test_cells_a_spreadsheet_would_run_are_written_as_text(client: TestClient, admin_headers: dict[str, str]) -> None:
    client.post("/small-apps", json={"id": "sales", "name": "Sales"}, headers=admin_headers).raise_for_status()
    hostile = 'label,n\n"=HYPERLINK(""http://evil"",""x"")",1\n@SUM(A1),2\n+1+1,3\n-2,4\nplain,5\n'
    client.put(
        "/sales/domain/sales?stage=staging", content=hostile, headers={**admin_headers, "Content-Type": "text/csv"}
    ).raise_for_status()
    client.post("/sales/data/release", headers=admin_headers).raise_for_status()
    labels = [r["label"] for r in _csv_rows(_export(client, admin_headers, SALES))]
    assert labels == ['\'=HYPERLINK("http://evil","x")', "'@SUM(A1)", "'+1+1", "'-2", "plain"]
    response = _export(client, admin_headers, SALES, "xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    # Text cells, never formulas: a spreadsheet shows them as written, without the apostrophe.
    assert all(c.data_type == "s" for c in cells)
    assert [c.value for c in cells] == ['=HYPERLINK("http://evil","x")', "@SUM(A1)", "+1+1", "-2", "plain"]
