"""Bounded inputs, attacked as a builder (or any client) would: a few kilobytes that ask the
server for gigabytes or for unbounded recursion must get a 4xx naming the limit, quickly and
without the memory, never a 500.

- Excel: a tiny .xlsx declaring (or reaching) cell XFD1048576, shared-string and cell bombs
  (TOUCAN_UPLOAD_MAX_CELLS);
- CSON: 200,000 keys parse in well under a second, what `dump_cson` writes reads back;
- nesting: 1,000-deep CSON, JSON configs, request bodies, pipelines, conditions and formulas
  (TOUCAN_MAX_NESTING_DEPTH);
- a chunked body past TOUCAN_MAX_BODY_BYTES is a 413, whatever its Content-Type;
- `/instance-settings?version=` beyond what the database holds is a 404;
- two simultaneous first uploads of one file name: one stored, the other a 409, no orphan file.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers.api import assert_error
from tests.helpers.tenants import Tenants
from toucan.app import create_api
from toucan.db.engine import Database
from toucan.db.etl_models import DataSourceFile
from toucan.errors import ValidationError
from toucan.formats import dump_cson, parse_cson
from toucan.settings import Settings

# --- helpers -------------------------------------------------------------------------------------


@contextmanager
def peak_memory_growth() -> Iterator[list[int]]:
    """The peak growth of this process's resident memory during the block, in bytes (sampled)."""
    process = psutil.Process()
    base = process.memory_info().rss
    peak = [base]
    growth = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            stop.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield growth
    finally:
        stop.set()
        sampler.join()
        growth[0] = max(peak[0], process.memory_info().rss) - base


@contextmanager
def client_with(settings: Settings, db: Database, **overrides: Any) -> Iterator[TestClient]:
    with TestClient(create_api(settings.model_copy(update=overrides), db), raise_server_exceptions=False) as c:
        yield c


DEMO_FRONT = Path(__file__).parents[2] / "src" / "toucan" / "demo" / "front_config.json"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def xlsx(sheet_data: str, dimension: str | None = None, shared_strings: str | None = None) -> bytes:
    """A hand-made workbook: one sheet `Data` whose <sheetData> is `sheet_data`."""
    overrides = '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'  # noqa: E501
    relations = f'<Relationship Id="rId1" Type="{_OFFICE}/worksheet" Target="worksheets/sheet1.xml"/>'
    if shared_strings is not None:
        overrides += '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'  # noqa: E501
        relations += f'<Relationship Id="rId2" Type="{_OFFICE}/sharedStrings" Target="sharedStrings.xml"/>'
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{overrides}</Types>",
        "_rels/.rels": f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
        f'Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{_MAIN}" xmlns:r="{_OFFICE}">'
        '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_RELS}">{relations}</Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{_MAIN}">'
        + (f'<dimension ref="{dimension}"/>' if dimension else "")
        + f"<sheetData>{sheet_data}</sheetData></worksheet>",
    }
    if shared_strings is not None:
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{_MAIN}">{shared_strings}</sst>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + text)
    return out.getvalue()


def two_far_cells(last: str) -> str:
    """A1 holding a header and `last` (e.g. XFD1048576) holding a number: nothing in between."""
    row = "".join(c for c in last if c.isdigit())
    return (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
        f'<row r="{row}"><c r="{last}"><v>1</v></c></row>'
    )


def upload(client: TestClient, headers: dict[str, str], filename: str, content: bytes) -> Any:
    return client.post(
        "/alpha/data/sources",
        files={"file": (filename, content, "application/octet-stream")},
        data={"data": json.dumps({"filename": filename})},
        headers=headers,
    )


# --- Excel ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dimension", ["A1:XFD1048576", None, "A1:B2"], ids=["declared", "no-dimension", "lying"])
def test_a_tiny_xlsx_reaching_cell_xfd1048576_is_refused_fast_and_without_the_memory(
    client: TestClient, tenants: Tenants, dimension: str | None
) -> None:
    content = xlsx(two_far_cells("XFD1048576"), dimension)
    assert len(content) < 5000
    before = files_of(tenants)
    with peak_memory_growth() as growth:
        started = time.perf_counter()
        response = upload(client, tenants.builder, "huge.xlsx", content)
        elapsed = time.perf_counter() - started
    error = assert_error(response, 413, "too_many_cells")
    assert "TOUCAN_UPLOAD_MAX_CELLS" in error["message"] and "'Data'" in error["message"]
    assert error["details"]["sheet"] == "Data" and error["details"]["setting"] == "TOUCAN_UPLOAD_MAX_CELLS"
    assert error["details"]["cells"] > error["details"]["limit"]
    assert elapsed < 5, elapsed  # about 0.03 s (bench/inputs); the old reader never finished
    assert growth[0] < 300 * 2**20, growth[0] / 2**20
    assert client.get("/alpha/data/sources", headers=tenants.builder).json()["sources"] == []
    assert files_of(tenants) == before  # not even a temporary file


