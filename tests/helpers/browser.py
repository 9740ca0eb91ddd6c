"""Browser tests: the stack's passwords and screenshots."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import ROOT

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


ADMIN_PASSWORD = "browser-admin-pw"
DEMO_PASSWORD = "browser-demo-pw"


def shot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
