"""Connector extras: idempotent installation, unknown names, `toucan-ctl install_connectors` and
`toucan-ctl connectors`, TOUCAN_EXTRA_CONNECTORS at start-up."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import ROOT
from toucan.bootstrap import prepare
from toucan.cli import app, main
from toucan.connectors.extras import install_extras, installer_command, is_satisfied, missing_extras
from toucan.errors import ValidationError
from toucan.settings import Settings


def test_installed_extras_are_not_installed_again() -> None:
    assert missing_extras(["mysql", "mongo"]) == []
    assert install_extras(["mysql", "mongo", "mysql"]) == []  # nothing to do: no installer started


def test_missing_extras_lists_the_ones_not_installed() -> None:
    assert missing_extras(["oracle", "mysql", "oracle"]) == ["oracle"]


def test_an_unknown_extra_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        install_extras(["mysql", "oracel"])
    assert "'oracel'" in caught.value.message
    assert "azure_mssql, bigquery, clickhouse, mongo, mssql, mysql, oracle, snowflake" in caught.value.message


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("pymysql>=1.1", True),
        ("pymysql>=999", False),
        ("pymysql>=1.0,<999", True),
        ("PyMySQL>=1.1", True),
        ("no-such-distribution-x>=1", False),
        ("pymysql @ https://example.com/x.whl", False),  # not understood: the installer decides
    ],
)
def test_is_satisfied(spec: str, expected: bool) -> None:
    assert is_satisfied(spec) is expected


def test_the_installer_targets_the_running_interpreter() -> None:
    command = installer_command(["oracledb>=2.4"])
    assert sys.executable in command and command[-1] == "oracledb>=2.4"


def _tiny_wheel(directory: Path) -> None:
    """A pure-Python wheel `toucan-probe-pkg` 0.1 whose module holds VALUE = 42."""
    info = "toucan_probe_pkg-0.1.dist-info"
    files = {
        "toucan_probe_pkg/__init__.py": "VALUE = 42\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: toucan-probe-pkg\nVersion: 0.1\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: toucan-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(content.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    directory.mkdir(parents=True)
    with zipfile.ZipFile(directory / "toucan_probe_pkg-0.1-py3-none-any.whl", "w") as wheel:
        for path, content in files.items():
            wheel.writestr(path, content)


def test_install_requirements_installs_into_the_running_interpreter_once(tmp_path: Path) -> None:
    """A fresh venv runs the installer (uv, from a local wheel, offline): the first call installs
    and imports, the second finds it installed; a requirement nowhere to be found is a clear error."""
    _tiny_wheel(tmp_path / "wheels")
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "uv"), "venv", "--quiet", "--python", sys.executable, str(tmp_path / "venv")],
        check=True,
        timeout=60,
        env={**os.environ, "UV_CACHE_DIR": str(tmp_path / "cache")},
    )
    script = """
from toucan.connectors.extras import InstallError, install_requirements
print(install_requirements(["toucan-probe-pkg>=0.1"], quiet=True))
import toucan_probe_pkg
print(toucan_probe_pkg.VALUE)
print(install_requirements(["toucan-probe-pkg>=0.1"], quiet=True))
try:
    install_requirements(["toucan-probe-absent>=1"], quiet=True)
except InstallError as exc:
    print("error:", exc.message.splitlines()[0])
"""
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), sysconfig.get_paths()["purelib"]]),
        "UV_FIND_LINKS": str(tmp_path / "wheels"),
        "UV_OFFLINE": "1",
        "UV_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "['toucan-probe-pkg>=0.1']",
        "42",
        "[]",
        "error: Installing toucan-probe-absent>=1 failed (exit code 1).",
    ]
    assert list((tmp_path / "venv").glob("lib/python*/site-packages/toucan_probe_pkg/__init__.py"))


# Command line ----------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_connectors_lists_types_extras_and_installed() -> None:
    result = runner.invoke(app, ["connectors"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 4}
    assert "azure_mssql" in lines["azure_mssql"] and "no" in lines["azure_mssql"].split("│")[4]
    assert "yes" in lines["postgres"].split("│")[4] and "(built in)" in lines["postgres"]
    assert "yes" in lines["mysql"].split("│")[4]
    assert "toucan-ctl install_connectors" in result.output


def test_cli_install_connectors_skips_what_is_installed() -> None:
    result = runner.invoke(app, ["install_connectors", "mysql", "mongo"])
    assert result.exit_code == 0, result.output
    assert "mysql: already installed (pymysql>=1.1)" in result.output
    assert "mongo: already installed (pymongo>=4.8)" in result.output


def test_cli_install_connectors_refuses_an_unknown_name() -> None:
    result = runner.invoke(app, ["install_connectors", "mysql", "nope"])
    assert result.exit_code == 2
    assert "Unknown connector extra 'nope'" in result.output and "oracle" in result.output


def test_start_up_installs_the_extra_connectors(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="k", extra_connectors='["mysql", "mongo"]')  # type: ignore[arg-type]
    db, admin = prepare(settings)
    db.dispose()
    assert admin.username


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_start_up_stops_on_an_unknown_extra_connector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    for name in [name for name in os.environ if name.startswith("TOUCAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TOUCAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TOUCAN_EXTRA_CONNECTORS", '["azure_mssql", "nope"]')
    monkeypatch.setattr(sys, "argv", ["toucan-ctl", command])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert "TOUCAN_EXTRA_CONNECTORS: Unknown connector extra 'nope'" in " ".join(stderr.split())
    assert "Traceback" not in stderr
    assert not (tmp_path / "data").exists()  # stopped before anything was written