def test_xfd4000_which_took_the_old_reader_to_two_gigabytes_is_refused_by_its_declared_size(
    client: TestClient, tenants: Tenants
) -> None:
    with peak_memory_growth() as growth:
        response = upload(client, tenants.builder, "wide.xlsx", xlsx(two_far_cells("XFD4000"), "A1:XFD4000"))
    error = assert_error(response, 413, "too_many_cells")
    assert error["details"]["rows"] == 4000 and error["details"]["columns"] == 16384
    assert growth[0] < 300 * 2**20


def test_empty_styled_cells_out_to_xfd_cost_nothing(client: TestClient, tenants: Tenants) -> None:
    # Formatted but empty cells to the last column of every row, as spreadsheets often keep:
    # the table has the three columns that hold values, not 16,384.
    rows = "".join(
        f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>{r * 2}</v></c><c r="C{r}"><v>{r * 3}</v></c>'
        f'<c r="D{r}" s="0"/><c r="XFD{r}" s="0"/></row>'
        for r in range(1, 501)
    )
    response = upload(client, tenants.builder, "styled.xlsx", xlsx(rows, "A1:XFD500"))
    assert response.status_code == 201, response.text
    assert response.json()["rows"] == 499  # the first row names the columns

    from toucan.etl.excel import read_excel
    from toucan.etl.readers import FileOptions

    stored = client.app.state.sources.path_of("alpha", "styled.xlsx")  # type: ignore[attr-defined]
    table = read_excel(stored, "styled.xlsx", FileOptions(), 20_000_000)
    assert table.column_names == ["1", "2", "3"] and table.num_rows == 499


def test_shared_strings_and_cell_elements_count_against_the_budget(
    settings: Settings, db: Database, tenants: Tenants
) -> None:
    strings = "".join(f"<si><t>s{i}</t></si>" for i in range(3000))
    empty_cells = '<row r="1">' + "".join(f'<c r="A{i}" s="0"/>' for i in range(1, 3001)) + "</row>"
    with client_with(settings, db, upload_max_cells=2000) as client:
        error = assert_error(
            upload(client, tenants.builder, "strings.xlsx", xlsx('<row r="1"><c r="A1"/></row>', None, strings)),
            413,
            "too_many_cells",
        )
        assert "shared strings" in error["message"]
        error = assert_error(upload(client, tenants.builder, "cells.xlsx", xlsx(empty_cells)), 413, "too_many_cells")
        assert "cells" in error["message"]
        # Within the budget, the same kind of file is read.
        small = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>{r - 1}</v></c></row>' for r in range(1, 11))
        ok = upload(client, tenants.builder, "ok.xlsx", xlsx(small, "A1:A10", strings[: strings.index("<si><t>s10<")]))
        assert ok.status_code == 201, ok.text
        assert ok.json()["rows"] == 9


# --- CSON ----------------------------------------------------------------------------------------


