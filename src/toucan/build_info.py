"""Version and build information, as `GET /` shows it."""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path
from typing import Any

from toucan import API_VERSION, __version__

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def _git_commit() -> str | None:
    stamp = Path(__file__).with_name("BUILD_COMMIT")
    if stamp.exists():  # written into images at build time
        return stamp.read_text().strip() or None
    if not (_SOURCE_ROOT / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(_SOURCE_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def version_info() -> dict[str, Any]:
    return {
        "name": "toucan",
        "version": __version__,
        "api_version": API_VERSION,
        "build": {"commit": _git_commit(), "python": platform.python_version()},
    }
