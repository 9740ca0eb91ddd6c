"""Builder code (`augment.py`): checking it when stored, running it sandboxed during preprocess.

Each function runs in the bubblewrap sandbox of `toucan.sandbox.bwrap` (`builder_runner.py`
inside), which sees its inputs read-only and an exchange folder, nothing else of the host.
What comes back is untrusted: only regular files at the names the worker chose are read, and
copied out of the exchange folder before preprocess stages them. The legacy `augment(dfs)`
entry point runs only for the apps listed in TOUCAN_OLD_AUGMENT_WHITELIST.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toucan.errors import ValidationError
from toucan.etl import builder_runner
from toucan.jobs.failure import JobFailed
from toucan.sandbox import forwarder
from toucan.sandbox.bwrap import EXCHANGE, Limits, Outcome, Program, SandboxUnavailable, run_confined, run_plain
from toucan.sandbox.proxy import PROXY_PORT, PROXY_SOCKET, running_proxy
from toucan.settings import Settings

LEGACY_ENTRY = "augment"
MAX_CODE = 1024 * 1024

PIPELINE_EXAMPLE = """{
  "PIPELINE": [
    {"input_domains": ["sales"], "function_name": "add_margin", "output_domain": "sales_with_margin"},
    {"input_domains": ["sales_with_margin"], "output_domain": "by_country",
     "pipeline": [{"name": "domain", "domain": "sales_with_margin"},
                  {"name": "aggregate", "on": ["country"],
                   "aggregations": [{"aggfunction": "sum", "columns": ["margin"], "newcolumns": ["margin"]}]}]}
  ]
}
with, in augment.py, one function per step that takes the input domains as DataFrames:
def add_margin(sales):
    sales["margin"] = sales["revenue"] - sales["cost"]
    return sales"""


def top_level_functions(code: str) -> set[str]:
    """Names of the functions augment.py defines at top level; a syntax error → 400 with its line."""
    try:
        tree = ast.parse(code, filename="augment.py")
    except SyntaxError as exc:
        raise ValidationError(
            f"augment.py line {exc.lineno}: {exc.msg}.",
            details={"line": exc.lineno, "column": exc.offset, "reason": exc.msg},
            code="invalid_augment",
        ) from None
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def check_augment(code: str, app_id: str, settings: Settings) -> set[str]:
    """Validate an augment.py upload; returns its functions. Legacy code outside the whitelist → 400."""
    if len(code.encode()) > MAX_CODE:
        raise ValidationError(f"augment.py is larger than {MAX_CODE} bytes.", code="invalid_augment")
    functions = top_level_functions(code)
    if LEGACY_ENTRY in functions and app_id not in settings.old_augment_whitelist:
        raise ValidationError(
            "This augment.py defines the legacy entry point augment(dfs), which is only allowed for the apps "
            "listed in TOUCAN_OLD_AUGMENT_WHITELIST. Write the transformation as PIPELINE steps in etl_config "
            "instead, for example:\n" + PIPELINE_EXAMPLE,
            details={"app": app_id, "setting": "TOUCAN_OLD_AUGMENT_WHITELIST", "example": PIPELINE_EXAMPLE},
            code="legacy_augment_refused",
        )
    return functions


MAX_OUTPUTS = 1000
MAX_ERROR = 64 * 1024


def run_builder_code(
    code: str,
    settings: Settings,
    *,
    inputs: Mapping[str, Path],
    function_name: str | None,
    output_domain: str | None,
    workdir: Path | None = None,
) -> dict[str, Path]:
    """Run one augment.py function (or, with function_name None, the legacy augment(dfs)) sandboxed.

    Returns the output Parquet files by domain, inside a directory the caller owns (`workdir`).
    """
    root = Path(workdir or tempfile.mkdtemp(prefix="toucan-augment-"))
    exchange, results = root / "exchange", root / "results"
    for folder in (exchange, exchange / "out", exchange / "tmp", results):
        folder.mkdir(parents=True, exist_ok=True)
    confined = settings.builder_code_sandbox == "bwrap"
    (exchange / "augment.py").write_text(code)
    read_only = {f"/inputs/{i}.parquet": Path(path) for i, path in enumerate(inputs.values())}
    seen = list(read_only) if confined else [str(path) for path in inputs.values()]
    request: dict[str, Any] = {
        "mode": "legacy" if function_name is None else "function",
        "function": function_name,
        "output": output_domain,
        "inputs": [{"name": name, "path": path} for name, path in zip(inputs, seen, strict=True)],
        "proxy": None,
    }
    allowed = settings.builder_code_allowed_hosts
    if confined and allowed:
        request["proxy"] = {"socket": f"{EXCHANGE}/{PROXY_SOCKET}", "port": PROXY_PORT}
    (exchange / "request.json").write_text(json.dumps(request))
    what = "augment(dfs)" if function_name is None else f"augment.py function {function_name!r}"
    program = Program(
        script=Path(builder_runner.__file__),
        args=[EXCHANGE if confined else str(exchange)],
        exchange=exchange,
        read_only=read_only,
        modules=[Path(forwarder.__file__)],
    )
    try:
        if not confined:
            outcome = run_plain(settings, program)
        elif allowed:
            with running_proxy(exchange / PROXY_SOCKET, settings):
                outcome = run_confined(settings, program)
        else:
            outcome = run_confined(settings, program)
    except SandboxUnavailable as exc:
        raise JobFailed(f"{what} was not run: {exc.message}") from None
    _raise_failure(what, outcome, exchange, Limits.from_settings(settings))
    return _collect_outputs(what, exchange, results, output_domain)


def _open_regular(folder_fd: int, name: str) -> int | None:
    """A file descriptor of `name` in `folder_fd` when it is a regular file, not a link, FIFO or device."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _read_small(folder: Path, name: str, limit: int) -> str | None:
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = _open_regular(folder_fd, name)
    finally:
        os.close(folder_fd)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read(limit).decode(errors="replace")


