"""Turning an uploaded CSV or Parquet file into a domain's Parquet file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import duckdb

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


def ingest_file(store: DomainStore, app_id: str, source: Path, fmt: UploadFormat) -> StagedFile:
    """Convert `source` into a new Parquet file of the store; a parse error says where."""
    reader = {
        UploadFormat.CSV: f"read_csv({sql_string(str(source))}, auto_detect = true, "
        "header = true, sample_size = 20480)",
        UploadFormat.PARQUET: f"read_parquet({sql_string(str(source))})",
    }[fmt]

    def write(conn: duckdb.DuckDBPyConnection, target: Path) -> None:
        try:
            conn.execute(
                f"COPY (SELECT * FROM {reader}) TO {sql_string(str(target))} "
                "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
            )
        except duckdb.Error as exc:
            message = str(exc).strip()
            # DuckDB's CSV errors name the line; keep the part that explains it, not our paths.
            message = message.replace(str(source), "the uploaded file")
            raise ValidationError(
                f"Could not read the uploaded {fmt.value.upper()} file: "
                f"{message.splitlines()[0][:400]}",
                details={"format": fmt.value, "reason": "\n".join(message.splitlines()[:8])[:2000]},
                code="invalid_file",
            ) from None

    return store.stage_file(app_id, write)
