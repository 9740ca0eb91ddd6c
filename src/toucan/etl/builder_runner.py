"""The program that runs one builder function (`augment.py`) inside the sandbox.

`python -I -B builder_runner.py JOB SCRATCH`: reads JOB/request.json and JOB/augment.py (read
only), the input Parquet files the request names (read only), runs the function with SCRATCH
as its working and temporary folder, and writes the output DataFrames as Parquet, one after
the other, to the data file descriptor the worker passed; then a JSON result (the outputs'
domains and sizes, or an error with a traceback of augment.py frames only) to the result
descriptor. Nothing is left on a path for the worker to open. Standard library and pandas
only: the toucan package is not in the sandbox.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import traceback
from pathlib import Path
from typing import Any

CODE_NAME = "augment.py"
NETWORK_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED, errno.EADDRNOTAVAIL}


def _user_traceback(exc: BaseException, code_path: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == code_path]
    lines = ["Traceback (most recent call last):"]
    for frame in frames:
        lines.append(f'  File "{CODE_NAME}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.extend(line.rstrip("\n") for line in traceback.format_exception_only(type(exc), exc))
    return "\n".join(lines)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        reason = getattr(current, "reason", None)  # urllib's URLError wraps the socket error
        current = reason if isinstance(reason, BaseException) else (current.__cause__ or current.__context__)
    return seen


def _kind(exc: BaseException) -> str | None:
    """Which limit an exception shows was hit, for the worker to name its setting."""
    chain = _chain(exc)
    if any(isinstance(e, MemoryError) for e in chain):
        return "memory"
    if any(isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG) for e in chain):
        return "disk"
    text = "".join(traceback.format_exception(exc))
    for e in chain:
        if isinstance(e, RuntimeError) and "can't start new thread" in str(e):
            return "threads"
        if (
            isinstance(e, OSError)
            and e.errno in (errno.EAGAIN, errno.EPERM)
            and ("fork" in text or "subprocess" in text)
        ):
            return "processes"
    for e in chain:
        if isinstance(e, socket.gaierror) or (isinstance(e, OSError) and e.errno in NETWORK_ERRNOS):
            return "network"
        if "Tunnel connection failed" in str(e) or type(e).__name__ == "URLError":
            return "network"
    return None


def _to_frame(value: Any, what: str) -> Any:
    import pandas as pd

    if not isinstance(value, pd.DataFrame):
        raise TypeError(f"{what} returned {type(value).__name__}, not a pandas DataFrame")
    return value


def _start_proxy_forwarder(proxy: dict[str, Any]) -> None:
    # The proxy client lives beside this program in the sandbox.
    sys.path.insert(0, str(Path(__file__).parent))
    import forwarder

    url = forwarder.start(proxy["socket"], proxy["port"])
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ[name] = url


def _run(request: dict[str, Any], code_path: str, data: Any) -> dict[str, Any]:
    if request.get("proxy"):
        _start_proxy_forwarder(request["proxy"])
    import pandas as pd

    inputs = {item["name"]: pd.read_parquet(item["path"]) for item in request["inputs"]}
    namespace: dict[str, Any] = {"__name__": "augment", "__file__": CODE_NAME}
    exec(compile(Path(code_path).read_text(), code_path, "exec"), namespace)
    outputs: dict[str, Any]
    if request["mode"] == "legacy":
        result = namespace["augment"](dict(inputs))
        if not isinstance(result, dict):
            raise TypeError(f"augment(dfs) returned {type(result).__name__}, not a dict of DataFrames")
        outputs = {str(name): _to_frame(frame, f"augment(dfs)[{name!r}]") for name, frame in result.items()}
    else:
        name = request["function"]
        function = namespace.get(name)
        if not callable(function):
            raise NameError(f"augment.py has no function {name!r}")
        result = function(*[inputs[item["name"]] for item in request["inputs"]])
        outputs = {request["output"]: _to_frame(result, f"{name}()")}
    if request.get("scratch_limited") and os.statvfs(".").f_bavail == 0:
        raise OSError(errno.ENOSPC, "the code filled its scratch folder")
    written = []
    for domain, frame in outputs.items():
        frame.columns = [str(c) for c in frame.columns]
        start = data.tell()
        frame.to_parquet(data, index=False)
        data.flush()
        written.append({"domain": domain, "size": data.tell() - start})
    return {"outputs": written}


def main(job: Path) -> int:
    """Run the request of the `job` folder; 0 when the outputs were written, 1 on an error."""
    request = json.loads((job / "request.json").read_text())
    code_path = str(job / CODE_NAME)
    data = os.fdopen(request["data_fd"], "wb")
    try:
        result = _run(request, code_path, data)
        code = 0
    except BaseException as exc:
        result = {
            "error": {
                "message": f"{type(exc).__name__}: {exc}"[:2000],
                "traceback": _user_traceback(exc, code_path),
                "kind": _kind(exc),
            }
        }
        code = 1
    os.write(request["result_fd"], json.dumps(result).encode())
    return code


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
