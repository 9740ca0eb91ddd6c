"""Pass rate of the weaverbird conformance fixtures, per step; rewrites the table in docs/pipelines.md.

.venv/bin/python bench/conformance_report.py
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from tests.data.conformance import cases, outcome  # noqa: E402

DOC = ROOT / "docs" / "pipelines.md"
START, END = "<!-- conformance:start -->", "<!-- conformance:end -->"


def main() -> None:
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for case in cases():
        counts[case.step][outcome(case)[0]] += 1
    lines = ["| step | passed | applicable | not applicable |", "|---|---|---|---|"]
    total = collections.Counter()
    table = Table(title="weaverbird conformance")
    for col in ("step", "passed", "applicable", "n/a"):
        table.add_column(col)
    for step in sorted(counts):
        c = counts[step]
        applicable = c["pass"] + c["fail"]
        total.update(c)
        lines.append(f"| {step} | {c['pass']} | {applicable} | {c['not_applicable']} |")
        table.add_row(step, str(c["pass"]), str(applicable), str(c["not_applicable"]))
    applicable = total["pass"] + total["fail"]
    rate = f"{100 * total['pass'] / applicable:.1f} %"
    lines.append(f"| **all** | **{total['pass']}** | **{applicable}** ({rate}) | {total['not_applicable']} |")
    Console().print(table)
    print(f"passed {total['pass']} of {applicable} applicable fixtures ({rate})")
    text = DOC.read_text()
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        DOC.write_text(before + START + "\n" + "\n".join(lines) + "\n" + END + after)
        print(f"updated {DOC}")


if __name__ == "__main__":
    main()
