"""Excel workbooks (.xlsx, .xlsm) read as a stream into an Arrow table, within a cell budget.

An .xlsx file is a zip of XML: a few kilobytes can declare a sheet of 1,048,576 rows by
16,384 columns (`<dimension ref="A1:XFD1048576"/>` and two cells), or unzip into gigabytes of
shared strings. Reading it the usual way (openpyxl's rows, pandas) pads every row to the
declared width and every gap between rows: memory grows with the position of the last cell,
not with the data. Here:

- the sheet's declared size (rows x columns) is checked against TOUCAN_UPLOAD_MAX_CELLS first;
- cells are then streamed from the sheet's XML (openpyxl's cell parser, our own loop), and
  only cells holding a value are kept, by column: trailing empty columns cost nothing, a run
  of empty rows one null chunk per column. The extent reached so far (last row x last column
  holding a value) and the number of cell elements read are counted against the same budget
  as they stream, so a sheet whose dimension lies or is missing is refused as soon as it goes
  past it;
- the workbook's shared strings are read under the same budget (one per cell, 32 characters
  per cell on average, no string longer than Excel's 32,767), its other parts must be small;
- the table is built column by column in Arrow, a chunk of rows at a time.

A refusal is a 413 that names the setting, the file and the sheet.

What the table holds follows what pandas made of a sheet: the first row (after `skip_rows`)
names the columns ("Unnamed: <n>" where it is empty, "name.1" for a repeated name), then come
all rows down to the last holding a value (empty ones too) and all columns from A to the
last holding a value; whole numbers are integers, a column of one kind keeps its type
(numbers, booleans, dates) and a column of mixed kinds is text. Unlike pandas, text stays
text ("NA", "007" are not made empty or numbers) and a column of whole numbers with empty
cells stays integers; only empty cells and Excel errors are empty.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from toucan.errors import ErrorCode, PayloadTooLarge, ValidationError

if TYPE_CHECKING:
    import pyarrow as pa

    from toucan.etl.readers import FileOptions

SETTING = "TOUCAN_UPLOAD_MAX_CELLS"
# Excel's own limit of characters in a cell.
MAX_STRING = 32_767
# Shared strings may hold this many characters per cell of the budget, on average.
TEXT_PER_CELL = 32
# Parts of the workbook openpyxl reads whole (workbook, styles, theme, relationships…), together.
MAX_METADATA_BYTES = 64 * 1024 * 1024
# XML elements a sheet may hold per cell of the budget (a cell is 2 to 4: <c>, <v>, <f>, <is>…),
# and that one cell may hold (rich text runs).
ELEMENTS_PER_CELL = 4
MAX_CELL_ELEMENTS = 10_000
# Rows are turned into Arrow arrays once a chunk holds this many cells.
CHUNK_CELLS = 1 << 20


class _Budget:
    """The cell budget of one sheet, and what to say when it is spent."""

    def __init__(self, max_cells: int, filename: str) -> None:
        self.max_cells = max_cells
        self.filename = filename
        self.sheet = ""

    def refuse(self, what: str, cells: int, **details: Any) -> PayloadTooLarge:
        where = f"The sheet {self.sheet!r} of {self.filename!r}" if self.sheet else f"{self.filename!r}"
        return PayloadTooLarge(
            f"{where} {what}: more than TOUCAN_UPLOAD_MAX_CELLS ({self.max_cells:,} cells) allows. "
            "Keep only the data in the sheet (clear cells far below or right of it), split it, "
            "or save it as CSV.",
            details={
                "file": self.filename,
                "sheet": self.sheet or None,
                "cells": cells,
                "limit": self.max_cells,
                "setting": SETTING,
                **details,
            },
            code=ErrorCode.TOO_MANY_CELLS,
        )


def read_excel(source: Path, filename: str, options: FileOptions, max_cells: int) -> pa.Table:
    """The sheet `options.sheetname` (the first one by default) of the workbook `source`, as a table."""
    budget = _Budget(max_cells, filename)
    _check_parts(source, budget)
    # A file object: openpyxl would refuse a path without an Excel extension (uploads are temp files).
    with open(source, "rb") as handle:
        workbook = _open(handle, budget)
        try:
            sheet = _pick_sheet(workbook, filename, options.sheetname)
            budget.sheet = sheet.title
            return _TableBuilder(options).build(_rows(workbook, sheet, budget))
        finally:
            workbook.close()


# --- the workbook ------------------------------------------------------------------------------


def _unreadable(filename: str, exc: BaseException) -> ValidationError:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ValidationError(
        f"Could not read the Excel file {filename!r}: {text[:300]}",
        details={"file": filename},
        code=ErrorCode.INVALID_FILE,
    )


def _check_parts(source: Path, budget: _Budget) -> None:
    """Refuse a workbook whose parts read whole would unzip into too much memory."""
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise _unreadable(budget.filename, exc) from None
    metadata = sum(
        m.file_size
        for m in members
        if m.filename.lower().endswith((".xml", ".rels"))
        and not m.filename.startswith("xl/worksheets/")
        and m.filename != "xl/sharedStrings.xml"
    )
    if metadata > MAX_METADATA_BYTES:
        raise PayloadTooLarge(
            f"{budget.filename!r} holds {metadata:,} bytes of workbook parts (styles, names, relationships…) "
            f"besides its sheets and strings, more than the {MAX_METADATA_BYTES:,} this stack reads.",
            details={"file": budget.filename, "bytes": metadata, "limit": MAX_METADATA_BYTES},
        )


def _open(source: IO[bytes], budget: _Budget) -> Any:
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet
    from openpyxl.xml.constants import SHARED_STRINGS

    class Sheet(ReadOnlyWorksheet):
        def _get_size(self) -> None:
            # openpyxl looks for <dimension> with a parse that reads the whole sheet when there
            # is none; `_rows` reads it on its way, before any row.
            return None

    class BoundedReader(ExcelReader):
        def read_strings(self) -> None:
            part = self.package.find(SHARED_STRINGS)
            if part is not None:
                with self.archive.open(part.PartName[1:]) as src:
                    self.shared_strings = _shared_strings(src, budget)

        def read_worksheets(self) -> None:
            # Worksheets only (chart sheets hold no data), as streams read later.
            for sheet, rel in self.parser.find_sheets():
                if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                    worksheet = Sheet(self.wb, sheet.name, rel.target, self.shared_strings)
                    worksheet.sheet_state = sheet.state
                    self.wb._sheets.append(worksheet)

    try:
        reader = BoundedReader(source, read_only=True, data_only=True, keep_links=False)
        reader.read()
    except PayloadTooLarge:
        raise
    except Exception as exc:
        raise _unreadable(budget.filename, exc) from None
    return reader.wb


def _shared_strings(src: Any, budget: _Budget) -> list[str]:
    """The shared-string table, read as a stream and refused past the budget."""
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    item, run, text_tag = (f"{{{SHEET_MAIN_NS}}}{t}" for t in ("si", "r", "t"))
    strings: list[str] = []
    characters = 0
    root = None
    for event, node in iterparse(src, events=("start", "end")):
        if event == "start":
            if root is None:
                root = node
            continue
        if node.tag != item:
            continue
        # What openpyxl's Text.content gives (its text, then its rich-text runs' text), faster.
        plain = node.find(text_tag)
        text = plain.text or "" if plain is not None else ""
        for part in node.iterfind(run):
            inner = part.find(text_tag)
            if inner is not None and inner.text:
                text += inner.text
        text = text.replace("x005F_", "")
        if root is not None:
            root.clear()  # the strings read so far are not kept as XML
        if len(text) > MAX_STRING:
            raise budget.refuse(
                f"holds a string of {len(text):,} characters (Excel's limit is {MAX_STRING:,})", len(strings)
            )
        characters += len(text)
        strings.append(text)
        if len(strings) > budget.max_cells or characters > budget.max_cells * TEXT_PER_CELL:
            raise budget.refuse(
                f"has more than {len(strings):,} shared strings ({characters:,} characters)",
                len(strings),
            )
    return strings


def _pick_sheet(workbook: Any, filename: str, sheetname: str | int | None) -> Any:
    names = list(workbook.sheetnames)
    sheets = workbook.worksheets
    if sheetname is None:
        if not sheets:
            raise ValidationError(
                f"{filename!r} has no sheet.", details={"file": filename}, code=ErrorCode.INVALID_FILE
            )
        return sheets[0]
    if isinstance(sheetname, int) and 0 <= sheetname < len(sheets):
        return sheets[sheetname]
    if isinstance(sheetname, str) and sheetname in names:
        sheet = workbook[sheetname]
        if sheet in sheets:
            return sheet
    raise ValidationError(
        f"{filename!r} has no sheet {sheetname!r}.",
        details={"file": filename, "sheetname": sheetname, "sheets": names},
        code=ErrorCode.INVALID_FILE,
    )


def _check_declared_size(ref: str | None, budget: _Budget) -> None:
    """Refuse the sheet when its `<dimension ref="A1:XFD1048576"/>` is beyond the budget."""
    from openpyxl.utils.cell import range_boundaries

    try:
        _, _, columns, rows = range_boundaries(ref or "")
    except (ValueError, TypeError):
        return  # none, or unreadable: the cells are counted as they come
    if rows and columns and rows * columns > budget.max_cells:
        raise budget.refuse(
            f"declares {rows:,} rows by {columns:,} columns ({rows * columns:,} cells)",
            rows * columns,
            rows=rows,
            columns=columns,
        )


# --- streaming the cells -------------------------------------------------------------------------


def _rows(workbook: Any, sheet: Any, budget: _Budget) -> Iterator[tuple[int, dict[int, Any]]]:
    """(row number, {column number: value}) of each row holding a value, in sheet order.

    Every XML element is dropped from the tree once read (those of a cell once the cell is
    read), so memory holds one cell's elements at most, whatever the sheet holds.
    """
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet._reader import WorkSheetParser
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    row_tag, cell_tag, data_tag, dimension_tag = (
        f"{{{SHEET_MAIN_NS}}}{t}" for t in ("row", "c", "sheetData", "dimension")
    )
    cell_elements = 0  # <c> elements read, whatever they hold: the work done
    elements = 0  # all elements
    max_elements = ELEMENTS_PER_CELL * budget.max_cells
    last_row = last_column = 0  # the extent of the cells holding a value
    try:
        src = workbook._archive.open(sheet._worksheet_path)
    except Exception as exc:
        raise _unreadable(budget.filename, exc) from None
    with src:
        parser = WorkSheetParser(
            src,
            sheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        stack: list[Any] = []  # the elements open around the current one
        cell_at: int | None = None  # where the open <c> is in the stack
        in_cell = 0  # elements read inside it
        cells: dict[int, Any] = {}
        try:
            for event, element in iterparse(src, events=("start", "end")):
                tag = element.tag
                if event == "start":
                    stack.append(element)
                    elements += 1
                    if elements > max_elements:
                        raise budget.refuse(f"holds more than {max_elements:,} XML elements", cell_elements)
                    if cell_at is not None:
                        in_cell += 1
                        if in_cell > MAX_CELL_ELEMENTS:
                            raise ValueError(f"a cell holds more than {MAX_CELL_ELEMENTS} XML elements")
                    elif tag == cell_tag:
                        cell_at, in_cell = len(stack) - 1, 0
                        cell_elements += 1
                        if cell_elements > budget.max_cells:
                            raise budget.refuse(f"holds more than {budget.max_cells:,} cells", cell_elements)
                    elif tag == row_tag:
                        number = element.get("r")
                        parser.row_counter = int(float(number)) if number else parser.row_counter + 1
                        parser.col_counter = 0
                        cells = {}
                    elif tag == dimension_tag:
                        _check_declared_size(element.get("ref"), budget)  # before any row
                    continue
                if tag == cell_tag and cell_at == len(stack) - 1:
                    cell_at = None
                    cell = parser.parse_cell(element)
                    value = _value(cell["value"], cell["data_type"])
                    if value is not None:
                        column = cell["column"]
                        cells[column] = value
                        last_column = max(last_column, column)
                elif tag == row_tag and cells:
                    last_row = max(last_row, parser.row_counter)
                    if last_row * last_column > budget.max_cells:
                        raise budget.refuse(
                            f"has data as far as cell {get_column_letter(min(last_column, 18278))}{last_row} "
                            f"({last_row:,} rows by {last_column:,} columns)",
                            last_row * last_column,
                            rows=last_row,
                            columns=last_column,
                        )
                    yield parser.row_counter, cells
                    cells = {}
                stack.pop()
                if cell_at is None and stack:
                    parent = stack[-1]  # drop what was read (a cell keeps its own until it is read)
                    if len(parent) and parent[-1] is element:
                        del parent[-1]
                    else:
                        parent.remove(element)
                if tag == data_tag:
                    return
        except (PayloadTooLarge, ValidationError):
            raise
        except Exception as exc:
            raise _unreadable(budget.filename, exc) from None


def _value(value: Any, data_type: str) -> Any:
    """A cell's value as the table holds it: None for empty cells and errors, whole numbers as int."""
    if value is None or data_type == "e":
        return None
    if type(value) is float and value.is_integer():
        return int(value)
    if value == "" and type(value) is str:
        return None
    return value


