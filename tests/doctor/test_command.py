"""`toucan-ctl doctor` as an operator runs it: every check, `--json` for scripts, exit 1 when
one fails; `toucan-ctl doctor sandbox` keeps its detailed report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers import TOUCAN_CTL, clean_env, free_port

CHECKS = {
    "database",
    "migrations",
    "redis",
    "storage",
    "shared-storage",
    "jobs",
    "sandbox",
    "chromium",
    "fonts",
    "connector-extras",
    "public-urls",
}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TOUCAN_CTL, *args], env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=120, check=False
    )


def test_doctor_runs_every_check_and_says_what_to_fix(tmp_path: Path) -> None:
    # No frontend on this host (the checkout's frontend/dist is not looked at): one public-urls line.
    env = clean_env(
        TOUCAN_DATA_DIR=str(tmp_path),
        TOUCAN_REDIS_URL="redis://127.0.0.1:6379/0",
        TOUCAN_FRONTEND_DIR=str(tmp_path / "no-frontend"),
    )
    assert _run(env, "migrate").returncode == 0
    report = _run(env, "doctor", "--json")
    body = json.loads(report.stdout)
    verdicts = {c["check"]: c["verdict"] for c in body["checks"]}
    assert set(verdicts) == CHECKS, verdicts
    assert verdicts["database"] == verdicts["redis"] == verdicts["storage"] == "ok"
    # No worker runs here: the job system check fails, and the command exits 1.
    assert verdicts["jobs"] == "fail" and body["ok"] is False and report.returncode == 1
    jobs = next(c for c in body["checks"] if c["check"] == "jobs")
    assert "toucan-ctl worker" in jobs["fix"]

    env["TOUCAN_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    human = _run(env, "doctor")
    assert human.returncode == 1
    lines = human.stdout.splitlines()
    redis_line = next(i for i, line in enumerate(lines) if line.startswith("FAIL  redis:"))
    assert lines[redis_line + 1].strip().startswith("fix: start Redis or fix the host and port in TOUCAN_REDIS_URL")
    assert "check(s) failed." in human.stdout


def test_doctor_sandbox_still_details_the_sandbox(tmp_path: Path) -> None:
    result = _run(clean_env(TOUCAN_DATA_DIR=str(tmp_path)), "doctor", "sandbox")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cannot connect to 127.0.0.1:5432" in result.stdout
    assert "database:" not in result.stdout  # the sandbox report alone
