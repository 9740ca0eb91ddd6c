"""Running one Python program confined by the kernel, through bubblewrap (`bwrap`).

The program gets new user, PID, network, IPC, UTS and mount namespaces; it sees read-only
only what Python and its libraries need (/usr, the interpreter's prefix, the virtualenv at
/venv, the few scripts it runs), its job folder at /job and its inputs, read-only; the only
writable path is /work, a tmpfs of TOUCAN_BUILDER_CODE_DISK_MB; results go back through file
descriptors the worker passes. A cleared environment, no /proc, data dir, database or secret
key, no network but its own loopback. Limits: where a cgroup can be made, memory and tasks of
the whole sandbox; where not, a seccomp filter refuses new processes (threads pass), so the
address-space limit of its one process bounds the whole sandbox. CPU seconds and file size
per process everywhere. At the time limit the bwrap process is killed; the PID namespace dies
with it, so nothing started inside survives.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from toucan.child_process import own_group_dying_with_parent
from toucan.sandbox import seccomp
from toucan.sandbox.cgroups import CgroupUnavailable, SandboxCgroup, make_cgroup
from toucan.settings import Settings

SANDBOX_SETTING = "TOUCAN_BUILDER_CODE_SANDBOX"
JOB = "/job"
WORK = "/work"
PROGRAMS = "/sandbox"
VENV = "/venv"
SANDBOX_UID = 65534  # "nobody" inside the sandbox's own user namespace
OUTPUT_TAIL = 64 * 1024
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates",
    "/etc/pki/tls/certs",
    "/etc/pki/ca-trust",
)
# One thread per numeric library; and allocators that do not reserve address space ahead: under
# RLIMIT_AS, pyarrow's mimalloc pool (~1 GiB reserved) and glibc's per-thread arenas (64 MiB each)
# would leave builder code a fraction of TOUCAN_BUILDER_CODE_MEMORY_MB for its data.
CHILD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "ARROW_DEFAULT_MEMORY_POOL": "system",
    "MALLOC_ARENA_MAX": "2",
}
FIX = (
    "Install bubblewrap (Debian: apt-get install bubblewrap) and allow unprivileged user namespaces "
    "(in a container: see docs/deployment.md and docs/security.md); `toucan-ctl doctor sandbox` checks the "
    f"host. Or, only where every builder is trusted, set {SANDBOX_SETTING}=none."
)


class SandboxUnavailable(Exception):
    """No sandbox can be made on this host; the message names the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Limits:
    """What one confined run may use."""

    wall_seconds: float
    cpu_seconds: int
    memory_mb: int
    disk_mb: int
    max_processes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The TOUCAN_BUILDER_CODE_* limits."""
        return cls(
            wall_seconds=settings.builder_code_timeout,
            cpu_seconds=settings.builder_code_cpu_seconds or max(1, int(settings.builder_code_timeout + 0.999)),
            memory_mb=settings.builder_code_memory_mb,
            disk_mb=settings.builder_code_disk_mb,
            max_processes=settings.builder_code_max_processes,
        )


@dataclass(frozen=True)
class Program:
    """A Python program and what it sees: host paths, and where they appear inside."""

    script: Path  # host path of the script run with the interpreter; its argument is the job folder
    job: Path  # host folder, read-only at /job
    scratch: Path  # host folder used as /work by `run_plain`; in the sandbox /work is a tmpfs
    read_only: dict[str, Path] = field(default_factory=dict)  # inside path → host file
    modules: list[Path] = field(default_factory=list)  # more scripts beside the program, in /sandbox
    env: dict[str, str] = field(default_factory=dict)
    pass_fds: tuple[int, ...] = ()


@dataclass
class Outcome:
    """How a run ended."""

    exit_code: int | None  # the program's, None when a signal ended it
    signal: int | None
    timed_out: bool
    out_of_memory: bool
    cpu_seconds: float
    output: str
    cgroup: bool = False


def python_paths() -> dict[str, Path]:
    """Inside path → host folder of Python and its installed libraries (bound read-only).

    A virtualenv appears at /venv, so the path of the project it lives in is not shown.
    """
    base = Path(sys.base_prefix).resolve()
    paths: dict[str, Path] = {}
    if not _within(base, Path("/usr")):
        paths[str(base)] = base
    if Path(sys.prefix).resolve() != base:
        paths[VENV] = Path(sys.prefix).resolve()
    return paths


def python_inside() -> str:
    """The interpreter's path inside the sandbox."""
    if Path(sys.prefix).resolve() != Path(sys.base_prefix).resolve():
        return f"{VENV}/bin/{Path(sys.executable).name}"
    return sys.executable


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _refuse_secrets_in_view(settings: Settings, bound: list[Path]) -> None:
    secrets = [Path(settings.data_dir).resolve()]
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        secrets.append(Path(url.removeprefix("sqlite:///")).resolve())
    for folder in bound:
        for secret in secrets:
            if _within(secret, folder):
                raise SandboxUnavailable(
                    f"The sandbox would show {secret} (the data dir or the database), which lies inside {folder}, "
                    "a folder Python needs. Move the data dir (TOUCAN_DATA_DIR) out of the Python installation."
                )


