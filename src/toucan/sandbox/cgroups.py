"""A cgroup per sandbox run, where the host lets the worker make one: memory and task limits
for everything the run starts, and an out-of-memory count to name the limit that was hit.

`TOUCAN_BUILDER_CODE_CGROUP` chooses: `auto` (cgroup v1 `memory` and `pids` hierarchies the
worker may write, else a cgroup v2 directory whose `memory` and `pids` controllers the worker
may enable for children), `none`, or the path of a delegated cgroup v2 directory. Where none
can be made the sandbox still holds (see `toucan.sandbox.bwrap`), with per-process limits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "toucan-sandbox-"
STALE_AFTER = 60.0  # seconds: a younger cgroup may be one another worker is just filling


class CgroupUnavailable(Exception):
    """The cgroup the setting asks for cannot be made; the message says why."""


@dataclass
class SandboxCgroup:
    """The cgroup directories of one run (two under cgroup v1, one under v2)."""

    version: int
    memory_dir: Path
    pids_dir: Path
    procs_files: list[str] = field(default_factory=list)

    def enter(self) -> None:
        """Move the calling process into the cgroup (run after fork, before exec: only system calls)."""
        pid = str(os.getpid()).encode()
        for path in self.procs_files:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this cgroup for going over its memory limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (self.memory_dir / name).read_text()
        except OSError:
            return False
        counters = dict(line.split()[:2] for line in text.splitlines() if len(line.split()) >= 2)
        if counters.get("oom_kill", "0") != "0":
            return True
        return self.version == 1 and _read_int(self.memory_dir / "memory.failcnt") > 0 and "oom_kill" not in counters

    def kill_and_remove(self) -> None:
        """Kill whatever is left in the cgroup, then remove its directories."""
        dirs = {self.memory_dir, self.pids_dir}
        deadline = time.monotonic() + 5
        for directory in dirs:
            while directory.exists():
                if self.version == 2 and (directory / "cgroup.kill").exists():
                    _write(directory / "cgroup.kill", "1")
                for pid in _pids(directory):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                try:
                    directory.rmdir()
                except FileNotFoundError:
                    break
                except OSError:  # processes still exiting
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.005)


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _pids(directory: Path) -> list[int]:
    try:
        return [int(line) for line in (directory / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _own_cgroups() -> dict[str, str]:
    """Controller (or "" for cgroup v2) → this process's cgroup path, from /proc/self/cgroup."""
    found: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount root, mount point, fs type, super options) of every cgroup mount."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            mounts.append((fields[3], fields[4], tail[0], set(tail[2].split(","))))
    return mounts


def _under(mount_root: str, mount_point: str, path: str) -> Path:
    relative = os.path.relpath(path, mount_root) if path.startswith(mount_root) else "."
    return Path(mount_point) / ("" if relative == "." else relative)


def _v1_dirs() -> tuple[Path, Path] | None:
    own = _own_cgroups()
    found: dict[str, Path] = {}
    for root, point, kind, options in _mounts():
        for controller in ("memory", "pids"):
            if kind == "cgroup" and controller in options and controller in own:
                found[controller] = _under(root, point, own[controller])
    if len(found) == 2 and all(os.access(d, os.W_OK) for d in found.values()):
        return found["memory"], found["pids"]
    return None


def _v2_parent(setting: str) -> Path | None:
    if setting not in ("auto", ""):
        return Path(setting)
    own = _own_cgroups().get("")
    for root, point, kind, _ in _mounts():
        if kind == "cgroup2" and own is not None:
            return _under(root, point, own)
    return None


def _enable_v2_controllers(parent: Path) -> None:
    enabled = set((parent / "cgroup.subtree_control").read_text().split())
    missing = {"memory", "pids"} - enabled
    if missing:
        _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(missing)))


def remove_stale(parent: Path) -> None:
    """Remove the empty sandbox cgroups a killed worker left under `parent` (rmdir refuses busy ones)."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        if entry.name.startswith(PREFIX) and entry.is_dir(follow_symlinks=False):
            with contextlib.suppress(OSError):
                if now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER:
                    os.rmdir(entry.path)


def make_cgroup(setting: str, memory_bytes: int, max_tasks: int) -> SandboxCgroup | None:
    """A new cgroup holding at most `memory_bytes` of memory (no swap) and `max_tasks` tasks.

    None when the setting is `none`, or when it is `auto` and the host offers no cgroup the
    worker may use; `CgroupUnavailable` when a path was given and cannot be used.
    """
    if setting == "none":
        return None
    name = PREFIX + uuid.uuid4().hex[:12]
    v1 = _v1_dirs() if setting == "auto" else None
    if v1 is not None:
        remove_stale(v1[0])
        remove_stale(v1[1])
        memory_dir, pids_dir = v1[0] / name, v1[1] / name
        try:
            memory_dir.mkdir()
            pids_dir.mkdir()
            _write(memory_dir / "memory.limit_in_bytes", str(memory_bytes))
            if (memory_dir / "memory.memsw.limit_in_bytes").exists():
                _write(memory_dir / "memory.memsw.limit_in_bytes", str(memory_bytes))
            _write(pids_dir / "pids.max", str(max_tasks))
        except OSError:
            SandboxCgroup(1, memory_dir, pids_dir).kill_and_remove()
        else:
            procs = [str(memory_dir / "cgroup.procs"), str(pids_dir / "cgroup.procs")]
            return SandboxCgroup(1, memory_dir, pids_dir, procs)
    parent = _v2_parent(setting)
    directory = parent / name if parent is not None else None
    try:
        if parent is None or directory is None:
            raise CgroupUnavailable("no cgroup v2 hierarchy is mounted")
        _enable_v2_controllers(parent)
        remove_stale(parent)
        directory.mkdir()
        _write(directory / "memory.max", str(memory_bytes))
        if (directory / "memory.swap.max").exists():
            _write(directory / "memory.swap.max", "0")
        _write(directory / "pids.max", str(max_tasks))
    except (OSError, CgroupUnavailable) as exc:
        if directory is not None and directory.exists():
            SandboxCgroup(2, directory, directory).kill_and_remove()
        if setting == "auto":
            return None
        raise CgroupUnavailable(
            f"cannot make a cgroup under {setting}: {exc}. It must be a cgroup v2 directory the worker "
            "owns, with no process in it, whose memory and pids controllers are available."
        ) from None
    return SandboxCgroup(2, directory, directory, [str(directory / "cgroup.procs")])
