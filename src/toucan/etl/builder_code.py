"""Builder code (`augment.py`): checking it when stored, running it isolated during preprocess.

Code runs in a child process (`toucan.etl.sandbox`) with a time limit
(TOUCAN_BUILDER_CODE_TIMEOUT), a memory limit (TOUCAN_BUILDER_CODE_MEMORY_MB) and an
environment that holds no TOUCAN_* variable, so neither the secret key nor the database
credentials reach it. The legacy `augment(dfs)` entry point runs only for the apps listed in
TOUCAN_OLD_AUGMENT_WHITELIST.
"""

from __future__ import annotations

import ast
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from toucan.child_process import own_group_dying_with_parent
from toucan.errors import ValidationError
from toucan.jobs.failure import JobFailed
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


def _child_env() -> dict[str, str]:
    # Nothing of the backend's environment: no TOUCAN_*, no credentials, no proxies.
    return {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }


def _limits(memory_mb: int) -> None:
    # Die with the worker process: a killed worker leaves no builder code running.
    own_group_dying_with_parent(signal.SIGKILL)
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_builder_code(
    code: str,
    settings: Settings,
    *,
    inputs: Mapping[str, Path],
    function_name: str | None,
    output_domain: str | None,
    workdir: Path | None = None,
) -> dict[str, Path]:
    """Run one augment.py function (or, with function_name None, the legacy augment(dfs)).

    Returns the output Parquet files by domain, inside a directory the caller owns (`workdir`).
    """
    work = Path(workdir or tempfile.mkdtemp(prefix="toucan-augment-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "augment.py").write_text(code)
    request = {
        "mode": "legacy" if function_name is None else "function",
        "function": function_name,
        "output": output_domain,
        "inputs": [{"name": name, "path": str(path)} for name, path in inputs.items()],
    }
    (work / "request.json").write_text(json.dumps(request))
    what = "augment(dfs)" if function_name is None else f"augment.py function {function_name!r}"
    process = subprocess.Popen(
        [sys.executable, "-I", "-m", "toucan.etl.sandbox", str(work)],
        cwd=work,
        env=_child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: _limits(settings.builder_code_memory_mb),
    )
    try:
        output, _ = process.communicate(timeout=settings.builder_code_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise JobFailed(
            f"{what} ran longer than TOUCAN_BUILDER_CODE_TIMEOUT ({settings.builder_code_timeout:g} s) and was stopped."
        ) from None
    error_file = work / "error.json"
    if error_file.exists():
        error = json.loads(error_file.read_text())
        message = error["message"]
        if "MemoryError" in message:
            message = f"MemoryError: above TOUCAN_BUILDER_CODE_MEMORY_MB ({settings.builder_code_memory_mb} MiB)"
        raise JobFailed(f"{what} failed: {message}", error["traceback"])
    if process.returncode != 0 or not (work / "outputs.json").exists():
        tail = output.decode(errors="replace")[-1500:] if output else ""
        reason = (
            f"killed by signal {-process.returncode}" if process.returncode < 0 else f"exit code {process.returncode}"
        )
        raise JobFailed(
            f"{what} stopped ({reason}); it may have exceeded TOUCAN_BUILDER_CODE_MEMORY_MB "
            f"({settings.builder_code_memory_mb} MiB).",
            tail or None,
        )
    written = json.loads((work / "outputs.json").read_text())
    return {domain: Path(path) for domain, path in written.items()}
