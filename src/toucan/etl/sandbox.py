"""Child process that runs builder code (`augment.py`): `python -I -m toucan.etl.sandbox WORKDIR`.

Started by `toucan.etl.builder_code` with a time limit, a memory limit and an environment
without the backend's secrets. Reads `request.json` and the input Parquet files from WORKDIR,
writes the output Parquet files there, or `error.json` with the builder's traceback.
"""

from __future__ import annotations

import json
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


def _to_frame(value: Any, what: str) -> Any:
    import pandas as pd

    if not isinstance(value, pd.DataFrame):
        raise TypeError(f"{what} returned {type(value).__name__}, not a pandas DataFrame")
    return value


def main(workdir: Path) -> int:
    request = json.loads((workdir / "request.json").read_text())
    code_path = str(workdir / CODE_NAME)
    try:
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
        written = {}
        for index, (domain, frame) in enumerate(outputs.items()):
            path = workdir / f"out-{index}.parquet"
            frame.columns = [str(c) for c in frame.columns]
            frame.to_parquet(path, index=False)
            written[domain] = str(path)
        (workdir / "outputs.json").write_text(json.dumps(written))
        return 0
    except BaseException as exc:
        (workdir / "error.json").write_text(
            json.dumps({"message": f"{type(exc).__name__}: {exc}"[:2000], "traceback": _user_traceback(exc, code_path)})
        )
        return 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
