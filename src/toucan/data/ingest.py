"""Turning an uploaded CSV or Parquet file into a domain's Parquet file."""

from __future__ import annotations

import csv
from enum import StrEnum
from pathlib import Path

from toucan.data.domains import DomainStore, StagedFile, sql_string
from toucan.errors import ValidationError


class UploadFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


def format_from_content_type(content_type: str | None) -> UploadFormat | None:
    value = (content_type or "").split(";")[0].strip().lower()
    if value in ("text/csv", "application/csv", "text/plain"):
        return UploadFormat.CSV
    if value in ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet"):
        return UploadFormat.PARQUET
    return None


def first_bad_csv_line(source: Path, delimiter: str) -> str | None:
    """Where a CSV stops having the header's number of fields, for error messages."""
    with open(source, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
            for row in reader:
                if row and len(row) != len(header):
                    return f"line {reader.line_num}: expected {len(header)} fields like the header, found {len(row)}"
        except csv.Error as exc:
            return f"line {reader.line_num}: {exc}"
    return None


def ingest_file(store: DomainStore, app_id: str, source: Path, fmt: UploadFormat, delimiter: str = ",") -> StagedFile:
    """Convert `source` into a new Parquet file of the store; a parse error says where."""
    reader = {
        UploadFormat.CSV: f"read_csv({sql_string(str(source))}, delim = {sql_string(delimiter)}, "
        "header = true, sample_size = 20480, strict_mode = true)",
        UploadFormat.PARQUET: f"read_parquet({sql_string(str(source))})",
    }[fmt]

    import duckdb

    def write(conn: duckdb.DuckDBPyConnection, target: Path) -> None:
        try:
            conn.execute(
                f"COPY (SELECT * FROM {reader}) TO {sql_string(str(target))} "
                "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
            )
        except duckdb.Error as exc:
            message = str(exc).strip().replace(str(source), "the uploaded file")
            where = first_bad_csv_line(source, delimiter) if fmt is UploadFormat.CSV else None
            if where:
                message = f"{where}. {message}"
            raise ValidationError(
                f"Could not read the uploaded {fmt.value.upper()} file: {message.splitlines()[0][:400]}",
                details={"format": fmt.value, "reason": "\n".join(message.splitlines()[:8])[:2000]},
                code="invalid_file",
            ) from None

    return store.stage_file(app_id, write)
