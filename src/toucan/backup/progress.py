"""How backup and restore report progress: the CLI draws Rich progress bars, a job sets its
percentage, a test ignores it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Advance = Callable[[int], None]


class Progress(Protocol):
    def task(self, description: str, total: int | None) -> Advance:
        """Start a step of `total` units (bytes); returns the function that advances it."""
        ...

    def say(self, message: str) -> None:
        """A line for the operator."""
        ...


class _Quiet:
    def task(self, description: str, total: int | None) -> Advance:
        return lambda _: None

    def say(self, message: str) -> None:
        pass


QUIET: Progress = _Quiet()
