"""Builder code (`augment.py`): checking it when stored, running it sandboxed during preprocess.

Each function runs in the bubblewrap sandbox of `toucan.sandbox.bwrap` (`builder_runner.py`
inside), which sees its job folder and inputs read-only and nothing else of the host. What
comes back is untrusted and comes through two files the worker opened and passed as file
descriptors (the outputs' Parquet bytes, and a JSON result): no path the code could have
pointed elsewhere is ever opened. The legacy `augment(dfs)`
entry point runs only for the apps listed in TOUCAN_OLD_AUGMENT_WHITELIST.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toucan.errors import ErrorCode, ValidationError
from toucan.etl import builder_runner
from toucan.jobs.failure import JobFailed
from toucan.sandbox import forwarder
from toucan.sandbox.bwrap import JOB, Limits, Outcome, Program, SandboxUnavailable, run_confined, run_plain
from toucan.sandbox.proxy import PROXY_PORT, PROXY_SOCKET, running_proxy
from toucan.settings import Settings

LEGACY_ENTRY = "augment"
CODE_FILE = builder_runner.CODE_NAME
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
            code=ErrorCode.INVALID_AUGMENT,
        ) from None
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def check_augment(code: str, app_id: str, settings: Settings) -> set[str]:
    """Validate an augment.py upload; returns its functions. Legacy code outside the whitelist → 400."""
    if len(code.encode()) > MAX_CODE:
        raise ValidationError(f"augment.py is larger than {MAX_CODE} bytes.", code=ErrorCode.INVALID_AUGMENT)
    functions = top_level_functions(code)
    if LEGACY_ENTRY in functions and app_id not in settings.old_augment_whitelist:
        raise ValidationError(
            "This augment.py defines the legacy entry point augment(dfs), which is only allowed for the apps "
            "listed in TOUCAN_OLD_AUGMENT_WHITELIST. Write the transformation as PIPELINE steps in etl_config "
            "instead, for example:\n" + PIPELINE_EXAMPLE,
            details={"app": app_id, "setting": "TOUCAN_OLD_AUGMENT_WHITELIST", "example": PIPELINE_EXAMPLE},
            code=ErrorCode.LEGACY_AUGMENT_REFUSED,
        )
    return functions


MAX_OUTPUTS = 1000
MAX_RESULT = 1024 * 1024


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
    job, scratch, results = root / "job", root / "scratch", root / "results"
    for folder in (job, scratch, results):
        folder.mkdir(parents=True, exist_ok=True)
    confined = settings.builder_code_sandbox == "bwrap"
    (job / CODE_FILE).write_text(code)
    read_only = {f"/inputs/{i}.parquet": Path(path) for i, path in enumerate(inputs.values())}
    seen = list(read_only) if confined else [str(path) for path in inputs.values()]
    # What the code returns comes back through these two files, opened here, written there.
    data_fd = os.open(results / "data", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    result_fd = os.open(results / "result.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    allowed = settings.builder_code_allowed_hosts
    request: dict[str, Any] = {
        "mode": "legacy" if function_name is None else "function",
        "function": function_name,
        "output": output_domain,
        "inputs": [{"name": name, "path": path} for name, path in zip(inputs, seen, strict=True)],
        "data_fd": data_fd,
        "result_fd": result_fd,
        "scratch_limited": confined,
        "proxy": {"socket": f"{JOB}/{PROXY_SOCKET}", "port": PROXY_PORT} if confined and allowed else None,
    }
    (job / "request.json").write_text(json.dumps(request))
    what = "augment(dfs)" if function_name is None else f"augment.py function {function_name!r}"
    program = Program(
        script=Path(builder_runner.__file__),
        job=job,
        scratch=scratch,
        read_only=read_only,
        modules=[Path(forwarder.__file__)],
        pass_fds=(data_fd, result_fd),
    )
    try:
        if not confined:
            outcome = run_plain(settings, program)
        elif allowed:
            with running_proxy(job / PROXY_SOCKET, settings):
                outcome = run_confined(settings, program)
        else:
            outcome = run_confined(settings, program)
    except SandboxUnavailable as exc:
        raise JobFailed(f"{what} was not run: {exc.message}") from None
    finally:
        os.close(data_fd)
        os.close(result_fd)
    limits = Limits.from_settings(settings)
    result = _read_result(results / "result.json")
    _raise_failure(what, outcome, result, limits)
    return _split_outputs(what, result, results, output_domain)


def _read_result(path: Path) -> dict[str, Any] | None:
    with open(path, "rb") as f:
        raw = f.read(MAX_RESULT)
    try:
        result = json.loads(raw) if raw else None
    except (ValueError, RecursionError):  # not JSON, or nested past what json.loads can recurse
        return None
    return result if isinstance(result, dict) else None


def _raise_failure(what: str, outcome: Outcome, result: dict[str, Any] | None, limits: Limits) -> None:
    if outcome.timed_out:
        raise JobFailed(
            f"{what} ran longer than TOUCAN_BUILDER_CODE_TIMEOUT ({limits.wall_seconds:g} s) and was stopped."
        )
    memory = f"used more memory than TOUCAN_BUILDER_CODE_MEMORY_MB ({limits.memory_mb} MiB)"
    disk = f"wrote more than TOUCAN_BUILDER_CODE_DISK_MB ({limits.disk_mb} MiB)"
    if outcome.signal == signal.SIGXCPU or (
        outcome.signal == signal.SIGKILL and outcome.cpu_seconds >= limits.cpu_seconds and not outcome.out_of_memory
    ):
        raise JobFailed(
            f"{what} used more CPU time than TOUCAN_BUILDER_CODE_CPU_SECONDS ({limits.cpu_seconds} s) and was stopped."
        )
    if outcome.out_of_memory:
        raise JobFailed(f"{what} {memory} and was stopped.")
    if outcome.signal == signal.SIGXFSZ:
        raise JobFailed(f"{what} {disk}.")
    if outcome.exit_code == 0 and result is not None and "outputs" in result:
        return
    error = result.get("error") if result is not None and outcome.exit_code == 1 else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        message = error["message"][:2000]
        report = error.get("traceback") if isinstance(error.get("traceback"), str) else None
        reasons = {
            "memory": f"{memory} ({message})",
            "disk": f"{disk} ({message})",
            "processes": f"started more processes or threads than it may ({message}): "
            f"TOUCAN_BUILDER_CODE_MAX_PROCESSES ({limits.max_processes}) where a cgroup can be made; "
            "elsewhere builder code cannot start processes",
            # A thread is refused for the task limit (cgroup) or for want of memory for its stack.
            "threads": f"could not start a thread ({message}): the sandbox ran out of TOUCAN_BUILDER_CODE_MEMORY_MB "
            f"({limits.memory_mb} MiB)"
            + (
                f" or reached TOUCAN_BUILDER_CODE_MAX_PROCESSES ({limits.max_processes}) tasks"
                if outcome.cgroup
                else " (without a cgroup, memory is what bounds threads)"
            ),
            "network": f"{message}. Builder code has no network: an operator may allow hosts for it "
            "in TOUCAN_BUILDER_CODE_ALLOWED_HOSTS",
        }
        raise JobFailed(f"{what} failed: {reasons.get(str(error.get('kind')), message)}", report)
    reason = f"killed by signal {outcome.signal}" if outcome.signal else f"exit code {outcome.exit_code}"
    raise JobFailed(
        f"{what} stopped ({reason}); it may have exceeded TOUCAN_BUILDER_CODE_MEMORY_MB ({limits.memory_mb} MiB).",
        outcome.output.strip()[-1500:] or None,
    )


def _split_outputs(
    what: str, result: dict[str, Any] | None, results: Path, output_domain: str | None
) -> dict[str, Path]:
    """The data file cut into one Parquet file per output domain, as the result lists them."""
    outputs = result.get("outputs") if result is not None else None
    valid = (
        isinstance(outputs, list)
        and len(outputs) <= MAX_OUTPUTS
        and all(
            isinstance(o, dict)
            and isinstance(o.get("domain"), str)
            and isinstance(o.get("size"), int)
            and o["size"] > 0
            for o in outputs
        )
    )
    data = results / "data"
    if not valid or sum(o["size"] for o in outputs) != data.stat().st_size:  # type: ignore[union-attr]
        raise JobFailed(f"{what} ended without writing its output.")
    assert isinstance(outputs, list)
    if output_domain is not None and [o["domain"] for o in outputs] != [output_domain]:
        raise JobFailed(f"{what} ended without writing its output.")
    if len(outputs) == 1:
        target = results / "0.parquet"
        data.rename(target)
        return {outputs[0]["domain"]: target}
    written: dict[str, Path] = {}
    with open(data, "rb") as source:
        for index, output in enumerate(outputs):
            target = results / f"{index}.parquet"
            with open(target, "wb") as copy:
                remaining = output["size"]
                while remaining:
                    chunk = source.read(min(remaining, 1024 * 1024))
                    copy.write(chunk)
                    remaining -= len(chunk)
            written[output["domain"]] = target
    data.unlink()
    return written
