"""Browser tests: the stack's passwords and screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import ROOT

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


ADMIN_PASSWORD = "browser-admin-pw"
DEMO_PASSWORD = "browser-demo-pw"


def shot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def record_errors(page: Any) -> Any:
    """`page` with its console errors and uncaught exceptions collected in `page.console_errors`."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.console_errors = errors
    return page
