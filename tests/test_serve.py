"""`toucan-ctl serve --production`: each worker listens on its own socket, and a port in use
is refused instead of shared."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psutil

from tests.helpers import TOUCAN_CTL, clean_env, running_server


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on `port` (/proc/net/tcp, state 0A)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
            inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def test_each_worker_listens_on_its_own_socket_and_a_busy_port_is_refused(tmp_path: Path) -> None:
    env = clean_env(
        TOUCAN_DATA_DIR=str(tmp_path / "first"),
        TOUCAN_GUNICORN_WORKERS="2",
        TOUCAN_SUPER_ADMIN_PASSWORD="prod-password-1",
        # No job worker here: gunicorn alone is under test.
        TOUCAN_READY_CHECKS_JOBS="false",
    )
    with running_server(env, args=("--production",), ready_path="/ready") as (base, server):
        port = int(base.rsplit(":", 1)[1])
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 2
        listening = _listening_inodes(port)
        assert len(listening) == 2
        assert [len(_socket_inodes(w.pid) & listening) for w in workers] == [1, 1]
        assert not _socket_inodes(server.pid) & listening  # the master holds none

        second = subprocess.run(
            [*TOUCAN_CTL, "serve", "--production"],
            env={
                **env,
                "TOUCAN_DATA_DIR": str(tmp_path / "second"),
                "TOUCAN_HOST": "127.0.0.1",
                "TOUCAN_PORT": str(port),
                "COLUMNS": "200",
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"Cannot listen on 127.0.0.1:{port}" in second.stderr
        assert "TOUCAN_PORT" in second.stderr