def bwrap_command(settings: Settings, program: Program, seccomp_fd: int, status_fd: int) -> list[str]:
    """The bwrap command line that runs `program` confined."""
    bwrap = shutil.which(settings.builder_code_bwrap)
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap ({settings.builder_code_bwrap}) is not installed. {FIX}")
    bound = python_paths()
    _refuse_secrets_in_view(settings, [Path("/usr"), *bound.values()])
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": WORK,
        "TMPDIR": WORK,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        **CHILD_ENV,
        **program.env,
    }
    command = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        # No --disable-userns: it writes /proc/sys, read-only in containers; the seccomp filter
        # refuses every way to a new namespace instead (unshare, setns, clone with CLONE_NEW*).
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            command += ["--ro-bind", str(path), str(path)]
    # Certificates only: /etc/ssl/private and /etc/pki/tls/private hold keys the worker's user may own.
    for etc in ETC_FILES:
        command += ["--ro-bind-try", etc, etc]
    for inside, host in bound.items():
        command += ["--ro-bind", str(host), inside]
    command += ["--dev", "/dev", "--remount-ro", "/dev", "--ro-bind", str(program.job), JOB]
    for inside, host in program.read_only.items():
        command += ["--ro-bind", str(host), inside]
    for script in [program.script, *program.modules]:
        command += ["--ro-bind", str(script), f"{PROGRAMS}/{script.name}"]
    disk = str(settings.builder_code_disk_mb * 1024 * 1024)
    command += ["--perms", "1777", "--size", disk, "--tmpfs", WORK, "--remount-ro", "/", "--chdir", WORK]
    for key, value in env.items():
        command += ["--setenv", key, value]
    if seccomp_fd >= 0:
        command += ["--seccomp", str(seccomp_fd)]
    command += ["--json-status-fd", str(status_fd)]
    command += ["--", python_inside(), "-I", "-B", f"{PROGRAMS}/{program.script.name}", JOB]
    return command