def test_a_cson_config_of_200k_keys_is_read_in_linear_time(client: TestClient, tenants: Tenants) -> None:
    keys = {f"key_{i}": i for i in range(200_000)}
    text = dump_cson({"DATA_SOURCES": [], "extra": keys})
    assert 2_000_000 < len(text) < 4_000_000
    started = time.perf_counter()
    assert parse_cson(text, 64)["extra"] == keys
    parsed_in = time.perf_counter() - started
    assert parsed_in < 2, parsed_in  # 0.3 s here (bench/inputs); the cson package took minutes
    started = time.perf_counter()
    response = client.put(
        "/alpha/config/etl?stage=staging&format=cson",
        content=text.encode(),
        headers={**tenants.builder, "Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    assert time.perf_counter() - started < 20


def _cson_fixtures() -> list[tuple[str, Any]]:
    """Every CSON text of the tests, and JSON documents of the tests and the demo, as documents."""
    from tests.auth.test_instance_settings import FAQ_DOCUMENT
    from tests.data.conformance import FIXTURES
    from tests.helpers.tenants import ALPHA_ETL

    documents: list[tuple[str, Any]] = [
        (
            "faq instance settings",
            parse_cson(FAQ_DOCUMENT.replace("{sp_cert}", "MIIC").replace("{idp_cert}", "MII"), 64),
        ),
        ("hand-edited front config", parse_cson("# edited\nslides: [\n  {id: 'a', title: 'A'}\n]\nhome: {}\n", 64)),
        ("alpha etl config", ALPHA_ETL),
        (
            "demo front config",
            json.loads((Path(__file__).parents[2] / "src/toucan/demo/front_config.json").read_text()),
        ),
    ]
    if FIXTURES.is_dir():
        documents += [
            (str(p.relative_to(FIXTURES)), json.loads(p.read_text())) for p in sorted(FIXTURES.rglob("*.json"))
        ]
    return documents


def test_what_dump_cson_writes_reads_back_the_same() -> None:
    from tests.data.conformance import FIXTURES

    documents = _cson_fixtures()
    # The conformance fixtures (../shared/, when present) add hundreds of real pipelines.
    assert len(documents) > 10 if FIXTURES.is_dir() else len(documents) == 4
    tricky = {
        "quotes": 'it\'s "quoted" \\ back',
        "lines": "one\ntwo\n  three",
        "unicode": "é ☃ 😀 \u2028",
        "keywords": ["yes", "no", "on", "off", "null", "true"],
        "true": {"null": None, "1": 1.5, "a b": [[], {}, [[1]], {"x": {"y": [{"z": -0.0}]}}]},
        "numbers": [0, -1, 2**62, 1e-300, 1.5e300, float("inf"), float("-inf")],
    }
    big = {"slides": [{"id": f"s{i}", "chart": {"type": "bar", "values": [i, i * 1.5, str(i)]}} for i in range(5000)]}
    for name, document in [*documents, ("tricky", tricky), ("big", big)]:
        text = dump_cson(document)
        assert parse_cson(text, 64) == document, name


def test_cson_syntax_errors_give_line_and_column(client: TestClient, tenants: Tenants) -> None:
    cases = (
        ("a: 1\nb: [1, 2\nc: 3\n", 2, "never closed"),
        ("a:\n  b: 'open\n", 2, "not closed"),
        ("x: no\ny\n", 2, "'y'"),
    )
    for body, line, reason in cases:
        error = assert_error(
            client.put(
                "/alpha/config?stage=staging&format=cson",
                content=body.encode(),
                headers={**tenants.builder, "Content-Type": "text/plain"},
            ),
            400,
            "invalid_cson",
        )
        assert error["details"]["line"] == line and error["details"]["column"] >= 1, (body, error)
        assert f"line {line}" in error["message"] and reason in error["message"]


# --- nesting -------------------------------------------------------------------------------------

DEEP = 1000


def deep_json(levels: int) -> str:
    """`{"a": [{"a": [... 1 ...]}]}`: 2 levels per `a` (written out: json.dumps recurses too)."""
    return '{"a": [' * levels + "1" + "]}" * levels


def assert_too_deep(response: Any, path_start: str = "") -> dict[str, Any]:
    error = assert_error(response, 400, "too_deep")
    assert "TOUCAN_MAX_NESTING_DEPTH" in error["message"] and "64" in error["message"]
    assert error["details"]["limit"] == 64 and error["details"]["path"].startswith(path_start)
    return error


def test_a_1000_deep_cson_config_is_a_400_with_the_path_and_the_line(client: TestClient, tenants: Tenants) -> None:
    cson_headers = {**tenants.builder, "Content-Type": "text/plain"}
    by_indentation = "".join(f"{'  ' * i}k{i}:\n" for i in range(DEEP)) + "  " * DEEP + "v: 1\n"
    error = assert_too_deep(
        client.put("/alpha/config/etl?stage=staging&format=cson", content=by_indentation, headers=cson_headers),
        "k0.k1.k2",
    )
    assert error["details"]["line"] == 65  # where the 65th level starts
    brackets = "PIPELINE: " + "[" * DEEP + "]" * DEEP + "\n"
    assert_too_deep(
        client.put("/alpha/config/etl?stage=staging&format=cson", content=brackets, headers=cson_headers),
        "PIPELINE[0][0]",
    )
    assert_too_deep(client.put("/instance-settings", content=by_indentation, headers=cson_headers_admin(tenants)))


def cson_headers_admin(tenants: Tenants) -> dict[str, str]:
    return {**tenants.admin, "Content-Type": "text/plain"}


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/vnd.api+json"])
def test_a_1000_deep_json_config_is_a_400(client: TestClient, tenants: Tenants, content_type: str) -> None:
    body = '{"DATA_SOURCES": [' + deep_json(DEEP) + "]}"
    response = client.put(
        "/alpha/config/etl?stage=staging", content=body, headers={**tenants.builder, "Content-Type": content_type}
    )
    assert_too_deep(response, "DATA_SOURCES[0].a[0].a[0]")


@pytest.mark.parametrize("content_type", ["application/json", "APPLICATION/JSON; charset=utf-8", "text/x.json+json"])
def test_deep_request_bodies_are_a_400_on_every_route(client: TestClient, tenants: Tenants, content_type: str) -> None:
    deep = deep_json(100_000)
    headers = {**tenants.admin, "Content-Type": content_type}
    for method, path in (
        ("POST", "/login"),
        ("POST", "/small-apps"),
        ("PATCH", "/users/mallory"),
        ("POST", "/alpha/data"),
    ):
        response = client.request(method, path, content=deep, headers=headers)
        assert response.status_code < 500, (path, response.text)
        if content_type != "text/x.json+json":
            assert_too_deep(response, "a[0].a[0]")
    # A form field holding JSON too.
    response = client.post(
        "/alpha/data/sources",
        files={"file": ("x.csv", b"a\n1\n")},
        data={"data": deep},
        headers=tenants.builder,
    )
    assert_too_deep(response)


def nested_append(levels: int) -> list[Any]:
    pipeline: list[Any] = [{"name": "domain", "domain": "sales"}]
    for _ in range(levels):
        pipeline = [{"name": "domain", "domain": "sales"}, {"name": "append", "pipelines": [pipeline]}]
    return pipeline


def nested_and(levels: int) -> list[Any]:
    condition: Any = {"column": "country", "operator": "eq", "value": "France"}
    for i in range(levels):
        condition = {"and" if i % 2 else "or": [condition]}
    return [{"name": "domain", "domain": "sales"}, {"name": "filter", "condition": condition}]


def test_deep_pipelines_conditions_and_formulas_are_a_400(client: TestClient, tenants: Tenants) -> None:
    for query in (nested_append(200), nested_and(400)):
        for stage, headers in (("production", tenants.viewer), ("staging", tenants.builder)):
            response = client.post(f"/alpha/data?stage={stage}", json={"query": query}, headers=headers)
            assert_too_deep(response)
        response = client.post("/alpha/query/preview", json={"query": query}, headers=tenants.builder)
        assert response.status_code == 400, response.text
    # Nesting that JSON does not show: parentheses and signs of a formula.
    for formula in ("(" * 5000 + "1" + ")" * 5000, "-" * 5000 + "1"):
        query = [{"name": "domain", "domain": "sales"}, {"name": "formula", "new_column": "x", "formula": formula}]
        response = client.post("/alpha/data?stage=production", json={"query": query}, headers=tenants.viewer)
        error = assert_error(response, 400, "too_deep")
        assert "TOUCAN_MAX_NESTING_DEPTH" in error["message"]
    # Within the limit, nesting works.
    shallow = client.post("/alpha/data?stage=production", json={"query": nested_and(10)}, headers=tenants.viewer)
    assert shallow.status_code == 200, shallow.text


def test_long_lists_compile_in_linear_time(client: TestClient, tenants: Tenants) -> None:
    # 200,000 values in a filter (1.4 MB, any viewer may send it): adding SQL fragments one by
    # one copied the text and the parameters each time, minutes of CPU for one request.
    values = [f"v{i}" for i in range(200_000)]
    query = [
        {"name": "domain", "domain": "sales"},
        {"name": "filter", "condition": {"column": "city", "operator": "in", "value": ["Paris", *values]}},
        {"name": "formula", "new_column": "x", "formula": "+".join(["revenue"] * 300)},
    ]
    started = time.perf_counter()
    response = client.post("/alpha/data?stage=production", json={"query": query}, headers=tenants.viewer)
    assert response.status_code == 200, response.text[:300]
    assert time.perf_counter() - started < 30


def test_the_compiler_refuses_deep_requests_itself() -> None:
    # What a config stored before the limit (or a raised limit) could hand it: a 400, not a RecursionError.
    from toucan.data.query import compile_request

    for query in (nested_append(2000), nested_and(5000)):
        with pytest.raises(ValidationError) as info:
            compile_request(query, resolve_domain=lambda d: f"read_parquet('{d}')", row_filters={}, max_depth=64)
        assert info.value.code == "too_deep"


# --- body size -----------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/merge-patch+json", ""])
def test_a_chunked_11_mib_body_is_413(client: TestClient, tenants: Tenants, content_type: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"id": "big", "name": "'
        for _ in range(11 * 16):
            yield b"x" * 65536
        yield b'"}'

    headers = {**tenants.admin, **({"Content-Type": content_type} if content_type else {})}
    for path in ("/small-apps", "/alpha/config/etl?stage=staging", "/login"):
        response = client.post(path, content=chunks(), headers=headers)
        error = assert_error(response, 413, "payload_too_large")
        assert "TOUCAN_MAX_BODY_BYTES" in error["message"]


# --- instance settings versions ------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, -1, 2**31, 2**63, 10**30, -(10**30)])
def test_a_version_no_database_integer_holds_is_404(client: TestClient, tenants: Tenants, version: int) -> None:
    response = client.get(f"/instance-settings?version={version}", headers=tenants.admin)
    assert_error(response, 404, "not_found")


# --- concurrent uploads --------------------------------------------------------------------------


def _race(
    client: TestClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch, contents: list[bytes]
) -> list[Any]:
    """Upload `contents` under one name at the same time: each upload is checked before any is stored."""
    import toucan.etl.sources as sources

    barrier = threading.Barrier(len(contents), timeout=30)
    checked = sources.check_readable

    def check_then_wait(*args: Any, **kwargs: Any) -> int:
        rows = checked(*args, **kwargs)
        barrier.wait()
        return rows

    monkeypatch.setattr(sources, "check_readable", check_then_wait)
    answers: list[Any] = [None] * len(contents)

    def send(i: int) -> None:
        answers[i] = upload(client, headers, "orders.csv", contents[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(contents))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.setattr(sources, "check_readable", checked)
    return answers


def files_of(tenants: Tenants, app: str = "alpha") -> set[Path]:
    """Every file under the app's uploads folder (the data dir lives as long as the test session)."""
    return {p for p in (tenants.data_dir / "sources" / app).rglob("*") if p.is_file()}


def _stored(db: Database, tenants: Tenants, before: set[Path]) -> tuple[list[str], list[str]]:
    """The files the rows name, and the files this test left on disk."""
    with db.readonly_session() as session:
        rows = list(session.scalars(select(DataSourceFile.stored_as).where(DataSourceFile.app_id == "alpha")))
    return rows, sorted(p.name for p in files_of(tenants) - before)


@pytest.mark.parametrize("first", [True, False], ids=["first-upload", "replacing"])
def test_simultaneous_uploads_of_one_name_store_one_and_leave_no_orphan(
    client: TestClient, tenants: Tenants, db: Database, monkeypatch: pytest.MonkeyPatch, first: bool
) -> None:
    before = files_of(tenants)
    if not first:
        assert upload(client, tenants.builder, "orders.csv", b"n\n0\n").status_code == 201
    answers = _race(client, tenants.builder, monkeypatch, [b"n\n1\n", b"n\n2\n2\n"])
    statuses = sorted(a.status_code for a in answers)
    assert statuses in ([201, 201], [201, 409]), [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert_error(answer, 409, "upload_conflict")
            assert "orders.csv" in answer.json()["error"]["message"]
    rows, on_disk = _stored(db, tenants, before)
    assert len(rows) == 1 and on_disk == rows  # no orphan, no temporary file, no half-written row
    # Both may succeed, one after the other: the file stored is then the later one's.
    stored = {a.json()["sha256"] for a in answers if a.status_code == 201}
    listed = client.get("/alpha/data/sources", headers=tenants.builder).json()["sources"]
    assert [s["filename"] for s in listed] == ["orders.csv"] and listed[0]["sha256"] in stored


def test_many_simultaneous_uploads_of_one_name(
    client: TestClient, tenants: Tenants, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = files_of(tenants)
    answers = _race(client, tenants.builder, monkeypatch, [f"n\n{i}\n".encode() for i in range(4)])
    assert all(a.status_code in (201, 409) for a in answers), [a.text for a in answers]
    assert any(a.status_code == 201 for a in answers)
    rows, on_disk = _stored(db, tenants, before)
    assert len(rows) == 1 and on_disk == rows
