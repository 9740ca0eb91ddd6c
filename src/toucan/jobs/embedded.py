"""The embedded stack's worker: `toucan-ctl serve` starts one job worker with the scheduler
beside the web server, and stops it when the server stops (still one command)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from toucan.child_process import own_group_dying_with_parent
from toucan.settings import Settings


@contextmanager
def embedded_worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """Run `toucan-ctl worker --beat --concurrency 1` for the duration of the block."""
    process = subprocess.Popen(
        [sys.executable, "-m", "toucan.cli", "worker", "--beat", "--concurrency", "1"],
        env=dict(os.environ),
        # Stopped as a group, and sent SIGTERM when `serve` dies, even by SIGKILL.
        preexec_fn=lambda: own_group_dying_with_parent(signal.SIGTERM),
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            # Celery's warm shutdown: running jobs finish or are reaped by the next start.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
