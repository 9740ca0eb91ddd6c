"""Caddy tests: Debian's `caddy` run on the Caddyfiles of deploy/, with a certificate made in
the test, in front of the real backend and the built frontend."""

from __future__ import annotations

import datetime
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.types import ASGIApp

from tests.helpers import ROOT, free_port, stop_process
from toucan.api.middleware import SecurityHeadersMiddleware
from toucan.frontend_files import frontend_app
from toucan.frontend_params import write_params
from toucan.security_headers import web_app_headers

DEPLOY = ROOT / "deploy"
# The FAQ's names; Chromium maps them to 127.0.0.1 (--host-resolver-rules).
FRONTEND_DNS = "toucan.example.test"
BACKEND_DNS = "api-toucan.example.test"


def caddy_binary() -> str:
    """Debian's caddy: these tests fail, never skip, when it is missing."""
    found = shutil.which("caddy")
    if found is None:
        raise AssertionError("caddy is missing: `apt-get install -y caddy` (Debian's package; .ci/run installs it)")
    return found


@dataclass(frozen=True)
class Certificate:
    crt: Path
    key: Path

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate only."""
        return ssl.create_default_context(cafile=str(self.crt))


def make_certificate(directory: Path, names: list[str]) -> Certificate:
    """A self-signed certificate for `names` (one for both domains, as in the FAQ)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    crt, key_file = directory / "mydomain.com.crt", directory / "mydomain.com.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Certificate(crt, key_file)


def caddy_env(home: Path, cert: Certificate, frontend: str, backend: str) -> dict[str, str]:
    """The environment of the FAQ's caddy service; `frontend`/`backend` are host:port here."""
    return {
        "PATH": "/usr/bin:/bin",
        # Caddy's storage and config under the test's directory, never the machine's.
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "FRONTEND_DNS": FRONTEND_DNS,
        "FRONTEND_SERVICE": frontend,
        "BACKEND_DNS": BACKEND_DNS,
        "BACKEND_SERVICE": backend,
        "SSL_CRT": str(cert.crt),
        "SSL_KEY": str(cert.key),
    }


def validate(caddyfile: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [caddy_binary(), "validate", "--config", str(caddyfile), "--adapter", "caddyfile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def for_test(text: str, http_port: int, https_port: int) -> str:
    """A shipped Caddyfile with only what this machine needs changed: free ports instead of
    7000/8000 (which Docker publishes as 80/443, so the redirect then needs no port), the
    services' host:port from the environment, and no admin endpoint (other Caddy may run)."""
    replacements = {
        "\n:7000 {": f"\n:{http_port} {{",
        ":8000 {": f":{https_port} {{",
        "redir https://{host}{uri}": f"redir https://{{host}}:{https_port}{{uri}}",
        "{$FRONTEND_SERVICE}:80": "{$FRONTEND_SERVICE}",
        "{$BACKEND_SERVICE}:80": "{$BACKEND_SERVICE}",
        "\n{\n": "\n{\n\tadmin off\n",
    }
    for old, new in replacements.items():
        assert old in text, f"the Caddyfile no longer has {old!r}: update tests/helpers/caddy.py"
        text = text.replace(old, new)
    return text


def _wait_for_port(port: int, proc: subprocess.Popen[str], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"caddy exited: {log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"caddy does not listen on {port}: {log.read_text()[-3000:]}") from None
            time.sleep(0.05)


@contextmanager
def running_caddy(caddyfile: Path, env: dict[str, str], ports: tuple[int, ...]) -> Iterator[Path]:
    """`caddy run` on `caddyfile` until the block ends; yields its log file."""
    log = caddyfile.with_suffix(".log")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [caddy_binary(), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            for port in ports:
                _wait_for_port(port, proc, log)
            yield log
        finally:
            stop_process(proc)


@contextmanager
def running_frontend(docroot: Path, api_baseroute: str) -> Iterator[str]:
    """The frontend service: the built files with tc-params.js pointing at `api_baseroute`
    (as `toucan-ctl frontend-params` writes it) and the headers the frontend image sends.
    Yields its host:port."""
    shutil.copytree(ROOT / "frontend" / "dist", docroot)
    write_params(docroot, api_baseroute)
    files = frontend_app(docroot)
    assert files is not None, "frontend/dist has no index.html: `make frontend` builds it"
    headers = web_app_headers("'self'", api_baseroute)
    app: ASGIApp = SecurityHeadersMiddleware(files, headers_for=lambda _path: headers)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise AssertionError("the frontend server did not start")
            time.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def through_proxy(
    method: str,
    host: str,
    https_port: int,
    path: str,
    cert: Certificate,
    auth: tuple[str, str] | None = None,
) -> httpx.Response:
    """A request to https://host:port/path as a script would send it, the name resolved to
    127.0.0.1 and the certificate checked for that name."""
    with httpx.Client(verify=cert.ssl_context(), auth=auth) as client:
        request = client.build_request(
            method,
            f"https://127.0.0.1:{https_port}{path}",
            headers={"Host": f"{host}:{https_port}"},
            extensions={"sni_hostname": host},
        )
        return client.send(request)
