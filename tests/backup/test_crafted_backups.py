"""Backups crafted by an attacker, whose manifest checksums match what they hold: a restore
refuses each one before its transaction, writes nothing outside the app's folders, and
leaves the app as it was."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from toucan.apps.configs import Stage
from toucan.backup import archive
from toucan.backup.app_export import backup_app
from toucan.backup.app_restore import restore_app
from toucan.data.domains import domain_store_for
from toucan.db.engine import Database
from toucan.demo_seed import DEMO_APP, seed_demo
from toucan.errors import ToucanError
from toucan.etl.sources import SourceFiles
from toucan.settings import Settings


@pytest.fixture
def original(db: Database, settings: Settings, tmp_path: Path) -> Path:
    seed_demo(db, settings.data_dir, rows=50, users_password="demo-users-pw-1")
    SourceFiles(db, settings.data_dir, 1_000_000).save(DEMO_APP, "targets.csv", io.BytesIO(b"a,b\n1,2\n"), author="t")
    return backup_app(db, settings.data_dir, DEMO_APP, tmp_path / "out", version="0.1.0").directory


def _members(path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(path) as tar:
        return [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar.getmembers()]  # type: ignore[union-attr]


def _write(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)


def _sign(folder: Path) -> None:
    """What an attacker can do too: make the manifest match the files."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in archive.CHECKED_FILES:
        data = (folder / name).read_bytes()
        manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, b""


def _storage_with(extra: tuple[tarfile.TarInfo, bytes]) -> Callable[[Path], None]:
    def craft(folder: Path) -> None:
        _write(folder / "storage.tar.gz", [*_members(folder / "storage.tar.gz"), extra])

    return craft


def _rows(table: str, change: Callable[[dict[str, object]], None]) -> Callable[[Path], None]:
    def craft(folder: Path) -> None:
        members = _members(folder / "database.tar.gz")
        out = []
        for info, data in members:
            if info.name == f"{table}.jsonl":
                rows = [json.loads(line) for line in data.splitlines()]
                for row in rows:
                    change(row)
                data = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
            out.append((info, data))
        _write(folder / "database.tar.gz", out)

    return craft


def _set(key: str, value: object) -> Callable[[dict[str, object]], None]:
    return lambda row: row.__setitem__(key, value)


def _front_with_secret(row: dict[str, object]) -> None:
    if row["kind"] == "front":
        row["content"] = {**row["content"], "home": {"title": "{{ secrets.warehouse_password }}"}}  # type: ignore[dict-item]


CRAFTED = {
    "a member climbing out": _storage_with(_file("../../escaped.txt")),
    "an absolute member": _storage_with(_file("/tmp/escaped-absolute.txt")),
    "a member in another folder": _storage_with(_file("secret_key")),
    "a symbolic link": _storage_with(_link("domains/link.parquet", "/etc/passwd")),
    "a nested member": _storage_with(_file("domains/sub/x.parquet")),
    "a domain file named with a path": _rows("domain_tables", _set("file", "../../../etc/passwd")),
    "an uploaded file named with a path": _rows("data_source_files", _set("stored_as", "../other-app/x.csv")),
    "a domain name that is not one": _rows("domain_tables", _set("domain", "sales; DROP TABLE users")),
    "a secret in a front config": _rows("app_configs", _front_with_secret),
    "an unknown column": _rows("small_apps", _set("owner_id", 1)),
    "an unknown privilege": _rows("privileges", _set("privilege", "own")),
    "a config of another kind": _rows("app_configs", _set("kind", "shell")),
    "a row that is not an object": lambda folder: _write(
        folder / "database.tar.gz",
        [
            (info, b"[1, 2]\n" if info.name == "stage_heads.jsonl" else data)
            for info, data in _members(folder / "database.tar.gz")
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_backup_is_refused_and_changes_nothing(
    case: str, original: Path, db: Database, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "crafted" / original.name
    shutil.copytree(original, folder)
    CRAFTED[case](folder)
    _sign(folder)
    before = domain_store_for(settings, db).snapshot(DEMO_APP, Stage.PRODUCTION)
    files_before = sorted(p.relative_to(settings.data_dir) for p in settings.data_dir.rglob("*") if p.is_file())

    with pytest.raises(ToucanError) as raised:
        restore_app(settings, db, folder)
    assert 400 <= raised.value.status < 500, raised.value.message

    after = domain_store_for(settings, db).snapshot(DEMO_APP, Stage.PRODUCTION)
    assert after == before
    files_after = sorted(
        p.relative_to(settings.data_dir)
        for p in settings.data_dir.rglob("*")
        if p.is_file() and "restore-" not in str(p)
    )
    assert files_after == files_before
    assert not Path("/tmp/escaped-absolute.txt").exists()
    assert not (settings.data_dir.parent / "escaped.txt").exists()
