"""Docs generated from code: `python -m toucan.reference_docs` writes them, `--check` fails
(exit 1) when one differs from what the code says.

- docs/configuration.md, whole, from the Settings class (toucan.settings_doc);
- the error-code table of docs/api.md, between its markers, from `ErrorCode` (toucan.errors).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toucan.errors import ErrorCode

DOCS = Path(__file__).resolve().parents[2] / "docs"


@dataclass(frozen=True)
class Generated:
    """A generated file, or the part of one between `<!-- {marker}:start -->` and `:end -->`."""

    path: Path
    render: Callable[[], str]
    marker: str | None = None

    def expected(self) -> str:
        if self.marker is None:
            return self.render()
        text = self.path.read_text() if self.path.exists() else ""
        start, end = f"<!-- {self.marker}:start -->", f"<!-- {self.marker}:end -->"
        if start not in text or end not in text:
            raise SystemExit(f"{self.path}: the markers {start} and {end} are missing.")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        return f"{head}{start}\n{self.render()}{end}{tail}"

    def is_current(self) -> bool:
        return self.path.exists() and self.path.read_text() == self.expected()


def error_codes_table() -> str:
    """One row per `error.code` the API answers, from the enumeration."""
    rows = ["| code | status | meaning |", "|---|---|---|"]
    for code in ErrorCode:
        status = str(code.status) if code.status else "any"
        meaning = code.meaning.replace("|", "\\|")
        rows.append(f"| `{code.value}` | {status} | {meaning} |")
    return "\n".join(rows) + "\n"


def _settings_doc() -> str:
    from toucan.settings_doc import render

    return render()


GENERATED = (
    Generated(DOCS / "configuration.md", _settings_doc),
    Generated(DOCS / "api.md", error_codes_table, marker="error-codes"),
)


def stale() -> list[Path]:
    return [doc.path for doc in GENERATED if not doc.is_current()]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        outdated = stale()
        if outdated:
            names = ", ".join(str(p.relative_to(DOCS.parent)) for p in outdated)
            sys.stderr.write(f"{names}: stale, generated from the code: run `make docs`.\n")
            raise SystemExit(1)
        return
    for doc in GENERATED:
        expected = doc.expected()
        if not doc.path.exists() or doc.path.read_text() != expected:
            doc.path.write_text(expected)
            print(f"wrote {doc.path}")


if __name__ == "__main__":
    main()
