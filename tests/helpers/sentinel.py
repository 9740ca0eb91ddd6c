"""A Redis master, its replica and three Sentinels as real processes on free ports."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.sentinel import MasterNotFoundError, Sentinel

from tests.helpers import free_port

MASTER_NAME = "toucan"
INSTALL_HINT = "apt-get install -y redis-server redis-sentinel (Debian's packages; .ci/run installs them)"


@dataclass
class SentinelGroup:
    """The running processes; `master_port` follows failovers (ask `current_master`)."""

    folder: Path
    redis_ports: list[int]
    sentinel_ports: list[int]
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, db: int = 0) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}/{db}"

    def current_master(self) -> int:
        """The master's port as the first Sentinel that answers sees it."""
        for port in self.sentinel_ports:
            try:
                client = redis.Redis(port=port, socket_timeout=1)
                _host, master_port = client.sentinel_get_master_addr_by_name(MASTER_NAME)
                return int(master_port)
            except redis.RedisError:
                continue
        raise AssertionError("no Sentinel answers")

    def kill(self, port: int) -> None:
        """kill -9 the Redis (or Sentinel) on `port`."""
        proc = self.procs.pop(port)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def wait_for_failover(self, old_master: int, timeout: float = 60) -> int:
        """Wait until the Sentinels agree on another master, as redis-py's client asks them
        (a master in good state, not down in any Sentinel's view); its port."""
        sentinel = Sentinel([("127.0.0.1", port) for port in self.sentinel_ports], socket_timeout=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                _host, port = sentinel.discover_master(MASTER_NAME)
                if int(port) != old_master:
                    return int(port)
            except (MasterNotFoundError, redis.RedisError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"no failover from {old_master} within {timeout} s")


def _start(args: list[str], folder: Path) -> subprocess.Popen[bytes]:
    log = open(folder / f"{Path(args[1]).stem}.log", "wb")  # noqa: SIM115 - kept by the process
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True)


def _wait_ping(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@contextmanager
def sentinel_group(folder: Path) -> Iterator[SentinelGroup]:
    """A master, one replica and three Sentinels (quorum 2) watching them, failing over fast."""
    server, sentinel = shutil.which("redis-server"), shutil.which("redis-sentinel")
    if server is None or sentinel is None:
        raise AssertionError(f"redis-server and redis-sentinel are needed: {INSTALL_HINT}")
    folder.mkdir(parents=True, exist_ok=True)
    group = SentinelGroup(folder, [free_port(), free_port()], [free_port() for _ in range(3)])
    master = group.redis_ports[0]
    try:
        for i, port in enumerate(group.redis_ports):
            conf = folder / f"redis-{port}.conf"
            lines = [f"port {port}", "bind 127.0.0.1", "save ''", "appendonly no", f"dir {folder}"]
            lines.append(f"dbfilename dump-{port}.rdb")
            if i > 0:
                lines.append(f"replicaof 127.0.0.1 {master}")
            conf.write_text("\n".join(lines) + "\n")
            group.procs[port] = _start([server, str(conf)], folder)
            _wait_ping(port)
        for port in group.sentinel_ports:
            conf = folder / f"sentinel-{port}.conf"  # Sentinel rewrites its file: one each
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            )
            group.procs[port] = _start([sentinel, str(conf)], folder)
            _wait_ping(port)
        # Ready when every Sentinel knows the replica and the other Sentinels.
        deadline = time.monotonic() + 30
        for port in group.sentinel_ports:
            client = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
            while True:
                state = client.sentinel_master(MASTER_NAME)
                if int(state["num-slaves"]) >= 1 and int(state["num-other-sentinels"]) >= 2:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"Sentinel on {port} not ready: {state}")
                time.sleep(0.1)
        yield group
    finally:
        for proc in group.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
