"""Builder code (augment.py) as an attacker writes it: every escape from the sandbox fails.

Each test uploads an augment.py as mallory (contribute on alpha), runs it through a real
preprocess job on a real worker, and reads what the function got back from the domain it
wrote (or checks the side effect: /me, a listening socket, the host's processes). The
function writes what it reached into its output DataFrame; the test asserts it reached
nothing. Limits run in both modes: with a cgroup (this machine, as root) and without one
(TOUCAN_BUILDER_CODE_CGROUP=none: one process, threads only).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT, TOUCAN_CTL, clean_env
from tests.helpers.api import SUPER_ADMIN_PASSWORD
from tests.helpers.tenants import BETA_MARKER, Tenants
from tests.helpers.workers import running_worker, wait_for_job
from toucan.settings import Settings

SEED = b"n\n1\n2\n"
MODES = [pytest.param("auto", id="cgroup"), pytest.param("none", id="one-process")]

LOOT = '''
import os
import pandas as pd

def loot(pairs):
    """The function's output: what it tried and what it got (or the error)."""
    return pd.DataFrame({"what": [str(w) for w, _ in pairs], "got": [str(g)[:4000] for _, g in pairs]})

def attempt(what, action):
    try:
        return (what, "GOT " + repr(action()))
    except BaseException as exc:
        return (what, "ERROR " + type(exc).__name__ + ": " + str(exc))
