"""Scratch space of job processes: one folder per process under `<data dir>/tmp`, swept when
its process is gone.

A job writes its temporary files (staged sources, builder code exchange folders, readers'
decompressed copies) through `tempfile`, which each worker process points at its own folder
`<data dir>/tmp/<host>-<pid>-<start time>`. A process killed in the middle of a job (time
limit, out of memory, `kill -9`) cannot clean up after itself; the next sweep — at each
worker start and with each run of the scheduler's reaper — removes the folders of processes
of this host that no longer run. Folders of other hosts sharing the data dir are left to
them, unless untouched for longer than any job may run.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

FOLDER = "tmp"
# A folder of another host untouched for this long belongs to no running job.
MIN_FOREIGN_AGE = 24 * 3600.0


def scratch_root(data_dir: Path) -> Path:
    return data_dir / FOLDER


def _name(pid: int) -> str:
    started = int(psutil.Process(pid).create_time() * 1000)
    return f"{socket.gethostname()}-{pid}-{started}"


def process_folder(data_dir: Path) -> Path:
    """This process's scratch folder (created): swept once the process is gone."""
    folder = scratch_root(data_dir) / _name(os.getpid())
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def use_process_scratch(data_dir: Path) -> Path:
    """Point this process's temporary files (and its children's) at its own scratch folder."""
    folder = process_folder(data_dir)
    tempfile.tempdir = str(folder)
    os.environ["TMPDIR"] = str(folder)
    return folder


def ensure_process_scratch() -> None:
    """Re-create this process's scratch folder if a sweep elsewhere removed it while idle."""
    if tempfile.tempdir:
        Path(tempfile.tempdir).mkdir(parents=True, exist_ok=True)


def _alive(pid: int, started: str) -> bool:
    try:
        return str(int(psutil.Process(pid).create_time() * 1000)) == started
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def _newest_change(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for entry in folder.iterdir():
        try:
            newest = max(newest, entry.stat().st_mtime)
        except OSError:
            continue
    return newest


def sweep(data_dir: Path, job_time_limit: float) -> int:
    """Remove the scratch folders of processes that are gone; returns how many."""
    root = scratch_root(data_dir)
    if not root.is_dir():
        return 0
    host = socket.gethostname()
    oldest_foreign = time.time() - max(MIN_FOREIGN_AGE, 2 * job_time_limit)
    removed = 0
    for folder in root.iterdir():
        owner, _, rest = folder.name.rpartition("-")
        owner_host, _, pid = owner.rpartition("-")
        if not folder.is_dir() or not pid.isdigit() or not rest.isdigit():
            continue
        try:
            gone = not _alive(int(pid), rest) if owner_host == host else _newest_change(folder) < oldest_foreign
        except OSError:
            continue
        if gone:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        log.info("removed %d scratch folder(s) of stopped job processes under %s", removed, root)
    return removed
