"""A data request's whole answer as a file (CSV or Excel): what a chart's "Download" gives.

The request runs as `/data` runs it — the caller's privilege on the stage checked, their row
filters and the request's variables applied — but its rows are written batch by batch to a
temporary file instead of one JSON page, so memory stays bounded by a batch whatever the
answer's size. The file is written by Python, not by DuckDB: the query's database may write
nothing, as for every other read.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from starlette.concurrency import run_in_threadpool

from toucan.apps.configs import Stage
from toucan.apps.small_apps import check_app_access
from toucan.auth.identity import Identity
from toucan.auth.roles import AppPrivilege
from toucan.data.service import DataRequest, DataService

BATCH_ROWS = 10_000
# Excel's sheet holds 1,048,576 rows, the header included.
XLSX_MAX_ROWS = 1_048_575
# A text cell starting with one of these is read as a formula by spreadsheet programs
# ("CSV injection"): such values are written with a leading apostrophe, as Superset does.
FORMULA_START = r"^[=+\-@\t\r]"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"

    @property
    def media_type(self) -> str:
        if self is ExportFormat.CSV:
            return "text/csv; charset=utf-8"
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ExportedFile:
    path: Path
    rows: int
    # More rows matched than the file holds (TOUCAN_EXPORT_MAX_ROWS, or Excel's sheet size).
    truncated: bool


async def export_request(
    service: DataService,
    app_id: str,
    stage: Stage,
    identity: Identity,
    request: DataRequest,
    fmt: ExportFormat,
    *,
    privilege: AppPrivilege,
    max_rows: int,
) -> ExportedFile:
    """Run `request` for `identity` and write all of its rows (up to `max_rows`) to a temporary
    file the caller deletes."""
    check_app_access(identity, app_id, service.stamps(app_id, stage) is not None, privilege)
    compiled, reach = await run_in_threadpool(
        service.compile, app_id, stage, identity, request.query, request.variables
    )
    cap = min(max_rows, XLSX_MAX_ROWS) if fmt is ExportFormat.XLSX else max_rows
    if request.limit is not None:
        cap = min(cap, request.limit)
    fd, name = tempfile.mkstemp(prefix="toucan-export-", suffix=f".{fmt.value}")
    out = Path(name)

    def work(cursor: Any) -> ExportedFile:
        bound = list(compiled.params) or None
        # One row past the cap says whether the file is cut.
        relation = cursor.sql(
            f"SELECT * FROM ({compiled.sql}) AS q LIMIT {int(cap) + 1} OFFSET {int(request.offset)}", params=bound
        )
        reader = relation.to_arrow_reader(BATCH_ROWS)
        batches = _Capped(reader, cap)
        with open(fd, "wb", closefd=True) as handle:
            if fmt is ExportFormat.CSV:
                rows = _write_csv(handle, reader.schema, batches)
            else:
                rows = _write_xlsx(handle, reader.schema, batches)
        return ExportedFile(out, rows, batches.cut)

    try:
        return await service.engine.run(work, reach, keep=False)
    except BaseException:
        out.unlink(missing_ok=True)
        raise


class _Capped:
    """The reader's batches up to `cap` rows; remembers whether rows were left out."""

    def __init__(self, reader: pa.RecordBatchReader, cap: int) -> None:
        self.reader = reader
        self.cap = cap
        self.cut = False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        left = self.cap
        for batch in self.reader:
            if batch.num_rows > left:
                self.cut = True
                if left:
                    yield batch.slice(0, left)
                return
            left -= batch.num_rows
            yield batch


def _defuse(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Text cells a spreadsheet would run as formulas get a leading apostrophe."""
    columns = []
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.fill_null(pc.match_substring_regex(column, FORMULA_START), False)
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _write_csv(handle: Any, schema: pa.Schema, batches: _Capped) -> int:
    rows = 0
    writer: pacsv.CSVWriter | None = None
    for batch in batches:
        batch = _defuse(batch)
        if writer is None:
            writer = pacsv.CSVWriter(handle, batch.schema)
        writer.write_batch(batch)
        rows += batch.num_rows
    if writer is None:  # no rows: the header alone
        header = ",".join(_csv_field(name) for name in schema.names)
        handle.write((header + "\n").encode())
    else:
        writer.close()
    return rows


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _write_xlsx(handle: Any, schema: pa.Schema, batches: _Capped) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet("data")
    bold = Font(bold=True)
    header = []
    for name in schema.names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.data_type = "s"
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    sheet.freeze_panes = "A2"
    rows = 0
    for batch in batches:
        for record in batch.to_pylist():
            sheet.append([_xlsx_cell(sheet, value) for value in record.values()])
        rows += batch.num_rows
    book.save(handle)
    return rows


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell

    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        # Excel has no time zones: an aware time is written in UTC.
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
    if isinstance(value, time) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, bytes):
        value = value.hex()
    elif isinstance(value, list | dict):
        value = json.dumps(value, default=str, ensure_ascii=False)
    elif not isinstance(value, str):
        if hasattr(value, "isoformat") or hasattr(value, "total_seconds"):
            return value
        value = str(value)
    # A string is always text, never a formula (openpyxl reads "=..." as one).
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell
