"""Reading data files with a data source's options: CSV dialects, Excel sheets, JSON, Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toucan.errors import ValidationError
from toucan.etl.readers import FileOptions, check_readable, copy_to_parquet


def _read(tmp_path: Path, name: str, content: bytes, **options: Any) -> list[dict[str, Any]]:
    source = tmp_path / name
    source.write_bytes(content)
    target = tmp_path / "out.parquet"
    conn = duckdb.connect()
    try:
        copy_to_parquet(conn, source, target, name, FileOptions(**options))
    finally:
        conn.close()
    return pq.read_table(target).to_pylist()


def test_csv_with_separator_decimal_thousands_encoding_and_skipped_rows(tmp_path: Path) -> None:
    content = "exported on 2026-01-01\ncountry;revenue;day\nFrance;1.234,5;03/04/2024\nEspaña;2.000,25;05/06/2024\n"
    rows = _read(
        tmp_path,
        "sales.csv",
        content.encode("latin-1"),
        separator=";",
        decimal=",",
        thousands=".",
        encoding="latin-1",
        skip_rows=1,
        date_formats={"day": "%d/%m/%Y"},
    )
    assert [r["country"] for r in rows] == ["France", "España"]
    assert [r["revenue"] for r in rows] == [1234.5, 2000.25]
    assert str(rows[0]["day"]) == "2024-04-03"


def test_csv_in_an_encoding_duckdb_lacks_is_transcoded(tmp_path: Path) -> None:
    rows = _read(tmp_path, "x.csv", "ville,n\nKöln,1\nŁódź,2\n".encode("cp1250"), encoding="cp1250")
    assert [r["ville"] for r in rows] == ["Köln", "Łódź"]


def test_a_bad_csv_line_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        _read(tmp_path, "bad.csv", b"a,b\n1,2\n3,4\n5,6,7\n8,9\n")
    assert "line 4" in info.value.message
    assert info.value.details["line"] == 4
    assert "bad.csv" in info.value.message


def test_wrong_encoding_says_which_byte(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        _read(tmp_path, "x.csv", "a\n\xff\xfe\n".encode("latin-1"), encoding="utf-16-be")
    assert "utf-16-be" in info.value.message or "decode" in info.value.message


def test_excel_sheet_by_name_and_missing_sheet(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    first = workbook.active
    first.title = "Summary"
    first.append(["ignored"])
    sheet = workbook.create_sheet("Data")
    sheet.append(["country", "revenue"])
    sheet.append(["France", 10])
    sheet.append(["Spain", 20.5])
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    rows = _read(tmp_path, "book.xlsx", path.read_bytes(), sheetname="Data")
    assert rows == [{"country": "France", "revenue": 10.0}, {"country": "Spain", "revenue": 20.5}]
    with pytest.raises(ValidationError) as info:
        _read(tmp_path, "book.xlsx", path.read_bytes(), sheetname="Nope")
    assert info.value.details["sheets"] == ["Summary", "Data"]


def test_json_records_and_json_lines(tmp_path: Path) -> None:
    assert _read(tmp_path, "a.json", b'[{"k": "x", "v": 1}, {"k": "y", "v": 2}]') == [
        {"k": "x", "v": 1},
        {"k": "y", "v": 2},
    ]
    assert _read(tmp_path, "b.jsonl", b'{"k": "x"}\n{"k": "z"}\n') == [{"k": "x"}, {"k": "z"}]


def test_parquet_and_unknown_extension(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}), source)
    assert _read(tmp_path, "in.parquet", source.read_bytes()) == [{"a": 1}, {"a": 2}, {"a": 3}]
    with pytest.raises(ValidationError) as info:
        _read(tmp_path, "data.bin", b"a\n1\n")
    assert "'type'" in info.value.message


def test_check_readable_counts_rows(tmp_path: Path) -> None:
    source = tmp_path / "x.csv"
    source.write_text("a\n1\n2\n3\n")
    conn = duckdb.connect()
    assert check_readable(conn, source, "x.csv", FileOptions()) == 3


def test_check_readable_converts_every_value_past_the_sample(tmp_path: Path) -> None:
    source = tmp_path / "x.csv"
    source.write_text("a,b\n" + "".join(f"{i},x\n" for i in range(30000)) + "oops,y\n")
    conn = duckdb.connect()
    with pytest.raises(ValidationError) as info:
        check_readable(conn, source, "x.csv", FileOptions())
    assert info.value.details is not None and info.value.details["line"] == 30002
    assert "oops" in info.value.details["reason"]
