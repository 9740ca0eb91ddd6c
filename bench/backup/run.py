"""Backup bench: `toucan_backup` and `toucan_restore` on a GB-sized small app.

    .venv/bin/python bench/backup/run.py [--size-mb 1024] [--dir /tmp]

Prints the time and peak resident memory of each tool and writes bench/results/backup-<date>.json
(see bench/backup/backup_scenario.py for what runs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import print_table, write_result
from backup_scenario import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the app's domain files, in MiB")
    parser.add_argument("--dir", type=Path, default=None, help="where the two stacks and the backup are written")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="toucan-backup-bench-", dir=args.dir) as tmp:
        figures = run(Path(tmp), args.size_mb * 1024 * 1024)
    mib = 1024 * 1024
    rows = [
        {
            "figure": "app storage (Parquet)",
            "value": f"{figures.storage_bytes / mib:,.0f} MiB in {figures.domains} domains, {figures.rows:,} rows",
        },
        {"figure": "backup folder", "value": f"{figures.backup_bytes / mib:,.0f} MiB"},
        {"figure": "toucan_backup", "value": f"{figures.backup.seconds} s, peak RSS {figures.backup.peak_rss_mib} MiB"},
        {
            "figure": "toucan_restore",
            "value": f"{figures.restore.seconds} s, peak RSS {figures.restore.peak_rss_mib} MiB",
        },
        {"figure": "rows served after the restore", "value": f"{figures.restored_rows:,}"},
    ]
    print_table("Backup and restore of one small app", rows)
    command = f".venv/bin/python bench/backup/run.py --size-mb {args.size_mb}"
    path = write_result(f"backup-{datetime.now(UTC):%Y%m%d}", command, rows)
    print(f"written: {path}")


if __name__ == "__main__":
    main()
