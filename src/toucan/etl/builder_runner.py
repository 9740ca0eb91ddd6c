"""The program that runs one builder function (`augment.py`) inside the sandbox.

`python -I -B builder_runner.py EXCHANGE`: reads EXCHANGE/request.json and the input Parquet
files it names, runs the function, writes EXCHANGE/out/<n>.parquet and outputs.json (the
domain names, in order), or error.json with a traceback of augment.py frames only. Uses the
standard library and pandas only: the toucan package is not in the sandbox.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

CODE_NAME = "augment.py"


def _user_traceback(exc: BaseException, code_path: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == code_path]
    lines = ["Traceback (most recent call last):"]
    for frame in frames:
        lines.append(f'  File "{CODE_NAME}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.extend(line.rstrip("\n") for line in traceback.format_exception_only(type(exc), exc))
    return "\n".join(lines)


def _kind(exc: BaseException) -> str | None:
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return "file_size"
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return "threads"
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


def main(workdir: Path) -> int:
    """Run the request in `workdir`; 0 when outputs were written, 1 when error.json was."""
    request = json.loads((workdir / "request.json").read_text())
    code_path = str(workdir / CODE_NAME)
    try:
        if request.get("proxy"):
            _start_proxy_forwarder(request["proxy"])
        import pandas as pd

        inputs = {item["name"]: pd.read_parquet(item["path"]) for item in request["inputs"]}
        namespace: dict[str, Any] = {"__name__": "augment", "__file__": CODE_NAME}
        exec(compile((workdir / CODE_NAME).read_text(), code_path, "exec"), namespace)
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
        out = workdir / "out"
        for index, frame in enumerate(outputs.values()):
            frame.columns = [str(c) for c in frame.columns]
            frame.to_parquet(out / f"{index}.parquet", index=False)
        (workdir / "outputs.json").write_text(json.dumps(list(outputs)))
        return 0
    except BaseException as exc:
        (workdir / "error.json").write_text(
            json.dumps(
                {
                    "message": f"{type(exc).__name__}: {exc}"[:2000],
                    "traceback": _user_traceback(exc, code_path),
                    "kind": _kind(exc),
                }
            )
        )
        return 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