def _raise_failure(what: str, outcome: Outcome, exchange: Path, limits: Limits) -> None:
    if outcome.timed_out:
        raise JobFailed(
            f"{what} ran longer than TOUCAN_BUILDER_CODE_TIMEOUT ({limits.wall_seconds:g} s) and was stopped."
        )
    memory = f"used more memory than TOUCAN_BUILDER_CODE_MEMORY_MB ({limits.memory_mb} MiB)"
    cpu = f"used more CPU time than TOUCAN_BUILDER_CODE_CPU_SECONDS ({limits.cpu_seconds} s) and was stopped"
    if outcome.signal == signal.SIGXCPU or (
        outcome.signal == signal.SIGKILL and outcome.cpu_seconds >= limits.cpu_seconds and not outcome.out_of_memory
    ):
        raise JobFailed(f"{what} {cpu}.")
    if outcome.out_of_memory:
        raise JobFailed(f"{what} {memory} and was stopped.")
    if outcome.signal == signal.SIGXFSZ:
        raise JobFailed(f"{what} wrote a file larger than TOUCAN_BUILDER_CODE_FILE_MB ({limits.file_mb} MiB).")
    if outcome.exit_code == 0:
        return
    raw = _read_small(exchange, "error.json", MAX_ERROR) if outcome.exit_code == 1 else None
    error = _parse_error(raw)
    if error is not None:
        message, report, kind = error
        reasons = {
            "memory": f"{memory} ({message})",
            "file_size": f"wrote a file larger than TOUCAN_BUILDER_CODE_FILE_MB ({limits.file_mb} MiB) ({message})",
            "threads": f"started more threads than TOUCAN_BUILDER_CODE_MAX_THREADS ({limits.max_threads}) ({message})",
        }
        raise JobFailed(f"{what} failed: {reasons.get(kind or '', message)}", report)
    reason = f"killed by signal {outcome.signal}" if outcome.signal else f"exit code {outcome.exit_code}"
    raise JobFailed(
        f"{what} stopped ({reason}); it may have exceeded TOUCAN_BUILDER_CODE_MEMORY_MB ({limits.memory_mb} MiB).",
        outcome.output.strip()[-1500:] or None,
    )


def _parse_error(raw: str | None) -> tuple[str, str | None, str | None] | None:
    try:
        error = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return None
    report, kind = error.get("traceback"), error.get("kind")
    return error["message"][:2000], report if isinstance(report, str) else None, kind if isinstance(kind, str) else None


def _collect_outputs(what: str, exchange: Path, results: Path, output_domain: str | None) -> dict[str, Path]:
    raw = _read_small(exchange, "outputs.json", 1024 * 1024)
    try:
        names = json.loads(raw) if raw else None
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(names) > MAX_OUTPUTS:
        raise JobFailed(f"{what} ended without writing its output.")
    if output_domain is not None and names != [output_domain]:
        raise JobFailed(f"{what} ended without writing its output.")
    written: dict[str, Path] = {}
    exchange_fd = os.open(exchange, os.O_RDONLY | os.O_DIRECTORY)
    try:
        out_fd = os.open("out", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=exchange_fd)
    except OSError:
        out_fd = None
    finally:
        os.close(exchange_fd)
    try:
        for index, name in enumerate(names):
            fd = _open_regular(out_fd, f"{index}.parquet") if out_fd is not None else None
            if fd is None:
                raise JobFailed(f"{what} ended without writing its output for {name!r}.")
            # Copied out of the folder the code could write: what preprocess stages is what was checked.
            target = results / f"{index}.parquet"
            with os.fdopen(fd, "rb") as source, open(target, "wb") as copy:
                shutil.copyfileobj(source, copy, 1024 * 1024)
            written[name] = target
    finally:
        if out_fd is not None:
            os.close(out_fd)
    return written
