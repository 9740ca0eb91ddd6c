"""The backup directory: its files, its manifest, and the checks made before anything is read.

    on-premise_backup-XXXXXXXX/
    ├── laputa_version     the version of the backend that was backed up (its `GET /`)
    ├── database.tar.gz    the app's rows, one JSON Lines member per table
    ├── storage.tar.gz     the app's files: domains/<file>, sources/<file>
    └── manifest.json      format, app, schema revisions, and the size and SHA-256 of each file

Every file is written through a hashing writer (one pass, flat memory), and every file is
checked against the manifest before a restore reads anything from it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import secrets
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from toucan.backup.progress import Advance
from toucan.errors import Conflict, ErrorCode, ToucanError, ValidationError

FORMAT = 1
PREFIX = "on-premise_backup-"
VERSION_FILE = "laputa_version"
DATABASE_FILE = "database.tar.gz"
STORAGE_FILE = "storage.tar.gz"
MANIFEST_FILE = "manifest.json"
CHECKED_FILES = (VERSION_FILE, DATABASE_FILE, STORAGE_FILE)
CHUNK = 1024 * 1024
# Parquet and uploaded spreadsheets are compressed already: a fast level keeps a GB-sized
# storage quick to archive, for files barely larger than at level 9.
STORAGE_COMPRESSLEVEL = 1
# The only names a member of storage.tar.gz may have: one folder, one plain file name.
STORAGE_MEMBER = re.compile(r"^(domains|sources)/([A-Za-z0-9][A-Za-z0-9._-]{0,254})$")


class BackupCorrupted(ToucanError):
    """A file of the backup does not match its manifest, or its content is not what a backup holds."""

    status = 400

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message, details, code=ErrorCode.BACKUP_CORRUPTED)


class BackupTooNew(ToucanError):
    """Made by a newer version than this one (major version, schema or format)."""

    status = 409

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message, details, code=ErrorCode.BACKUP_TOO_NEW)


def _ignore(_: int) -> None:
    pass


def new_backup_dir(output: Path) -> Path:
    """A new `on-premise_backup-XXXXXXXX` folder in `output` (XXXXXXXX random)."""
    output.mkdir(parents=True, exist_ok=True)
    for _ in range(10):
        path = output / f"{PREFIX}{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise Conflict(f"Could not create a new backup folder in {output}.")  # pragma: no cover


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: str


class HashingWriter:
    """A binary file that counts and hashes what is written to it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()

    def result(self) -> FileDigest:
        return FileDigest(self.size, self.digest.hexdigest())


class ProgressReader:
    """A binary file that reports how many bytes were read from it."""

    def __init__(self, handle: IO[bytes], advance: Advance) -> None:
        self.handle = handle
        self.advance = advance

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.advance(len(data))
        return data


class TarWriter:
    """A `.tar.gz` written in one streaming pass, its size and SHA-256 taken as it is written."""

    def __init__(self, path: Path, compresslevel: int = 6) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._hashing = HashingWriter(self._file)
        self._tar = tarfile.open(fileobj=self._hashing, mode="w:gz", compresslevel=compresslevel)  # type: ignore[call-overload]  # noqa: SIM115

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        self._tar.addfile(info, io.BytesIO(data))

    def add_file(self, name: str, path: Path, advance: Advance = _ignore) -> None:
        info = tarfile.TarInfo(name)
        with open(path, "rb") as handle:
            info.size = path.stat().st_size
            info.mode = 0o644
            self._tar.addfile(info, ProgressReader(handle, advance))  # type: ignore[arg-type,unused-ignore]

    def close(self) -> FileDigest:
        self._tar.close()
        self._file.flush()
        self._file.close()
        return self._hashing.result()

    def abort(self) -> None:
        try:
            self._tar.close()
        finally:
            self._file.close()


def write_members(path: Path, members: dict[str, bytes]) -> FileDigest:
    """A small `.tar.gz` of in-memory members (rows); its size and SHA-256."""
    writer = TarWriter(path)
    try:
        for name, data in members.items():
            writer.add_bytes(name, data)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def digest_of(path: Path, advance: Advance = _ignore) -> FileDigest:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            advance(len(chunk))
    return FileDigest(size, digest.hexdigest())