def _rlimits(limits: Limits, with_address_space: bool = True) -> list[tuple[int, tuple[int, int]]]:
    file_bytes = limits.disk_mb * 1024 * 1024
    values = [
        (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1)),
        (resource.RLIMIT_FSIZE, (file_bytes, file_bytes)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if with_address_space:
        memory = limits.memory_mb * 1024 * 1024
        values.append((resource.RLIMIT_AS, (memory, memory)))
    return values


def _start(
    command: list[str],
    cwd: Path,
    env: dict[str, str] | None,
    pass_fds: tuple[int, ...],
    before_exec: Callable[[], None],
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        pass_fds=pass_fds,
        preexec_fn=before_exec,
    )


def _wait(process: subprocess.Popen[bytes], limits: Limits, stop: Callable[[], None]) -> tuple[int, float, bool, str]:
    """Wait for the process (killing it at the wall-clock limit): status, CPU seconds, timed out, output tail."""
    tail: collections.deque[bytes] = collections.deque()
    size = [0]

    def read() -> None:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        for chunk in iter(lambda: os.read(fd, 65536), b""):
            tail.append(chunk)
            size[0] += len(chunk)
            while size[0] - len(tail[0]) >= OUTPUT_TAIL:
                size[0] -= len(tail.popleft())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ended = threading.Event()
    result: list[tuple[int, int, resource.struct_rusage]] = []

    def reap() -> None:
        # wait4 rather than Popen.wait: the rusage holds the CPU time of everything the sandbox reaped.
        result.append(os.wait4(process.pid, 0))
        ended.set()

    threading.Thread(target=reap, daemon=True).start()
    timed_out = not ended.wait(limits.wall_seconds)
    if timed_out:
        stop()
        ended.wait()
    _, status, usage = result[0]
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    if process.stdout is not None:
        process.stdout.close()
    output = b"".join(tail)[-OUTPUT_TAIL:].decode(errors="replace")
    return status, usage.ru_utime + usage.ru_stime, timed_out, output


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def run_confined(settings: Settings, program: Program) -> Outcome:
    """Run `program` in the bubblewrap sandbox; `SandboxUnavailable` when none can be made."""
    limits = Limits.from_settings(settings)
    try:
        cgroup = make_cgroup(settings.builder_code_cgroup, limits.memory_mb * 1024 * 1024, limits.max_processes)
    except CgroupUnavailable as exc:
        raise SandboxUnavailable(f"TOUCAN_BUILDER_CODE_CGROUP: {exc}") from None
    # With a cgroup, its task limit bounds processes; without one, processes are refused.
    seccomp_fd = seccomp.filter_fd(allow_processes=cgroup is not None)
    status_read, status_write = os.pipe()
    try:
        command = bwrap_command(settings, program, seccomp_fd, status_write)
        rlimits = _rlimits(limits)

        def before_exec() -> None:
            # Die with the worker; the cgroup and limits are inherited by everything inside.
            own_group_dying_with_parent(signal.SIGKILL)
            if cgroup is not None:
                cgroup.enter()
            for which, value in rlimits:
                resource.setrlimit(which, value)

        process = _start(command, program.job, {}, (seccomp_fd, status_write, *program.pass_fds), before_exec)
    except BaseException:
        _cleanup(cgroup)
        raise
    finally:
        os.close(seccomp_fd)
        os.close(status_write)

    def stop() -> None:
        _kill_group(process.pid)
        if cgroup is not None:
            cgroup.kill_and_remove()

    try:
        _status, cpu, timed_out, output = _wait(process, limits, stop)
        with os.fdopen(status_read, "rb") as f:
            statuses = _statuses(f.read())
        oom = cgroup is not None and cgroup.oom_killed()
    finally:
        _cleanup(cgroup)
    if "child-pid" not in statuses and not timed_out:
        raise SandboxUnavailable(f"bubblewrap could not make the sandbox: {output.strip()[-500:]}. {FIX}")
    code = statuses.get("exit-code", process.returncode)
    # bwrap reports a program ended by signal N as exit code 128 + N.
    sig = code - 128 if isinstance(code, int) and code > 128 else None
    return Outcome(
        exit_code=None if sig is not None or timed_out else code,
        signal=sig,
        timed_out=timed_out,
        out_of_memory=oom,
        cpu_seconds=cpu,
        output=output,
        cgroup=cgroup is not None,
    )


def _cleanup(cgroup: SandboxCgroup | None) -> None:
    if cgroup is not None:
        cgroup.kill_and_remove()


def _statuses(raw: bytes) -> dict[str, int]:
    found: dict[str, int] = {}
    decoder = json.JSONDecoder()
    text, index = raw.decode(errors="replace"), 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        try:
            value, index = decoder.raw_decode(text, index)
        except ValueError:
            break
        if isinstance(value, dict):
            found.update({k: v for k, v in value.items() if isinstance(v, int)})
    return found


def run_plain(settings: Settings, program: Program) -> Outcome:
    """Run `program` as a plain child process (TOUCAN_BUILDER_CODE_SANDBOX=none): limits, no confinement."""
    limits = Limits.from_settings(settings)
    rlimits = _rlimits(limits)
    env = {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "HOME": str(program.scratch),
        "TMPDIR": str(program.scratch),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        **CHILD_ENV,
        **program.env,
    }

    def before_exec() -> None:
        own_group_dying_with_parent(signal.SIGKILL)
        for which, value in rlimits:
            resource.setrlimit(which, value)

    command = [sys.executable, "-I", "-B", str(program.script), str(program.job)]
    process = _start(command, program.scratch, env, program.pass_fds, before_exec)
    status, cpu, timed_out, output = _wait(process, limits, lambda: _kill_group(process.pid))
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    return Outcome(
        exit_code=None if sig is not None else os.WEXITSTATUS(status),
        signal=sig,
        timed_out=timed_out,
        out_of_memory=False,
        cpu_seconds=cpu,
        output=output,
    )
