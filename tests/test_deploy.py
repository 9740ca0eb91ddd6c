"""The deployment files are valid: compose config resolves, the images' files exist."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def _compose() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_compose_file_is_valid() -> None:
    compose = _compose()
    if compose is None:
        pytest.skip("no docker-compose nor docker compose plugin here (.ci/run installs it)")
    env = {
        "POSTGRES_PASSWORD": "pw",
        "TOUCAN_SECRET_KEY": "key",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    result = subprocess.run(
        [*compose, "-f", str(DEPLOY / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=DEPLOY,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "postgresql+psycopg://toucan:pw@postgres/toucan" in result.stdout
    # Without the required secrets, compose refuses to render.
    missing = subprocess.run(
        [*compose, "-f", str(DEPLOY / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={"PATH": env["PATH"]},
        cwd=DEPLOY,
        check=False,
    )
    assert missing.returncode != 0


def test_dockerfiles_copy_files_that_exist() -> None:
    for dockerfile in DEPLOY.glob("Dockerfile.*"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY") and "--from" not in line:
                for source in line.split()[1:-1]:
                    if source.startswith("frontend"):
                        continue  # built by the frontend image
                    assert (ROOT / source).exists(), f"{dockerfile.name}: {source} missing"
