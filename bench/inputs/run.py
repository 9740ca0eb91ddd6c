"""Bounded inputs: CSON parsing and Excel reading, the stack's way beside the old one.

    .venv/bin/python bench/inputs/run.py [--runs 3] [--old-cson-200k-runs 1]

Every measure runs in a child process of its own (imports done before the clock starts), so
its time and its peak memory are its own: peak = the kernel's VmHWM, reset once the imports are
done, minus the resident memory at that moment ("above base").

- CSON: a document of 32,000 and of 200,000 keys (`key_<n>: <n>` lines, what `dump_cson`
  writes; 0.4 and 2.9 MB) parsed by the `cson` package (what `parse_cson` used before) and by
  `toucan.formats.parse_cson`; for ours also a front-config-like document of the same number of
  keys (slides of nested objects and lists). The old parser on 200,000 keys takes minutes:
  `--old-cson-200k-runs 0` skips it.
- Excel, a hand-made .xlsx of two cells, A1 and XFD1048576 (or XFD4000), with its
  `<dimension>`: refused by the stack's reader (`toucan.etl.excel.read_excel`, the default
  TOUCAN_UPLOAD_MAX_CELLS); read by the old path (`pandas.read_excel` with openpyxl, as
  `toucan.etl.readers` did) only for XFD4000 (XFD1048576 would take the host's memory: the
  child gets an address-space cap, `--old-cap-gib`), and without a dimension for ours.
- Excel, a normal workbook of 100,000 rows x 8 columns (text, integers, decimals, dates,
  booleans; written by openpyxl) read whole, old path and ours.

The variants of a measure take turns run by run, so they see the same load of the machine.
Times are medians of `--runs` (each run's kept in the JSON); peaks are the largest. Prints a
table and writes bench/results/inputs-<date>.json (with the load average before and after).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _common import RESULTS, print_table, write_result  # noqa: E402

WORK = RESULTS / "tmp" / "inputs"

# The child: imports first, then the clock and the memory peak start.
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
measure, path, cap_gib = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
if cap_gib:
    cap = int(cap_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import pandas, pyarrow, cson, openpyxl
from toucan.formats import parse_cson
from toucan.etl.excel import read_excel
from toucan.etl.readers import FileOptions

def old_read_excel(source):
    # toucan.etl.readers.read_excel before the streaming reader (what the stack ran until now).
    frame = pandas.read_excel(source, sheet_name=0, header=0, engine="openpyxl")
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: None if pandas.isna(v) else str(v))
    return pyarrow.Table.from_pandas(frame, preserve_index=False)

def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:")) / 1024

def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024

text = path.read_text() if measure.startswith("cson") else None
base = rss()
open("/proc/self/clear_refs", "w").write("5")  # reset VmHWM to the current RSS
start = time.perf_counter()
outcome = "ok"
try:
    if measure == "cson-old":
        result = f"{len(cson.loads(text))} keys"
    elif measure == "cson-new":
        result = f"{len(parse_cson(text, 64))} keys"
    elif measure == "xlsx-old":
        table = old_read_excel(path)
        result = f"{table.num_rows} rows x {table.num_columns} columns"
    elif measure == "xlsx-new":
        table = read_excel(path, path.name, FileOptions(), 20_000_000)
        result = f"{table.num_rows} rows x {table.num_columns} columns"
    else:
        raise SystemExit(f"unknown measure {measure}")
except MemoryError:
    outcome, result = "MemoryError", f"stopped at the {cap_gib:g} GiB cap"
except Exception as exc:
    outcome, result = type(exc).__name__, str(exc)[:160]
seconds = time.perf_counter() - start
peak = hwm() - base
print(json.dumps({"seconds": seconds, "peak_mib": peak, "base_mib": base, "outcome": outcome, "result": result}))
"""

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def far_cells_xlsx(last: str, dimension: bool) -> bytes:
    """Two cells, A1 and `last`, in a workbook made by hand (4.7 KB files like it were the report)."""
    row = "".join(c for c in last if c.isdigit())
    sheet = (
        f'<worksheet xmlns="{_MAIN}">'
        + (f'<dimension ref="A1:{last}"/>' if dimension else "")
        + '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
        f'<row r="{row}"><c r="{last}"><v>1</v></c></row></sheetData></worksheet>'
    )
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
        f'Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{_MAIN}" xmlns:r="{_OFFICE}">'
        '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
        f'Type="{_OFFICE}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": sheet,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + text)
    return out.getvalue()


