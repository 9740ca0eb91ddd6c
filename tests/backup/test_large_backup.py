"""A 1 GB small app backed up and restored by the tools (bench/backup/backup_scenario.py): memory
stays flat — each tool's peak resident memory under 200 MB — and every row is restored.
The time is recorded by the bench (bench/README.md), never asserted here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench" / "backup"))
from backup_scenario import run

GIB = 1024 * 1024 * 1024

# Two SQLite stacks of its own, whatever the suite's database: run once (the SQLite pass).
pytestmark = pytest.mark.own_stacks


def test_a_gigabyte_app_goes_through_backup_and_restore_in_flat_memory(tmp_path: Path) -> None:
    figures = run(tmp_path, GIB)
    assert figures.storage_bytes >= GIB
    assert figures.restored_rows == figures.rows > 0
    assert figures.backup.peak_rss_mib < 200, figures.backup
    assert figures.restore.peak_rss_mib < 200, figures.restore
