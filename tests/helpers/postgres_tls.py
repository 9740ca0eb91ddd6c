"""A throwaway PostgreSQL cluster with TLS on (this machine's server has none): its server
certificate is signed by a CA made in the test, for 127.0.0.1 only."""

from __future__ import annotations

import datetime
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import free_port

PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


@dataclass(frozen=True)
class TlsCluster:
    port: int
    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA that did not

    def url(self, ca: Path | None, host: str = "127.0.0.1") -> str:
        query = "sslmode=verify-full" + (f"&sslrootcert={ca}" if ca else "")
        return f"postgresql+psycopg://postgres@{host}:{self.port}/postgres?{query}"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(common: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _as_postgres(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True, timeout=120, check=False
    )


@contextmanager
def tls_cluster() -> Iterator[TlsCluster]:
    """initdb, ssl=on with a certificate for IP 127.0.0.1, pg_ctl start; removed at the end."""
    if not PG_BIN:
        raise AssertionError("PostgreSQL's server programs are missing: apt-get install postgresql")
    bin_dir = PG_BIN[-1]
    # Outside pytest's tmp_path: the postgres user must reach it.
    root = Path(tempfile.mkdtemp(prefix="toucan-pg-tls-"))
    try:
        ca_key, ca_cert = _ca("Toucan test database CA")
        _other_key, other_cert = _ca("Some other CA")
        server_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        server_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("127.0.0.1"))
            .issuer_name(ca_cert.subject)
            .public_key(server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        (root / "ca.crt").write_bytes(_pem(ca_cert))
        (root / "other-ca.crt").write_bytes(_pem(other_cert))
        data = root / "data"
        shutil.chown(root, "postgres", "postgres")
        initialised = _as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
        assert initialised.returncode == 0, initialised.stderr
        (data / "server.crt").write_bytes(_pem(server_cert))
        (data / "server.key").write_bytes(
            server_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        for name in ("server.crt", "server.key"):
            shutil.chown(data / name, "postgres", "postgres")
        (data / "server.key").chmod(0o600)
        port = free_port()
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n"
                "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                "shared_buffers = 16MB\nmax_connections = 20\n"
            )
        started = _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "start")
        assert started.returncode == 0, started.stderr + (root / "log").read_text()
        try:
            yield TlsCluster(port, root / "ca.crt", root / "other-ca.crt")
        finally:
            _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