def normal_xlsx(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Sales")
    sheet.append(["id", "country", "city", "units", "price", "day", "paid", "note"])
    countries = ["France", "Spain", "Italy", "Germany", "Portugal"]
    for i in range(rows):
        sheet.append(
            [
                i,
                countries[i % 5],
                f"City {i % 997}",
                i % 50,
                round(i * 0.37 % 1000, 2),
                datetime(2024, 1 + i % 12, 1 + i % 28),
                i % 3 == 0,
                f"order {i}",
            ]
        )
    workbook.save(path)


def cson_documents(keys: int) -> dict[str, str]:
    from toucan.formats import dump_cson

    flat = dump_cson({f"key_{i}": i for i in range(keys)})
    slides = [
        {"id": f"s{i}", "title": f"Slide {i}", "chart": {"type": "bar", "x": "country", "values": [i, i / 2, "y"]}}
        for i in range(keys // 7)
    ]
    return {"flat": flat, "front config": dump_cson({"slides": slides})}


def child(measure: str, path: Path, cap_gib: float = 0) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, measure, str(path), str(cap_gib)],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("TOUCAN_")},
    )
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        return {"seconds": None, "peak_mib": None, "outcome": f"exit {out.returncode}", "result": out.stderr[-300:]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def measure(name: str, path: Path, variants: list[tuple[str, str, int]], cap_gib: float = 0) -> list[dict[str, Any]]:
    """Each variant (label, child measure, runs) on `path`, taking turns run by run (so all see
    the same load of the machine)."""
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in variants}
    for turn in range(max(runs for _, _, runs in variants)):
        for label, child_measure, runs in variants:
            if turn < runs:
                results[label].append(child(child_measure, path, cap_gib))
    rows = []
    for label, _, _ in variants:
        done = results[label]
        times = [r["seconds"] for r in done if r["seconds"] is not None]
        peaks = [r["peak_mib"] for r in done if r["peak_mib"] is not None]
        row = {
            "measure": name,
            "reader": label,
            "input_bytes": path.stat().st_size,
            "median_s": round(statistics.median(times), 3) if times else None,
            "runs_s": [round(t, 3) for t in times],
            "peak_mib_above_base": round(max(peaks), 1) if peaks else None,
            "outcome": done[-1]["outcome"],
            "result": done[-1]["result"],
        }
        print(f"  {name} / {label}: {row['median_s']} s, {row['peak_mib_above_base']} MiB, {row['result'][:100]}")
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--old-cson-200k-runs", type=int, default=1)
    parser.add_argument("--old-cap-gib", type=float, default=8.0, help="address-space cap of the old Excel reader")
    parser.add_argument("--excel-rows", type=int, default=100_000)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []

    load_before = os.getloadavg()
    for keys in (32_000, 200_000):
        for kind, text in cson_documents(keys).items():
            path = WORK / f"cson-{kind.replace(' ', '-')}-{keys}.cson"
            path.write_text(text)
            old_runs = args.runs if keys < 100_000 else args.old_cson_200k_runs
            variants = [("old: cson package", "cson-old", old_runs)] if kind == "flat" and old_runs else []
            variants.append(("new: parse_cson", "cson-new", args.runs))
            rows += measure(f"CSON {keys:,} keys, {kind}", path, variants)

    old_excel = ("old: pandas.read_excel", "xlsx-old", args.runs)
    new_excel = ("new: streaming, 20M-cell budget", "xlsx-new", args.runs)
    for last, dimension in (("XFD4000", True), ("XFD1048576", True), ("XFD1048576", False)):
        path = WORK / f"far-{last}{'' if dimension else '-no-dimension'}.xlsx"
        path.write_bytes(far_cells_xlsx(last, dimension))
        name = f"xlsx A1 + {last}" + ("" if dimension else ", no <dimension>")
        variants = [old_excel, new_excel] if last == "XFD4000" else [new_excel]
        rows += measure(name, path, variants, args.old_cap_gib)

    path = WORK / f"normal-{args.excel_rows}.xlsx"
    if not path.exists():
        normal_xlsx(path, args.excel_rows)
    rows += measure(f"xlsx {args.excel_rows:,} rows x 8 columns", path, [old_excel, new_excel], args.old_cap_gib)
    rows.append({"measure": "load average (1, 5, 15 min)", "before": load_before, "after": os.getloadavg()})

    shown = [
        {"measure": r["measure"], "reader": r["reader"], "s": r["median_s"], "MiB": r["peak_mib_above_base"]}
        for r in rows
        if "reader" in r
    ]
    print_table("Bounded inputs", shown)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    written = write_result(f"inputs-{stamp}", " ".join([".venv/bin/python", *sys.argv]), rows)
    print(f"wrote {written}")


if __name__ == "__main__":
    main()
