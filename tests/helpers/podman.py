"""The images built and run with podman (deploy/podman/): build them, run containers on the
host's network, and remove every container a test started, whatever happens."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers import ROOT

PODMAN_DIR = ROOT / "deploy" / "podman"
TAG = os.environ.get("TOUCAN_DEPLOY_TAG", "test")
BACKEND_IMAGE = f"localhost/toucan-backend:{TAG}"
FRONTEND_IMAGE = f"localhost/toucan-frontend:{TAG}"
# The host's CA bundle: the build and the containers reach PyPI through a TLS-inspecting proxy here.
CA_BUNDLE = Path(os.environ.get("CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(PODMAN_DIR / "containers.conf"), "TAG": TAG}


def podman(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def build_images() -> str:
    """Build (or find in podman's layer cache) the backend and frontend images; return the script's output."""
    result = subprocess.run(
        [str(PODMAN_DIR / "build.sh")], env=podman_env(), capture_output=True, text=True, timeout=1500, check=False
    )
    assert result.returncode == 0, f"deploy/podman/build.sh failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result.stdout


class Containers:
    """Containers of one run, named `<prefix>-<name>`, on the host's network."""

    def __init__(self) -> None:
        self.prefix = f"toucan-deploy-{uuid.uuid4().hex[:8]}"
        self.names: list[str] = []

    def name(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def run(
        self,
        short: str,
        image: str,
        command: Sequence[str] = (),
        *,
        env: dict[str, str] | None = None,
        volumes: Sequence[str] = (),
        options: Sequence[str] = (),
    ) -> str:
        name = self.name(short)
        args = ["run", "-d", "--name", name, "--network=host", "--ulimit", "host", "--no-healthcheck"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        for volume in volumes:
            args += ["-v", volume]
        self.names.append(name)
        podman(*args, *options, image, *command)
        return name

    def exec(self, short: str, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name(short), *command, check=False, timeout=timeout)

    def logs(self, short: str) -> str:
        result = podman("logs", self.name(short), check=False)
        return result.stdout + result.stderr

    def all_logs(self) -> str:
        return "\n".join(
            f"--- {name}\n{self.logs(name.removeprefix(self.prefix + '-'))[-3000:]}" for name in self.names
        )

    def running(self, short: str) -> bool:
        result = podman("inspect", "-f", "{{.State.Running}}", self.name(short), check=False)
        return result.stdout.strip() == "true"

    def remove_all(self) -> None:
        for name in reversed(self.names):
            podman("rm", "-f", "-t", "5", name, check=False)


@contextmanager
def containers() -> Iterator[Containers]:
    """A set of containers removed at the end of the block, even when a test fails."""
    group = Containers()
    try:
        yield group
    finally:
        group.remove_all()


def wait_for_http(
    url: str, *, timeout: float, status: int = 200, what: str = "", logs: object = None
) -> httpx.Response:
    """Poll `url` until it answers `status`; the assertion says what answered last."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == status:
                return response
            last = f"{response.status_code} {response.text[:500]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    detail = logs() if callable(logs) else ""
    raise AssertionError(f"{what or url} not {status} after {timeout} s: {last}\n{detail}")
