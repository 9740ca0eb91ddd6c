"""`toucan-ctl doctor sandbox`: run a probe in the builder-code sandbox, say what it can reach.

One line per check: `ok` when the sandbox keeps it out (or lets in what builder code needs),
`FAIL` when builder code could reach it. The worker's settings decide the sandbox, so run it
where the worker runs, with its environment.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from toucan.sandbox import probe
from toucan.sandbox.bwrap import Program, SandboxUnavailable, run_confined, run_plain
from toucan.sandbox.cgroups import make_cgroup
from toucan.settings import Settings

# Read-only is fine for these: builder code needs Python. Everything else must stay out.
CONNECT = [("127.0.0.1", 5432), ("127.0.0.1", 6379), ("169.254.169.254", 80), ("1.1.1.1", 443)]


@dataclass(frozen=True)
class Line:
    """One line of the report."""

    ok: bool
    text: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.text}"


def _targets(settings: Settings) -> list[str]:
    project = Path(__file__).resolve().parents[3]
    paths = [str(settings.data_dir), str(Path(settings.data_dir) / "secret_key"), str(project), "/proc/1/environ"]
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        paths.append(url.removeprefix("sqlite:///"))
    paths += ["/etc/shadow", "/etc/ssl/private", "/etc/passwd", "/home"]
    return list(dict.fromkeys(paths))


def _limits_lines(settings: Settings) -> list[Line]:
    cgroup = None
    try:
        cgroup = make_cgroup(settings.builder_code_cgroup, settings.builder_code_memory_mb * 1024 * 1024, 32)
    except Exception as exc:  # reported, not raised: the report goes on
        return [Line(False, f"TOUCAN_BUILDER_CODE_CGROUP={settings.builder_code_cgroup}: {exc}")]
    if cgroup is None:
        return [
            Line(
                True,
                "no cgroup can be made: builder code cannot start processes, and the memory limit "
                "(TOUCAN_BUILDER_CODE_MEMORY_MB) holds as the address space of its one process; threads are "
                "bounded by that memory only",
            )
        ]
    cgroup.kill_and_remove()
    return [
        Line(
            True,
            f"cgroup v{cgroup.version} ({cgroup.memory_dir.parent}): memory (TOUCAN_BUILDER_CODE_MEMORY_MB) and "
            "tasks (TOUCAN_BUILDER_CODE_MAX_PROCESSES) limited for the whole sandbox",
        )
    ]


def check(settings: Settings) -> tuple[bool, list[Line]]:
    """Run the probe in the sandbox the settings give; (whether a sandbox was made and holds, report)."""
    confined = settings.builder_code_sandbox == "bwrap"
    lines: list[Line] = []
    if not confined:
        lines.append(Line(False, "TOUCAN_BUILDER_CODE_SANDBOX=none: builder code runs unconfined, as the worker"))
    with tempfile.TemporaryDirectory(prefix="toucan-doctor-") as tmp:
        job, scratch = Path(tmp) / "job", Path(tmp) / "scratch"
        job.mkdir()
        scratch.mkdir()
        result_fd = os.open(Path(tmp) / "result.json", os.O_WRONLY | os.O_CREAT, 0o600)
        request = {"read": _targets(settings), "connect": CONNECT, "result_fd": result_fd}
        (job / "request.json").write_text(json.dumps(request))
        program = Program(script=Path(probe.__file__), job=job, scratch=scratch, pass_fds=(result_fd,))
        try:
            outcome = run_confined(settings, program) if confined else run_plain(settings, program)
        except SandboxUnavailable as exc:
            return False, [Line(False, f"no sandbox can be made: {exc.message}")]
        finally:
            os.close(result_fd)
        raw = (Path(tmp) / "result.json").read_text()
    if not raw:
        return False, [Line(False, f"the probe did not run: {outcome.output.strip()[-500:]}")]
    for item in json.loads(raw):
        what, reached, error = item["check"], item["reached"], item["error"]
        if what == "environment":
            secret = [name for name in error.split() if name.startswith("TOUCAN_")]
            lines.append(Line(not secret, f"environment: {error}"))
        elif what == "write the scratch folder":
            lines.append(Line(reached, f"{'can' if reached else 'cannot'} write its scratch folder (TMPDIR)"))
        elif what.startswith("read "):
            lines.append(Line(not reached, f"{'can' if reached else 'cannot'} read {what[5:]}{_why(error)}"))
        elif what.startswith("connect "):
            lines.append(Line(not reached, f"{'can' if reached else 'cannot'} connect to {what[8:]}{_why(error)}"))
        else:
            verb = what.split(" ", 1)
            lines.append(
                Line(
                    not reached or what == "start a process",
                    f"{'can' if reached else 'cannot'} {verb[0]} {verb[1]}{_why(error)}",
                )
            )
    if confined:
        lines += _limits_lines(settings)
    lines.append(
        Line(
            True,
            f"python: {sys.version.split()[0]}; allowed hosts: "
            f"{', '.join(settings.builder_code_allowed_hosts) or 'none (no network)'}",
        )
    )
    return all(line.ok for line in lines), lines


def _why(error: str) -> str:
    return f" ({error})" if error else ""
