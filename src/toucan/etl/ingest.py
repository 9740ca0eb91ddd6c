"""Turning an uploaded CSV or Parquet body (`PUT /{app}/domain/{domain}`) into a domain's Parquet file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from toucan.data.domains import DomainStore, StagedFile


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


def ingest_file(
    store: DomainStore, app_id: str, domain: str, source: Path, fmt: UploadFormat, delimiter: str = ","
) -> StagedFile:
    """Convert `source` into a new Parquet file of the store, read as data-source files are;
    a file that cannot be read raises a ValidationError with the line and the reason."""
    import duckdb

    from toucan.etl.readers import copy_to_parquet, parse_options

    options = parse_options({"type": fmt.value, "separator": delimiter}, "upload options (the delimiter)")

    def write(conn: duckdb.DuckDBPyConnection, target: Path) -> None:
        copy_to_parquet(conn, source, target, f"the {fmt.value.upper()} body for {domain!r}", options)

    return store.stage_file(app_id, write)
