"""How a job fails on purpose: `JobFailed`, shown to the builder as is.

Imports nothing of `toucan.etl` or of the runner, so domain code that fails a job (preprocess,
builder code) does not import the module that calls it.
"""

from __future__ import annotations

import json

from toucan.errors import ToucanError


class JobFailed(Exception):
    """A failure to show the builder as is: `report` is a validation report or a traceback of their code."""

    def __init__(self, message: str, report: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.report = report


def details_text(exc: ToucanError) -> str | None:
    """The details of a ToucanError as indented JSON, for a job's report; None without details."""
    if exc.details is None:
        return None
    return json.dumps(exc.details, indent=2, default=str, ensure_ascii=False)
