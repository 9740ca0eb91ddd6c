"""Reading data files (CSV, Excel, Parquet, JSON) into Parquet, with the options a data source gives.

CSV, JSON and Parquet are read by DuckDB (streaming, any size); Excel by `toucan.etl.excel`
(streaming too, within TOUCAN_UPLOAD_MAX_CELLS).
A file that cannot be read raises a ValidationError that says the line and the reason.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from toucan.data.domains import copy_select_to_parquet, sql_string
from toucan.errors import ErrorCode, ValidationError
from toucan.etl.excel import read_excel
from toucan.formats import raise_for_validation
from toucan.settings import Settings

if TYPE_CHECKING:
    import duckdb

# TOUCAN_UPLOAD_MAX_CELLS's default, for callers without settings (tests, benchmarks).
DEFAULT_MAX_CELLS: int = Settings.model_fields["upload_max_cells"].default

# Encodings DuckDB reads itself; any other Python codec is transcoded to UTF-8 first.
_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1", "utf-16": "utf-16"}


class FileType(StrEnum):
    CSV = "csv"
    EXCEL = "excel"
    PARQUET = "parquet"
    JSON = "json"


_EXTENSIONS = {
    ".csv": FileType.CSV,
    ".txt": FileType.CSV,
    ".tsv": FileType.CSV,
    ".xlsx": FileType.EXCEL,
    ".xlsm": FileType.EXCEL,
    ".parquet": FileType.PARQUET,
    ".json": FileType.JSON,
    ".jsonl": FileType.JSON,
    ".ndjson": FileType.JSON,
}


class FileOptions(BaseModel):
    """How to read one file; the fields of a file data source that are not about where it is."""

    model_config = ConfigDict(extra="ignore")

    type: FileType | None = None
    separator: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    skip_rows: int = Field(default=0, ge=0)
    header: bool = True
    decimal: str = Field(default=".", pattern=r"^[.,]$")
    thousands: str | None = Field(default=None, min_length=1, max_length=1)
    date_format: str | None = None
    timestamp_format: str | None = None
    # Per column: {"order_date": "%d/%m/%Y"}; the column becomes a date (or timestamp with a time part).
    date_formats: dict[str, str] = Field(default_factory=dict)
    sheetname: str | int | None = None

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None


def parse_options(source: dict[str, Any], where: str) -> FileOptions:
    try:
        return FileOptions.model_validate(source)
    except PydanticValidationError as exc:
        raise_for_validation(exc, where)
        raise  # raise_for_validation always raises


def file_type(filename: str, options: FileOptions) -> FileType:
    """The declared type, else the one the extension says."""
    if options.type is not None:
        return options.type
    found = _EXTENSIONS.get(Path(filename).suffix.lower())
    if found is None:
        raise ValidationError(
            f"Cannot tell the type of {filename!r} from its name: give 'type' (csv, excel, parquet or json).",
            details={"file": filename, "known_extensions": sorted(_EXTENSIONS)},
        )
    return found


def copy_to_parquet(
    conn: duckdb.DuckDBPyConnection,
    source: Path,
    target: Path,
    filename: str,
    options: FileOptions,
    *,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> None:
    """Read `source` (named `filename` for messages) and write it to `target` as Parquet.

    An Excel sheet larger than `max_cells` (TOUCAN_UPLOAD_MAX_CELLS) is refused with 413."""
    if file_type(filename, options) in (FileType.CSV, FileType.JSON):
        # Parsing text is CPU-bound and streams (memory grows little per thread): use up to
        # 4 cores; Parquet and Excel inputs keep the store's single load thread.
        conn.execute(f"SET threads = {max(1, min(os.cpu_count() or 1, 4))}")
    with _reading(conn, source, filename, options, max_cells) as select:
        copy_select_to_parquet(conn, select, target)


def check_readable(
    conn: duckdb.DuckDBPyConnection,
    source: Path,
    filename: str,
    options: FileOptions,
    *,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> int:
    """Read the whole file as a load would (nothing written); returns its row count. Used when a file is uploaded."""
    with _reading(conn, source, filename, options, max_cells) as select:
        # count() of every column converts every value, as the load does (count(*) alone lets
        # DuckDB skip them); writing the Parquet file too made a 1 GB CSV's check 2.5 times slower.
        row = conn.execute(f"SELECT count(*), count(COLUMNS(*)) FROM ({select})").fetchone()
    return int(row[0]) if row else 0


# --- internals ------------------------------------------------------------------------------


@contextmanager
def _reading(
    conn: duckdb.DuckDBPyConnection, source: Path, filename: str, options: FileOptions, max_cells: int
) -> Iterator[str]:
    """A SELECT of the whole file, for the block; a DuckDB error in the block says the line and the reason."""
    kind = file_type(filename, options)
    with tempfile.TemporaryDirectory(prefix="toucan-read-") as tmp:
        if kind is FileType.EXCEL:
            conn.register("excel_source", read_excel(source, filename, options, max_cells))
            relation = "excel_source"
        else:
            relation = _duckdb_reader(kind, _readable_source(source, options, kind, Path(tmp)), options)
        select = _select_with_date_formats(conn, relation, options)
        try:
            yield select
        except Exception as exc:
            raise _read_error(exc, source, filename, kind, options) from None


def _readable_source(source: Path, options: FileOptions, kind: FileType, tmp: Path) -> Path:
    if kind is not FileType.CSV or options.encoding in _DUCKDB_ENCODINGS:
        return source
    # Transcode in a stream: DuckDB reads UTF-8, UTF-16 and Latin-1 only.
    target = tmp / "utf8.csv"
    with (
        open(source, encoding=options.encoding, errors="strict", newline="") as src,
        open(target, "w", encoding="utf-8", newline="") as dst,
    ):
        try:
            shutil.copyfileobj(src, dst, 1 << 20)
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"The file is not valid {options.encoding}: byte {exc.start} cannot be decoded ({exc.reason}).",
                details={"encoding": options.encoding, "byte": exc.start},
                code=ErrorCode.INVALID_FILE,
            ) from None
    return target


def _duckdb_reader(kind: FileType, path: Path, options: FileOptions) -> str:
    where = sql_string(str(path))
    if kind is FileType.PARQUET:
        return f"read_parquet({where})"
    if kind is FileType.JSON:
        return f"read_json_auto({where}, format = 'auto', sample_size = 20480)"
    args = [
        where,
        f"delim = {sql_string(options.separator)}",
        f"header = {'true' if options.header else 'false'}",
        f"skip = {options.skip_rows}",
        f"decimal_separator = {sql_string(options.decimal)}",
        f"encoding = {sql_string(_DUCKDB_ENCODINGS.get(options.encoding, 'utf-8'))}",
        "sample_size = 20480",
        "strict_mode = true",
    ]
    if options.thousands:
        args.append(f"thousands = {sql_string(options.thousands)}")
    if options.date_format:
        args.append(f"dateformat = {sql_string(options.date_format)}")
    if options.timestamp_format:
        args.append(f"timestampformat = {sql_string(options.timestamp_format)}")
    if options.date_formats:
        types = ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in options.date_formats)
        args.append(f"types = {{{types}}}")
    return f"read_csv({', '.join(args)})"


def _select_with_date_formats(conn: duckdb.DuckDBPyConnection, relation: str, options: FileOptions) -> str:
    if not options.date_formats:
        return f"SELECT * FROM {relation}"
    columns = [row[0] for row in conn.execute(f"SELECT * FROM {relation} LIMIT 0").description or []]
    missing = [name for name in options.date_formats if name not in columns]
    if missing:
        raise ValidationError(
            f"'date_formats' names columns the file does not have: {', '.join(missing)}.",
            details={"missing": missing, "columns": columns},
        )
    parts = []
    for name in columns:
        quoted = '"' + name.replace('"', '""') + '"'
        fmt = options.date_formats.get(name)
        if fmt is None:
            parts.append(quoted)
            continue
        parsed = f"strptime({quoted}, {sql_string(fmt)})"
        has_time = any(code in fmt for code in ("%H", "%I", "%M", "%S", "%f", "%p", "%z"))
        parts.append(f"{parsed if has_time else f'CAST({parsed} AS DATE)'} AS {quoted}")
    return f"SELECT {', '.join(parts)} FROM {relation}"


_LINE = re.compile(r"[Ll]ine:?\s*(\d+)")


def _read_error(exc: Exception, source: Path, filename: str, kind: FileType, options: FileOptions) -> ValidationError:
    message = str(exc).strip().replace(str(source), filename)
    first = message.splitlines()[0] if message else type(exc).__name__
    line: int | None = None
    if kind is FileType.CSV:
        where = _first_bad_csv_line(source, options)
        if where is not None:
            line, reason = where
            first = f"line {line}: {reason}"
        else:
            found = _LINE.search(message)
            if found:
                line = int(found.group(1))
    details: dict[str, Any] = {
        "file": filename,
        "type": kind.value,
        "reason": "\n".join(message.splitlines()[:8])[:2000],
    }
    if line is not None:
        details["line"] = line
    return ValidationError(
        f"Could not read {filename!r} as {kind.value.upper()}: {first[:400]}",
        details=details,
        code=ErrorCode.INVALID_FILE,
    )


def _first_bad_csv_line(source: Path, options: FileOptions) -> tuple[int, str] | None:
    """The first line whose number of fields differs from the header's, counted in the file."""
    import csv

    encoding = options.encoding
    try:
        with open(source, newline="", encoding=encoding, errors="strict") as handle:
            for _ in range(options.skip_rows):
                handle.readline()
            reader = csv.reader(handle, delimiter=options.separator)
            header = next(reader, None)
            if header is None:
                return None
            for row in reader:
                if row and len(row) != len(header):
                    return (
                        reader.line_num + options.skip_rows,
                        f"expected {len(header)} fields like the header, found {len(row)}",
                    )
    except UnicodeDecodeError as exc:
        return 0, f"not valid {encoding}: byte {exc.start} cannot be decoded"
    except csv.Error as exc:
        return 0, str(exc)
    return None
