"""Start-up against a PostgreSQL with TLS (a throwaway cluster whose certificate a test CA
signed): the right CA connects; a wrong CA, a missing CA file, a host name the certificate
does not name, or TLS asked of a server without it stop start-up with one sentence naming
the setting and the fix, never a traceback."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TOUCAN_CTL, clean_env
from tests.helpers.postgres_tls import TlsCluster, tls_cluster

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def cluster() -> Iterator[TlsCluster]:
    with tls_cluster() as running:
        yield running


def start(command: str, tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(TOUCAN_DATA_DIR=str(tmp_path / "data"), COLUMNS="100", **settings)
    return subprocess.run([*TOUCAN_CTL, command], env=env, capture_output=True, text=True, timeout=120, check=False)


def stopped_with(result: subprocess.CompletedProcess[str]) -> str:
    """The one line start-up printed before stopping."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Stopped: ")
    return lines[0]


def test_the_right_ca_connects_with_verify_full(cluster: TlsCluster, tmp_path: Path) -> None:
    result = start("migrate", tmp_path, TOUCAN_DATABASE_URL=cluster.url(cluster.ca))
    assert result.returncode == 0, result.stderr
    assert "Database at revision" in result.stdout


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_a_wrong_ca_stops_start_up_with_one_line_naming_the_setting(
    cluster: TlsCluster, tmp_path: Path, command: str
) -> None:
    line = stopped_with(start(command, tmp_path, TOUCAN_DATABASE_URL=cluster.url(cluster.other_ca)))
    assert "TOUCAN_DATABASE_URL: the database server's TLS certificate is not signed by the CA in sslrootcert" in line
    assert str(cluster.other_ca) in line and "sslrootcert=/etc/ssl/myCA.crt" in line


def test_a_wrong_ca_of_the_replica_names_the_readonly_setting(cluster: TlsCluster, tmp_path: Path) -> None:
    line = stopped_with(
        start(
            "serve",
            tmp_path,
            TOUCAN_DATABASE_URL=cluster.url(cluster.ca),
            TOUCAN_DATABASE_READONLY_URL=cluster.url(cluster.other_ca),
        )
    )
    assert "TOUCAN_DATABASE_READONLY_URL: the database server's TLS certificate is not signed" in line


def test_a_missing_ca_file_says_to_mount_it(cluster: TlsCluster, tmp_path: Path) -> None:
    line = stopped_with(start("serve", tmp_path, TOUCAN_DATABASE_URL=cluster.url(tmp_path / "nowhere.crt")))
    assert f"sslrootcert names {tmp_path / 'nowhere.crt'}, which does not exist here" in line


def test_a_host_the_certificate_does_not_name_is_explained(cluster: TlsCluster, tmp_path: Path) -> None:
    line = stopped_with(start("serve", tmp_path, TOUCAN_DATABASE_URL=cluster.url(cluster.ca, host="localhost")))
    assert "certificate is not issued for the host in the URL" in line


def test_tls_asked_of_a_server_without_it_is_explained(tmp_path: Path) -> None:
    # This machine's own PostgreSQL has no TLS.
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test?sslmode=require"
    line = stopped_with(start("serve", tmp_path, TOUCAN_DATABASE_URL=url))
    assert "asks for TLS (sslmode=require) but the database server does not offer it" in line