@dataclass
class Manifest:
    """What `manifest.json` says. `files` holds the size and SHA-256 of each other file."""

    app: str
    name: str
    version: str
    schema: list[str]
    created_at: str
    files: dict[str, FileDigest] = field(default_factory=dict)
    contents: dict[str, Any] = field(default_factory=dict)
    # Names of the secrets the app had and of those its configs use: never their values.
    secrets: list[str] = field(default_factory=list)
    format: int = FORMAT
    kind: str = "small_app"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "kind": self.kind,
            "app": self.app,
            "name": self.name,
            "version": self.version,
            "schema": self.schema,
            "created_at": self.created_at,
            "files": {name: {"size": d.size, "sha256": d.sha256} for name, d in self.files.items()},
            "contents": self.contents,
            "secrets": self.secrets,
        }

    def write(self, directory: Path) -> None:
        (directory / MANIFEST_FILE).write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST_FILE
        if not directory.is_dir():
            raise ValidationError(f"{directory} is not a folder: give the on-premise_backup-XXXXXXXX folder.")
        if not path.is_file():
            raise ValidationError(
                f"{directory} has no {MANIFEST_FILE}: it is not a backup made by toucan_backup.",
                details={"file": MANIFEST_FILE},
            )
        try:
            raw = json.loads(path.read_text())
            if not isinstance(raw, dict):
                raise TypeError("not an object")
            files = {
                str(name): FileDigest(int(entry["size"]), str(entry["sha256"]))
                for name, entry in dict(raw["files"]).items()
            }
            return cls(
                app=str(raw["app"]),
                name=str(raw.get("name") or raw["app"]),
                version=str(raw["version"]),
                schema=[str(r) for r in raw["schema"]],
                created_at=str(raw.get("created_at", "")),
                files=files,
                contents=dict(raw.get("contents") or {}),
                secrets=[str(s) for s in raw.get("secrets") or []],
                format=int(raw["format"]),
                kind=str(raw.get("kind", "small_app")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupCorrupted(
                f"{path} is not a valid backup manifest ({type(exc).__name__}: {exc}).",
                details={"file": MANIFEST_FILE},
            ) from None


def _major(version: str) -> int | None:
    match = re.match(r"^v?(\d+)\.", version.strip())
    return int(match.group(1)) if match else None


def check_compatible(manifest: Manifest, *, kind: str, version: str, known_revisions: set[str]) -> None:
    """Refuse a backup made by a newer version: a newer archive format, a newer major version,
    or a database schema this version has no migration for. An older one is accepted: its rows
    are read with this version's columns (a column it lacks takes its default)."""
    if manifest.kind != kind:
        raise ValidationError(
            f"This is a backup of {'a whole instance' if manifest.kind == 'instance' else 'one small app'} "
            f"({manifest.kind}); restore it with the matching command.",
            details={"kind": manifest.kind, "expected": kind},
        )
    if manifest.format > FORMAT:
        raise BackupTooNew(
            f"The backup's format ({manifest.format}) is newer than this version reads ({FORMAT}): "
            f"it was made by {manifest.version}. Upgrade this stack first.",
            details={"format": manifest.format, "version": manifest.version},
        )
    theirs, ours = _major(manifest.version), _major(version)
    if theirs is not None and ours is not None and theirs > ours:
        raise BackupTooNew(
            f"The backup was made by version {manifest.version}, a newer major version than this one ({version}). "
            "Upgrade this stack first.",
            details={"version": manifest.version, "this_version": version},
        )
    unknown = sorted(set(manifest.schema) - known_revisions)
    if unknown:
        raise BackupTooNew(
            f"The backup's database schema ({', '.join(unknown)}) is newer than this version's ({version}): "
            "upgrade this stack first.",
            details={"revisions": unknown, "this_version": version},
        )


def verify(
    directory: Path, manifest: Manifest, advance: Advance = _ignore, names: tuple[str, ...] = CHECKED_FILES
) -> None:
    """Check every file against the manifest (size, then SHA-256) before anything is read."""
    for name in names:
        expected = manifest.files.get(name)
        path = directory / name
        if expected is None:
            raise BackupCorrupted(
                f"The manifest lists no checksum for {name}: the backup is incomplete.", details={"file": name}
            )
        if not path.is_file():
            raise BackupCorrupted(f"The backup has no {name}: it is incomplete.", details={"file": name})
        size = path.stat().st_size
        if size != expected.size:
            raise BackupCorrupted(
                f"{name} is {size} bytes where the manifest says {expected.size}: the backup is incomplete or "
                "corrupted, and nothing was restored.",
                details={"file": name, "size": size, "expected": expected.size},
            )
        actual = digest_of(path, advance)
        if actual.sha256 != expected.sha256:
            raise BackupCorrupted(
                f"The SHA-256 of {name} does not match the manifest: the backup is corrupted, "
                "and nothing was restored.",
                details={"file": name, "sha256": actual.sha256, "expected": expected.sha256},
            )


def read_members(path: Path) -> dict[str, bytes]:
    """Every regular member of a small `.tar.gz` (database.tar.gz), by name."""
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    members[member.name] = handle.read()
    except READ_ERRORS as exc:
        raise unreadable(path.name, exc) from None
    return members


def storage_members_of(handle: Any) -> Iterator[tuple[str, str, int, Any]]:
    """(folder, file name, size, stream) of each member of storage.tar.gz read from `handle`, in
    one streaming pass. Anything but a plain file under domains/ or sources/ is refused: a name
    never becomes a path outside the folder it is restored to."""
    try:
        with tarfile.open(fileobj=handle, mode="r|gz") as tar:
            for member in tar:
                match = STORAGE_MEMBER.match(member.name)
                if not member.isfile() or match is None:
                    raise BackupCorrupted(
                        f"{STORAGE_FILE} holds {member.name[:200]!r}, which a backup never holds: refused.",
                        details={"file": STORAGE_FILE, "member": member.name[:200]},
                    )
                stream = tar.extractfile(member)
                assert stream is not None
                yield match.group(1), match.group(2), member.size, _CheckedStream(stream)
    except READ_ERRORS as exc:
        raise unreadable(STORAGE_FILE, exc) from None


# What reading a damaged .tar.gz raises (while listing its members, or reading one).
READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


def unreadable(name: str, exc: BaseException) -> BackupCorrupted:
    return BackupCorrupted(
        f"{name} cannot be read: {exc}. The backup is damaged; nothing was restored.", details={"file": name}
    )


class _CheckedStream:
    """A member's content, read by the caller: a truncated or corrupted archive found while
    reading it is a BackupCorrupted too, not a bare tarfile error."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except READ_ERRORS as exc:
            raise unreadable(STORAGE_FILE, exc) from None