'''


def run_builder_function(
    client: TestClient,
    tenants: Tenants,
    settings: Settings,
    code: str,
    function: str,
    prefix: Sequence[str] = (),
    **env: str,
) -> dict[str, Any]:
    """Upload augment.py and a seed file as the builder, run `function` in a preprocess job."""
    builder = tenants.builder
    response = client.put("/alpha/config/augment", content=LOOT + code, headers=builder)
    assert response.status_code == 200, response.text
    etl = {
        "DATA_SOURCES": [{"domain": "seed", "file": "seed.csv"}],
        "PIPELINE": [{"input_domains": ["seed"], "function_name": function, "output_domain": "loot"}],
    }
    assert client.put("/alpha/config/etl", json=etl, headers=builder).status_code == 200
    uploaded = client.post(
        "/alpha/data/sources",
        files={"file": ("seed.csv", SEED)},
        data={"data": json.dumps({"filename": "seed.csv"})},
        headers=builder,
    )
    assert uploaded.status_code == 201, uploaded.text
    with running_worker(settings, prefix, **env) as worker:
        response = client.post("/alpha/data/preprocess?stage=staging", headers=builder)
        assert response.status_code == 202, response.text
        job = wait_for_job(client, builder, response.json()["id"], timeout=90)
        job["worker_output"] = worker.output()
        job["worker_pid"] = worker.pid
    return job


def loot_rows(client: TestClient, tenants: Tenants) -> list[dict[str, Any]]:
    response = client.post(
        "/alpha/data?stage=staging", json={"query": [{"name": "domain", "domain": "loot"}]}, headers=tenants.builder
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


def succeeded_loot(client: TestClient, tenants: Tenants, job: dict[str, Any]) -> list[dict[str, Any]]:
    assert job["state"] == "succeeded", (job["error"], job.get("traceback"), job.get("worker_output", "")[-3000:])
    rows = loot_rows(client, tenants)
    assert rows, "the function reported nothing"
    return rows


# --- the server's secrets ------------------------------------------------------------------


def test_builder_code_cannot_read_the_servers_environment(
    client: TestClient, tenants: Tenants, settings: Settings
) -> None:
    code = """
def steal_env(seed):
    pairs = [("os.environ", dict(os.environ))]
    pairs.append(attempt("parent environ", lambda: open(f"/proc/{os.getppid()}/environ").read()))
    pairs.append(attempt("the tests environ", lambda: open("/proc/TESTS/environ").read()))
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError as exc:
        pids = []
        pairs.append(("/proc", "ERROR " + str(exc)))
    for pid in pids:
        pairs.append(attempt(f"/proc/{pid}/environ", lambda pid=pid: open(f"/proc/{pid}/environ").read()))
        pairs.append(attempt(f"/proc/{pid}/cmdline", lambda pid=pid: open(f"/proc/{pid}/cmdline").read()))
    return loot(pairs)
"""
    # The test process holds the same secrets; every pid of the host is tried below anyway.
    code = code.replace("TESTS", str(os.getpid()))
    job = run_builder_function(
        client, tenants, settings, code, "steal_env", TOUCAN_SUPER_ADMIN_PASSWORD=SUPER_ADMIN_PASSWORD
    )
    text = json.dumps(succeeded_loot(client, tenants, job))
    assert SUPER_ADMIN_PASSWORD not in text
    assert str(settings.secret_key) not in text
    assert settings.resolved_database_url not in text and "TOUCAN_" not in text


def test_builder_code_cannot_read_the_data_dir_the_database_other_apps_or_the_project(
    client: TestClient, tenants: Tenants, settings: Settings
) -> None:
    key_marker = f"SECRET-KEY-{uuid.uuid4().hex}"
    key_file = tenants.data_dir / "secret_key"
    key_file.write_text(key_marker)
    beta_files = tenants.domain_files("beta")
    assert beta_files
    targets = [
        str(key_file),
        *map(str, beta_files),
        str(ROOT / "pyproject.toml"),
        str(ROOT / "src" / "toucan" / "settings.py"),
        "/etc/shadow",
        "/root/.bash_history",
    ]
    if settings.resolved_database_url.startswith("sqlite:///"):
        targets.append(settings.resolved_database_url.removeprefix("sqlite:///"))
    code = f"""
def steal_files(seed):
    pairs = []
    for path in {targets!r}:
        pairs.append(attempt(path, lambda path=path: open(path, "rb").read()))
    pairs.append(attempt("list data dir", lambda: os.listdir({str(tenants.data_dir)!r})))
    pairs.append(attempt("list project", lambda: os.listdir({str(ROOT)!r})))
    return loot(pairs)
"""
    try:
        job = run_builder_function(client, tenants, settings, code, "steal_files")
        rows = succeeded_loot(client, tenants, job)
    finally:
        key_file.unlink()
    text = json.dumps(rows)
    assert key_marker not in text and BETA_MARKER not in text and "SQLite format 3" not in text
    assert "pydantic" not in text and "[project]" not in text
    assert all(row["got"].startswith("ERROR") for row in rows), rows


def test_builder_code_cannot_make_itself_super_admin(client: TestClient, tenants: Tenants, settings: Settings) -> None:
    url = settings.resolved_database_url
    code = f"""
def promote(seed):
    pairs = []
    url = {url!r}
    def sqlite():
        import sqlite3
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("UPDATE users SET role='SUPER_ADMIN' WHERE username='mallory'")
        conn.commit()
        return "updated"
    def postgres():
        import psycopg
        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, connect_timeout=3) as conn:
            conn.execute("UPDATE users SET role='SUPER_ADMIN' WHERE username='mallory'")
        return "updated"
    def postgres_guess():
        import psycopg
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", connect_timeout=3) as conn:
            return conn.execute("SELECT 1").fetchone()
    pairs.append(attempt("sqlite", sqlite) if url.startswith("sqlite") else attempt("postgres", postgres))
    pairs.append(attempt("postgres on 127.0.0.1", postgres_guess))
    return loot(pairs)
"""
    job = run_builder_function(client, tenants, settings, code, "promote")
    rows = succeeded_loot(client, tenants, job)
    assert all(row["got"].startswith("ERROR") for row in rows), rows
    me = client.get("/me", headers=tenants.builder).json()
    assert me["role"] == "USER", me


# --- the network ---------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP socket on every address of the host; records who connected."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, address = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(address[0])
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        server.close()


def _host_addresses() -> list[str]:
    addresses = {"127.0.0.1"}
    with contextlib.suppress(OSError):
        addresses.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    return sorted(addresses)


def test_builder_code_reaches_no_network(
    client: TestClient, tenants: Tenants, settings: Settings, listener: tuple[int, list[str]]
) -> None:
    port, accepted = listener
    targets = [(address, port) for address in _host_addresses()]
    targets += [("127.0.0.1", 5432), ("127.0.0.1", 6379)]
    # Beyond this host only a route is asked for (a UDP connect sends nothing): were the sandbox
    # broken, the test would still knock on no metadata service and no public address.
    routes = [("169.254.169.254", 80), ("1.1.1.1", 443)]
    code = f"""
def scan(seed):
    import socket
    pairs = []
    for host, port in {targets!r}:
        pairs.append(attempt(f"{{host}}:{{port}}", lambda: socket.create_connection((host, port), timeout=2).close()))
    for host, port in {routes!r}:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        pairs.append(attempt(f"route to {{host}}", lambda: udp.connect((host, port))))
    pairs.append(attempt("dns", lambda: socket.getaddrinfo("example.com", 443)))
    return loot(pairs)
"""
    job = run_builder_function(client, tenants, settings, code, "scan")
    rows = succeeded_loot(client, tenants, job)
    assert accepted == []
    assert all(row["got"].startswith("ERROR") for row in rows), rows


@pytest.fixture
def web_server() -> Iterator[int]:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello from the allowed host")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


def test_builder_code_reaches_only_allowed_hosts_through_the_ssrf_guard(
    client: TestClient, tenants: Tenants, settings: Settings, web_server: int
) -> None:
    code = f"""
def fetch(seed):
    import urllib.request
    pairs = []
    for url in ["http://127.0.0.1:{web_server}/", "http://localhost:{web_server}/", "http://127.0.0.2:{web_server}/"]:
        pairs.append(attempt(url, lambda url=url: urllib.request.urlopen(url, timeout=5).read().decode()))
    return loot(pairs)
"""
    # Allowed for builder code, but loopback: the SSRF guard still refuses it.
    job = run_builder_function(
        client,
        tenants,
        settings,
        code,
        "fetch",
        TOUCAN_BUILDER_CODE_ALLOWED_HOSTS="127.0.0.1,localhost",
        TOUCAN_BUILDER_CODE_TIMEOUT="30",  # three requests on a loaded machine: not a time-limit test
    )
    rows = succeeded_loot(client, tenants, job)
    assert all(row["got"].startswith("ERROR") for row in rows), rows
    assert "TOUCAN_CONNECTORS_ALLOWED_HOSTS" in rows[0]["got"]
    # Allowed for builder code and by the SSRF guard: through; other hosts still refused.
    job = run_builder_function(
        client,
        tenants,
        settings,
        code,
        "fetch",
        TOUCAN_BUILDER_CODE_ALLOWED_HOSTS="127.0.0.1",
        TOUCAN_CONNECTORS_ALLOWED_HOSTS="127.0.0.0/8",
        TOUCAN_BUILDER_CODE_TIMEOUT="30",
    )
    got = {row["what"]: row["got"] for row in succeeded_loot(client, tenants, job)}
    assert got[f"http://127.0.0.1:{web_server}/"] == "GOT 'hello from the allowed host'"
    assert "TOUCAN_BUILDER_CODE_ALLOWED_HOSTS" in got[f"http://localhost:{web_server}/"]
    assert "TOUCAN_BUILDER_CODE_ALLOWED_HOSTS" in got[f"http://127.0.0.2:{web_server}/"]


def test_connect_tunnels_reach_only_allowed_hosts(
    client: TestClient, tenants: Tenants, settings: Settings, web_server: int
) -> None:
    # What an HTTPS client does through HTTPS_PROXY: CONNECT, then its bytes through the tunnel.
    code = f"""
def tunnel(seed):
    import socket
    pairs = []
    for target in ["127.0.0.1:{web_server}", "127.0.0.2:{web_server}", "169.254.169.254:80"]:
        def go(target=target):
            proxy = os.environ["HTTPS_PROXY"].rsplit(":", 1)
            with socket.create_connection((proxy[0][7:], int(proxy[1])), timeout=5) as s:
                s.sendall(f"CONNECT {{target}} HTTP/1.1\\r\\nHost: {{target}}\\r\\n\\r\\n".encode())
                head = s.recv(4096).decode(errors="replace")
                if " 200 " not in head.splitlines()[0]:
                    raise OSError(head.splitlines()[0])
                s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                return data.decode().splitlines()[-1]
        pairs.append(attempt(target, go))
    return loot(pairs)
"""
    job = run_builder_function(
        client,
        tenants,
        settings,
        code,
        "tunnel",
        TOUCAN_BUILDER_CODE_ALLOWED_HOSTS="127.0.0.1",
        TOUCAN_CONNECTORS_ALLOWED_HOSTS="127.0.0.0/8",
        TOUCAN_BUILDER_CODE_TIMEOUT="30",
    )
    got = {row["what"]: row["got"] for row in succeeded_loot(client, tenants, job)}
    assert got[f"127.0.0.1:{web_server}"] == "GOT 'hello from the allowed host'"
    assert "403" in got[f"127.0.0.2:{web_server}"] and "TOUCAN_BUILDER_CODE_ALLOWED_HOSTS" in got["169.254.169.254:80"]


def test_network_errors_name_the_setting(client: TestClient, tenants: Tenants, settings: Settings) -> None:
    code = """
def download(seed):
    import urllib.request
    return pd.read_csv(urllib.request.urlopen("https://example.com/data.csv", timeout=5))
"""
    job = run_builder_function(client, tenants, settings, code, "download")
    assert job["state"] == "failed"
    assert "TOUCAN_BUILDER_CODE_ALLOWED_HOSTS" in job["error"], job["error"]


# --- the output file -------------------------------------------------------------------------


def test_builder_code_output_cannot_point_the_server_at_a_host_file(
    client: TestClient, tenants: Tenants, settings: Settings
) -> None:
    key_marker = f"SECRET-KEY-{uuid.uuid4().hex}"
    key_file = tenants.data_dir / "secret_key"
    key_file.write_text(key_marker)
    # The runner writes the output with DataFrame.to_parquet, in the builder's interpreter:
    # the builder swaps it for a symbolic link to the secret key, for the server to copy.
    code = f"""
def link(seed):
    def to_parquet(self, path, *args, **kwargs):
        os.symlink({str(key_file)!r}, path)
    pd.DataFrame.to_parquet = to_parquet
    import pyarrow.parquet
    pyarrow.parquet.write_table = lambda table, path, *a, **k: os.symlink({str(key_file)!r}, path)
    return seed
"""
    try:
        job = run_builder_function(client, tenants, settings, code, "link")
    finally:
        key_file.unlink()
    if job["state"] == "succeeded":
        assert key_marker not in json.dumps(loot_rows(client, tenants))
    assert key_marker not in json.dumps(job)


# --- resource limits -------------------------------------------------------------------------


FORKS = """
def fork_many(seed):
    import time
    forked = 0
    error = ""
    for _ in range(60):
        try:
            pid = os.fork()
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
            break
        if pid == 0:
            time.sleep(5)
            os._exit(0)
        forked += 1
    return pd.DataFrame({"forked": [forked], "error": [error]})

def fork_bomb(seed):
    import subprocess
    children = [subprocess.Popen(["sleep", "5"]) for _ in range(60)]
    return seed
"""


@pytest.mark.parametrize("cgroup", MODES)
def test_process_count_is_limited(client: TestClient, tenants: Tenants, settings: Settings, cgroup: str) -> None:
    job = run_builder_function(client, tenants, settings, FORKS, "fork_many", TOUCAN_BUILDER_CODE_CGROUP=cgroup)
    [row] = succeeded_loot(client, tenants, job)
    assert row["forked"] < 32, row  # TOUCAN_BUILDER_CODE_MAX_PROCESSES, threads included
    if cgroup == "none":
        assert row["forked"] == 0, row
    assert row["error"], row
    failed = run_builder_function(client, tenants, settings, FORKS, "fork_bomb", TOUCAN_BUILDER_CODE_CGROUP=cgroup)
    assert failed["state"] == "failed"
    assert "TOUCAN_BUILDER_CODE_MAX_PROCESSES" in failed["error"], failed["error"]


MEMORY = """
def hog(seed):
    # 4 x 300 MiB, in processes when it may fork, else in threads; the worker allows 768 MiB.
    import threading, time
    size = 300 * 1024 * 1024
    children, held = [], []
    for _ in range(4):
        try:
            read, write = os.pipe()
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            block = b"x" * size
            os.write(write, b"1")
            time.sleep(4)
            os._exit(0)
        os.close(write)  # a child the kernel kills then reads as end of file
        children.append((pid, read))
    for pid, read in children:
        if os.read(read, 1) == b"1" and os.waitpid(pid, os.WNOHANG) == (0, 0):
            held.append(pid)
    blocks = []
    def grab():
        blocks.append(b"x" * size)
    if not children:
        threads = [threading.Thread(target=grab) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    alive = [pid for pid in held if os.waitpid(pid, os.WNOHANG) == (0, 0)]
    return pd.DataFrame({"held_mib": [300 * (len(alive) + len(blocks))]})
"""


@pytest.mark.parametrize("cgroup", MODES)
def test_memory_is_limited_for_the_whole_sandbox(
    client: TestClient, tenants: Tenants, settings: Settings, cgroup: str
) -> None:
    job = run_builder_function(client, tenants, settings, MEMORY, "hog", TOUCAN_BUILDER_CODE_CGROUP=cgroup)
    if job["state"] == "failed":
        assert "TOUCAN_BUILDER_CODE_MEMORY_MB" in job["error"], job["error"]
    else:
        [row] = loot_rows(client, tenants)
        assert row["held_mib"] < 768, row


def test_cpu_time_is_limited(client: TestClient, tenants: Tenants, settings: Settings) -> None:
    code = """
def spin(seed):
    import time
    while time.process_time() < 8:
        pass
    return seed
"""
    job = run_builder_function(
        client,
        tenants,
        settings,
        code,
        "spin",
        TOUCAN_BUILDER_CODE_CPU_SECONDS="2",
        TOUCAN_BUILDER_CODE_TIMEOUT="60",
    )
    assert job["state"] == "failed"
    assert "TOUCAN_BUILDER_CODE_CPU_SECONDS" in job["error"], job["error"]


def test_written_files_are_limited(client: TestClient, tenants: Tenants, settings: Settings) -> None:
    code = """
def one_big_file(seed):
    import tempfile
    chunk = b"x" * (1024 * 1024)
    with tempfile.TemporaryFile() as big:
        for _ in range(200):
            big.write(chunk)
    return seed

def many_files(seed):
    import tempfile
    chunk = b"x" * (1024 * 1024)
    for index in range(10):
        with open(os.path.join(tempfile.gettempdir(), f"part-{index}"), "wb") as part:
            try:
                for _ in range(60):
                    part.write(chunk)
                    part.flush()
            except OSError:
                pass
    return pd.DataFrame({"n": [index]})
"""
    big = run_builder_function(client, tenants, settings, code, "one_big_file", TOUCAN_BUILDER_CODE_DISK_MB="64")
    assert big["state"] == "failed"
    assert "TOUCAN_BUILDER_CODE_DISK_MB" in big["error"], big["error"]
    many = run_builder_function(client, tenants, settings, code, "many_files", TOUCAN_BUILDER_CODE_DISK_MB="64")
    assert many["state"] == "failed"
    assert "TOUCAN_BUILDER_CODE_DISK_MB" in many["error"], many["error"]


def _processes_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_nothing_survives_the_time_limit(client: TestClient, tenants: Tenants, settings: Settings) -> None:
    token = f"survivor-{uuid.uuid4().hex}"
    code = f"""
def linger(seed):
    import sys, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)", {token!r}])
        os._exit(0)
    time.sleep(120)
    return seed
"""
    try:
        job = run_builder_function(client, tenants, settings, code, "linger")
        assert job["state"] == "failed" and "TOUCAN_BUILDER_CODE_TIMEOUT" in job["error"], job
        assert _processes_with(token) == []
    finally:
        for pid in _processes_with(token):
            os.kill(pid, 9)


# --- where no sandbox can be made --------------------------------------------------------------


def _without_user_namespaces() -> list[str]:
    """A prefix that runs a command where no user namespace can be made (as in a locked-down container)."""
    bwrap = shutil.which("bwrap")
    assert bwrap, "bubblewrap is needed for the builder code sandbox: apt-get install bubblewrap"
    return [bwrap, "--dev-bind", "/", "/", "--unshare-user", "--disable-userns", "--uid", "0", "--gid", "0", "--"]


def test_builder_code_does_not_run_where_no_sandbox_can_be_made(
    client: TestClient, tenants: Tenants, settings: Settings
) -> None:
    code = """
def environment(seed):
    return pd.DataFrame({"name": sorted(os.environ)})
"""
    locked = _without_user_namespaces()
    job = run_builder_function(client, tenants, settings, code, "environment", locked)
    assert job["state"] == "failed"
    assert "TOUCAN_BUILDER_CODE_SANDBOX=none" in job["error"] and "bubblewrap" in job["error"], job["error"]
    assert "docs/security.md" in job["error"]
    # The operator's explicit choice: builder code runs unconfined, still without the secrets.
    ran = run_builder_function(
        client, tenants, settings, code, "environment", locked, TOUCAN_BUILDER_CODE_SANDBOX="none"
    )
    names = [row["name"] for row in succeeded_loot(client, tenants, ran)]
    assert not [name for name in names if name.startswith("TOUCAN_")]


def test_builder_code_does_not_run_without_bubblewrap(client: TestClient, tenants: Tenants, settings: Settings) -> None:
    code = """
def environment(seed):
    return seed
"""
    job = run_builder_function(
        client, tenants, settings, code, "environment", TOUCAN_BUILDER_CODE_BWRAP="/nonexistent/bwrap"
    )
    assert job["state"] == "failed"
    assert "is not installed" in job["error"] and "apt-get install bubblewrap" in job["error"], job["error"]
    assert "TOUCAN_BUILDER_CODE_SANDBOX=none" in job["error"]


def test_doctor_reports_what_the_sandbox_reaches(settings: Settings) -> None:
    env = clean_env(TOUCAN_DATA_DIR=str(settings.data_dir), TOUCAN_DATABASE_URL=settings.resolved_database_url)
    result = subprocess.run(
        [*TOUCAN_CTL, "doctor", "sandbox"], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any("cannot read" in line and str(settings.data_dir) in line for line in lines), result.stdout
    assert any("cannot connect" in line and "169.254.169.254" in line for line in lines), result.stdout
    # No way to a new namespace (the seccomp filter; bwrap's --disable-userns is not used, as
    # it needs a writable /proc/sys that containers do not give).
    for way in ("cannot make a user namespace", "cannot clone into a user namespace"):
        assert any(line.startswith("ok") and way in line for line in lines), result.stdout
    assert not [line for line in lines if line.startswith("FAIL")], result.stdout
    refused = subprocess.run(
        [*_without_user_namespaces(), sys.executable, "-m", "toucan.cli", "doctor", "sandbox"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert refused.returncode != 0
    assert "TOUCAN_BUILDER_CODE_SANDBOX" in refused.stdout + refused.stderr
