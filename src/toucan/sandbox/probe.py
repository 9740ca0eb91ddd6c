"""Inside the sandbox: what `toucan-ctl doctor sandbox` checks, tried from where builder code runs.

`python -I -B probe.py JOB`: reads JOB/request.json (paths to read, addresses to connect to),
tries each, and writes one JSON object per check to the result descriptor: what was tried,
whether it worked, and the error. Standard library only.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLONE_NEWUSER = 0x10000000


def _try(what: str, action: Callable[[], object]) -> dict[str, Any]:
    try:
        action()
        return {"check": what, "reached": True, "error": ""}
    except BaseException as exc:
        return {"check": what, "reached": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


def _read(path: str) -> object:
    if os.path.isdir(path):
        return os.listdir(path)
    with open(path, "rb") as f:
        return f.read(16)


def _connect(host: str, port: int) -> None:
    if host.startswith("127."):
        socket.create_connection((host, port), timeout=2).close()
        return
    # Beyond loopback, a UDP connect asks only for a route and sends nothing: the probe
    # never knocks on a metadata service or the internet, even where the sandbox is off.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))


def _write_outside() -> None:
    with open("/job/written-by-probe", "w") as f:
        f.write("x")


def _write_scratch() -> None:
    with tempfile.TemporaryFile() as f:
        f.write(b"x")


def _new_user_namespace() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


def _clone_user_namespace() -> None:
    """clone(CLONE_NEWUSER), the other way to a namespace than unshare: the child exits at once."""
    import ctypes

    numbers = {"x86_64": 56, "aarch64": 220}
    number = numbers.get(os.uname().machine)
    if number is None:
        raise OSError(errno.ENOSYS, f"no clone number known for {os.uname().machine}")
    libc = ctypes.CDLL(None, use_errno=True)
    pid = libc.syscall(number, CLONE_NEWUSER | signal.SIGCHLD, None, None, None, None)
    if pid == 0:
        os._exit(0)
    if pid < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    os.waitpid(pid, 0)


def _fork() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def main(job: Path) -> int:
    """Run the checks the request lists; 0 once their results are written."""
    request = json.loads((job / "request.json").read_text())
    results = [_try(f"read {path}", functools.partial(_read, path)) for path in request["read"]]
    results += [
        _try(f"connect {host}:{port}", functools.partial(_connect, host, port)) for host, port in request["connect"]
    ]
    results.append(_try("resolve example.com", lambda: socket.getaddrinfo("example.com", 443)))
    results.append(_try("write /job", _write_outside))
    results.append(_try("write the scratch folder", _write_scratch))
    results.append(_try("start a process", _fork))
    results.append(_try("make a user namespace", _new_user_namespace))
    results.append(_try("clone into a user namespace", _clone_user_namespace))
    results.append({"check": "environment", "reached": bool(os.environ), "error": " ".join(sorted(os.environ))})
    os.write(request["result_fd"], json.dumps(results).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
