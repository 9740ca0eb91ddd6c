"""Connector extras: the optional drivers some connector types need, and their installer.

`toucan-ctl install_connectors azure_mssql oracle` and `TOUCAN_EXTRA_CONNECTORS` both call
`install_extras`: it checks the installed distributions first, so it returns at once when
everything is there, and installs with the running interpreter otherwise.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from toucan.errors import ErrorCode, ToucanError, ValidationError

# The same requirement specs as pyproject.toml's optional-dependencies (a test checks it).
EXTRAS: dict[str, list[str]] = {
    "mysql": ["pymysql>=1.1"],
    "mongo": ["pymongo>=4.8"],
    "azure_mssql": ["pyodbc>=5.1"],
    "mssql": ["pyodbc>=5.1"],
    "oracle": ["oracledb>=2.4"],
    "snowflake": ["snowflake-sqlalchemy>=1.6"],
    "bigquery": ["sqlalchemy-bigquery>=1.11"],
    "clickhouse": ["clickhouse-connect[sqlalchemy]>=0.8"],
}

_SPEC = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")  # `name[extras]>=1.0`
_CLAUSE = re.compile(r"^\s*(==|>=|<=|!=|>|<)\s*([0-9][0-9A-Za-z.*+!-]*)\s*$")


class InstallError(ToucanError):
    """The installer failed; the message carries the end of its output."""

    status = 500
    code = ErrorCode.INSTALL_FAILED


def check_names(names: Iterable[str]) -> list[str]:
    """The names, deduplicated in order; an unknown one is an error listing the known extras."""
    result: list[str] = []
    for name in names:
        if name not in EXTRAS:
            raise ValidationError(
                f"Unknown connector extra {name!r}. Known extras: {', '.join(sorted(EXTRAS))}.",
                details={"extra": name, "known": sorted(EXTRAS)},
                code=ErrorCode.UNKNOWN_CONNECTOR_EXTRA,
            )
        if name not in result:
            result.append(name)
    return result


def _release(version: str) -> tuple[int, ...]:
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def _compare(installed: tuple[int, ...], operator: str, wanted: tuple[int, ...]) -> bool:
    width = max(len(installed), len(wanted))
    have, want = installed + (0,) * (width - len(installed)), wanted + (0,) * (width - len(wanted))
    return {
        "==": have == want,
        "!=": have != want,
        ">=": have >= want,
        "<=": have <= want,
        ">": have > want,
        "<": have < want,
    }[operator]


def is_satisfied(spec: str) -> bool:
    """Whether `spec` (`name>=1.1`, `name==0.3`, clauses joined by commas) is installed.

    A spec this simple parser does not understand counts as missing: the installer decides.
    """
    match = _SPEC.match(spec)
    if not match:
        return False
    name, rest = match.groups()
    try:
        version = _release(importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return False
    for clause in filter(None, (part.strip() for part in rest.split(","))):
        parsed = _CLAUSE.match(clause)
        if not parsed or not _compare(version, parsed.group(1), _release(parsed.group(2))):
            return False
    return True


def missing_requirements(specs: Iterable[str]) -> list[str]:
    """The specs that are not installed (deduplicated, in order)."""
    return [spec for spec in dict.fromkeys(specs) if not is_satisfied(spec)]


def missing_extras(names: Iterable[str]) -> list[str]:
    """The extras (among `names`) with a requirement that is not installed."""
    return [name for name in check_names(names) if missing_requirements(EXTRAS[name])]


def installer_command(specs: list[str]) -> list[str]:
    """uv when it is on PATH or next to the interpreter (fast), else pip; both target this interpreter."""
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv:
        return [uv, "pip", "install", "--python", sys.executable, *specs]
    return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *specs]


def install_requirements(specs: Iterable[str], *, quiet: bool = False) -> list[str]:
    """Install the specs that are missing; return those it installed ([] when all were there)."""
    missing = missing_requirements(specs)
    if not missing:
        return []
    command = installer_command(missing)
    result = subprocess.run(command, capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        output = ((result.stdout or "") + (result.stderr or "")).strip()
        tail = "\n".join(output.splitlines()[-15:])
        raise InstallError(
            f"Installing {', '.join(missing)} failed (exit code {result.returncode})." + (f"\n{tail}" if tail else ""),
            details={"requirements": missing, "command": command[0]},
        )
    importlib.invalidate_caches()  # so this process can import what was just installed
    return missing


def install_extras(names: Iterable[str], *, quiet: bool = False) -> list[str]:
    """Install the drivers of the named extras (idempotent); return the requirement specs installed."""
    extras = check_names(names)
    return install_requirements([spec for name in extras for spec in EXTRAS[name]], quiet=quiet)
