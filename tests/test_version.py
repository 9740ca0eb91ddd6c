"""One version source (VERSION) for the backend, the frontend and the images; the changelog
in released sections (docs/upgrading.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import toucan

ROOT = Path(__file__).resolve().parent.parent
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
RELEASED = re.compile(r"^## (\d+\.\d+\.\d+) — (\d{4}-\d{2}-\d{2})$")


def _version() -> str:
    return (ROOT / "VERSION").read_text().strip()


def _key(version: str) -> tuple[int, ...]:
    match = SEMVER.match(version)
    assert match, f"{version!r} is not X.Y.Z"
    return tuple(int(part) for part in match.groups())


def test_the_backend_and_the_frontend_take_their_version_from_the_version_file() -> None:
    version = _version()
    _key(version)
    assert toucan.__version__ == version, "run `make install`: the installed version is not VERSION's"
    package = json.loads((ROOT / "frontend/package.json").read_text())
    assert "version" not in package, "the frontend's version comes from VERSION, not package.json"
    built = ROOT / "frontend/dist/tucana-version.txt"
    assert built.read_text().strip() == f"v{version}", "run `make frontend`: the built frontend is of another version"


def test_the_changelog_has_unreleased_changes_on_top_then_released_sections_newest_first() -> None:
    headings = [line for line in (ROOT / "CHANGELOG.md").read_text().splitlines() if line.startswith("## ")]
    assert headings, "CHANGELOG.md has no section"
    released = headings[1:] if headings[0] == "## Unreleased" else headings
    versions = []
    for heading in released:
        match = RELEASED.match(heading)
        assert match, f"{heading!r}: a released section is `## X.Y.Z — YYYY-MM-DD` (only `## Unreleased` above them)"
        versions.append(_key(match.group(1)))
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions), "newest first, once each"
    assert all(v <= _key(_version()) for v in versions), "a released section is newer than VERSION"