# --- the table -----------------------------------------------------------------------------------

_KIND_OF_TYPE = {bool: "bool", int: "int", float: "float", str: "str", datetime: "datetime"}


class _Column:
    """One column's chunks (Arrow arrays) and the kinds of values seen in it."""

    def __init__(self, rows_before: int) -> None:
        self.chunks: list[Any] = []
        self.rows_before = rows_before  # rows of the table before the column appeared
        self.kinds: set[str] = set()


class _TableBuilder:
    def __init__(self, options: FileOptions) -> None:
        self.skip_rows = options.skip_rows
        self.header = options.header
        self.names: dict[int, str] = {}
        self.columns: dict[int, _Column] = {}
        self.width = 0
        self.rows = 0  # data rows turned into Arrow so far
        self.pending: list[dict[int, Any]] = []

    def build(self, rows: Iterator[tuple[int, dict[int, Any]]]) -> pa.Table:
        """The table of the sheet's rows after `skip_rows`: the first names the columns (when
        `header`), then every row down to the last holding a value, empty ones included."""
        import pyarrow as pa

        expected = self.skip_rows + 1  # the sheet row the table reaches next
        header_seen = not self.header
        for number, cells in rows:
            if number < expected:
                continue
            self.width = max(self.width, max(cells))
            if not header_seen:
                header_seen = True
                if number == expected:
                    self.names = {column: str(value) for column, value in cells.items()}
                    expected = number + 1
                    continue
                expected += 1  # an empty header row: every column is unnamed
            if number > expected:
                self.empty_rows(number - expected)
            self.pending.append(cells)
            expected = number + 1
            if len(self.pending) * self.width >= CHUNK_CELLS:
                self.flush()
        self.flush()
        names = self._column_names()
        arrays = [self._finish(index) for index in range(1, self.width + 1)]
        return pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})

    def empty_rows(self, count: int) -> None:
        """`count` rows without a value: null chunks, nothing per cell."""
        import pyarrow as pa

        self.flush()
        for column in self.columns.values():
            column.chunks.append(pa.nulls(count))
        self.rows += count

    def flush(self) -> None:
        if not self.pending:
            return
        for index in range(1, self.width + 1):
            values = [cells.get(index) for cells in self.pending]
            column = self.columns.get(index)
            if column is None:
                if all(v is None for v in values):
                    continue  # still empty: made of nulls at the end
                column = self.columns[index] = _Column(self.rows)
            column.chunks.append(self._chunk(values, column))
        self.rows += len(self.pending)
        self.pending = []

    @staticmethod
    def _chunk(values: list[Any], column: _Column) -> Any:
        import pyarrow as pa

        kinds = {_KIND_OF_TYPE.get(type(v), "other") for v in values if v is not None}
        column.kinds |= kinds
        kind = next(iter(kinds)) if len(kinds) == 1 else "mixed" if kinds else "null"
        try:
            if kind == "int":
                return pa.array(values, pa.int64())
            if kind == "float":
                return pa.array(values, pa.float64())
            if kind == "bool":
                return pa.array(values, pa.bool_())
            if kind == "datetime":
                return pa.array(values, pa.timestamp("us"))
            if kind == "null":
                return pa.nulls(len(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            column.kinds.add("other")  # e.g. a whole number beyond 64 bits: kept as text
        return pa.array([None if v is None else str(v) for v in values], pa.string())

    def _finish(self, index: int) -> Any:
        import pyarrow as pa

        column = self.columns.get(index)
        if column is None:
            return pa.nulls(self.rows, pa.float64())  # an empty column: pandas made it float
        kinds = column.kinds
        if kinds <= {"int"}:
            target = pa.int64()
        elif kinds <= {"int", "float"}:
            target = pa.float64()
        elif kinds == {"bool"}:
            target = pa.bool_()
        elif kinds == {"datetime"}:
            target = pa.timestamp("us")
        else:
            target = pa.string()
        chunks = [pa.nulls(column.rows_before, target)] if column.rows_before else []
        for chunk in column.chunks:
            if chunk.type == target:
                chunks.append(chunk)
            elif pa.types.is_null(chunk.type) or target != pa.string():
                chunks.append(chunk.cast(target))
            else:
                chunks.append(pa.array([None if v is None else str(v) for v in chunk.to_pylist()], pa.string()))
        return pa.chunked_array(chunks, target)

    def _column_names(self) -> list[str]:
        names: list[str] = []
        used: set[str] = set()
        for index in range(1, self.width + 1):
            base = (self.names.get(index) or f"Unnamed: {index - 1}") if self.header else str(index - 1)
            name, copy = base, 0
            while name in used:
                copy += 1
                name = f"{base}.{copy}"
            used.add(name)
            names.append(name)
        return names
