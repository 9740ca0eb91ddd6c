"""What one doctor check found: a verdict, what was seen, and the fix when something is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """`fail`: the stack does not work as it should; `warn`: it works, with a limit; `skip`: not checked."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    """One check's answer; `fix` says what to do (always given for `fail` and `warn`)."""

    check: str
    verdict: Verdict
    summary: str
    fix: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"check": self.check, "verdict": self.verdict.value, "summary": self.summary, "fix": self.fix}


def ok(check: str, summary: str) -> Finding:
    return Finding(check, Verdict.OK, summary)


def fail(check: str, summary: str, fix: str) -> Finding:
    return Finding(check, Verdict.FAIL, summary, fix)


def warn(check: str, summary: str, fix: str) -> Finding:
    return Finding(check, Verdict.WARN, summary, fix)


def skip(check: str, summary: str, fix: str | None = None) -> Finding:
    return Finding(check, Verdict.SKIP, summary, fix)


def first_line(exc: BaseException, limit: int = 300) -> str:
    """`Type: first line of the message`, short enough for one line of the report."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:limit]
