"""A backup as one file, for HTTP: an uncompressed `.tar` holding the `on-premise_backup-XXXXXXXX/`
folder, so that `tar xf` gives what `toucan_restore` reads.

Written as a stream of bytes whose length is known in advance (the files are already
compressed; memory stays flat whatever their size). Read back member by member, refusing
anything a backup never holds — a link, a device, a name with `..` or an absolute path,
another folder or another file — before a byte of it is written.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from toucan.backup import archive
from toucan.errors import PayloadTooLarge

MEMBERS = (archive.VERSION_FILE, archive.MANIFEST_FILE, archive.DATABASE_FILE, archive.STORAGE_FILE)
# A whole instance's backup holds one small-app backup per app in apps/<app>/.
APPS = "apps"
INSTANCE = "instance"
APP = re.compile(r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$")
FOLDER = re.compile(rf"^{re.escape(archive.PREFIX)}[A-Za-z0-9]{{1,32}}$")
BLOCK = tarfile.BLOCKSIZE
# What the disk keeps free for the rest of the stack while a backup arrives.
DISK_MARGIN = 256 * 1024 * 1024


class Readable(Protocol):
    """What a backup is read from: a file, or a request body read by a worker thread."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class _Entry:
    header: bytes
    path: Path | None
    size: int


def _entries(directory: Path) -> list[_Entry]:
    def header(name: str, size: int, mtime: float, directory: bool = False) -> bytes:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
        info.mode = 0o755 if directory else 0o644
        info.size = size
        info.mtime = int(mtime)
        # PAX: a member above 8 GiB gets the extended header it needs; others stay plain ustar.
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    entries: list[_Entry] = []

    def add_folder(folder: Path, name: str) -> None:
        entries.append(_Entry(header(name + "/", 0, folder.stat().st_mtime, True), None, 0))
        # A backup's files in their usual order, then apps/ (an instance's).
        for path in sorted(folder.iterdir(), key=lambda p: (p.is_dir(), _order(p.name), p.name)):
            if path.is_dir():
                add_folder(path, f"{name}/{path.name}")
            else:
                stat = path.stat()
                entries.append(_Entry(header(f"{name}/{path.name}", stat.st_size, stat.st_mtime), path, stat.st_size))

    add_folder(directory, directory.name)
    return entries


def _order(name: str) -> int:
    return MEMBERS.index(name) if name in MEMBERS else len(MEMBERS)


def _padding(size: int, unit: int = BLOCK) -> int:
    return -size % unit


def tar_size(directory: Path) -> int:
    """The length in bytes of `tar_stream(directory)`."""
    body = sum(len(e.header) + e.size + _padding(e.size) for e in _entries(directory)) + 2 * BLOCK
    return body + _padding(body, tarfile.RECORDSIZE)


def tar_stream(directory: Path, chunk: int = archive.CHUNK) -> Iterator[bytes]:
    """The `.tar` of a backup folder, in chunks of at most `chunk` bytes read from disk as they go."""
    written = 0
    for entry in _entries(directory):
        yield entry.header
        written += len(entry.header)
        if entry.path is None:
            continue
        left = entry.size
        with open(entry.path, "rb") as handle:
            while left:
                data = handle.read(min(chunk, left))
                if not data:
                    raise OSError(f"{entry.path.name} became shorter while it was sent.")
                left -= len(data)
                written += len(data)
                yield data
        pad = _padding(entry.size)
        written += pad
        yield b"\0" * pad
    end = 2 * BLOCK
    yield b"\0" * (end + _padding(written + end, tarfile.RECORDSIZE))


def _refused(message: str, member: str) -> archive.BackupCorrupted:
    return archive.BackupCorrupted(
        f"{message} A backup's .tar holds one on-premise_backup-XXXXXXXX folder with {', '.join(MEMBERS)}, "
        "nothing else: refused, nothing was restored.",
        details={"member": member[:200]},
    )


def _member_path(member: tarfile.TarInfo) -> tuple[str, str | None]:
    """(folder, path inside it or None for the folder itself) of an acceptable member; raises
    otherwise. Inside the folder: a backup's files, and for a whole instance `apps/<app>/`
    folders holding an app's files."""
    name = member.name
    shown = repr(name[:200])
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise _refused(f"The upload holds {shown}, an absolute path.", name)
    parts = name.rstrip("/").split("/")
    if parts[0] == "." and len(parts) > 1:  # `tar cf - .` writes ./on-premise_backup-…/
        parts = parts[1:]
    if any(part in ("..", ".", "") for part in parts) or "\\" in name:
        raise _refused(f"The upload holds {shown}, a path that climbs out of its folder.", name)
    if member.issym() or member.islnk():
        raise _refused(f"The upload holds {shown}, a link.", name)
    if not FOLDER.match(parts[0]):
        raise _refused(f"The upload holds {shown}, outside an on-premise_backup-XXXXXXXX folder.", name)
    inside = parts[1:]
    is_folder = not inside or inside == [APPS] or (len(inside) == 2 and inside[0] == APPS and APP.match(inside[1]))
    is_file = (len(inside) == 1 and inside[0] in MEMBERS) or (
        len(inside) == 3 and inside[0] == APPS and APP.match(inside[1]) and inside[2] in MEMBERS
    )
    if is_folder:
        if not member.isdir():
            raise _refused(f"The upload holds {shown}, which is not a folder.", name)
        return parts[0], "/".join(inside) or None
    if not is_file:
        raise _refused(f"The upload holds {shown}, a file a backup never holds.", name)
    if not member.isreg():
        raise _refused(f"The upload holds {shown}, which is not a plain file.", name)
    return parts[0], "/".join(inside)


def unpack(stream: Readable, destination: Path) -> Path:
    """Read a backup's `.tar` (or `.tar.gz`) from `stream` into `destination`; returns the
    `on-premise_backup-XXXXXXXX` folder written there. Each member is checked before it is
    written; on any refusal the caller removes `destination`."""
    folder: str | None = None
    seen: set[str] = set()
    try:
        fileobj: Any = stream  # tarfile reads it with read() only
        with tarfile.open(fileobj=fileobj, mode="r|*") as tar:
            for member in tar:
                name, file = _member_path(member)
                if folder is not None and name != folder:
                    raise _refused(f"The upload holds a second folder, {name!r}, besides {folder!r}.", member.name)
                if folder is None:
                    folder = name
                    (destination / folder).mkdir(parents=True)
                if file is None:
                    continue
                if member.isdir():
                    (destination / folder / file).mkdir(parents=True, exist_ok=True)
                    continue
                if file in seen:
                    raise _refused(f"The upload holds {file} twice.", member.name)
                seen.add(file)
                free = shutil.disk_usage(destination).free
                if member.size > free - DISK_MARGIN:
                    raise PayloadTooLarge(
                        f"{file} is {member.size:,} bytes and the data dir's disk has {free:,} bytes free: "
                        "make room, then send the backup again.",
                        details={"member": member.name, "size": member.size, "free": free},
                    )
                source = tar.extractfile(member)
                assert source is not None  # a regular file
                (destination / folder / file).parent.mkdir(parents=True, exist_ok=True)
                with open(destination / folder / file, "xb") as out:
                    shutil.copyfileobj(source, out, archive.CHUNK)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise archive.BackupCorrupted(
            f"The upload is not a complete .tar file ({type(exc).__name__}: {str(exc)[:200]}): send the .tar "
            "the backup's download gave, whole.",
        ) from None
    if folder is None:
        raise archive.BackupCorrupted("The upload is an empty .tar: send the .tar the backup's download gave.")
    missing = _missing(destination / folder, seen)
    if missing:
        raise archive.BackupCorrupted(
            f"The upload lacks {', '.join(missing)}: it is not a whole backup. Send the .tar the backup's "
            "download gave.",
            details={"missing": missing},
        )
    return destination / folder


def _missing(directory: Path, seen: set[str]) -> list[str]:
    """The files a whole backup of its kind has and the upload lacks (an instance backup: its
    own files, and every file of each app its manifest lists — and no other app)."""
    top = [name for name in MEMBERS if name != archive.STORAGE_FILE]
    if archive.MANIFEST_FILE not in seen:
        return [archive.MANIFEST_FILE]
    manifest = _manifest(directory)
    kind = manifest.get("kind")
    apps = {path.split("/")[1] for path in seen if path.startswith(APPS + "/")}
    if kind != INSTANCE:
        if apps:
            raise _refused("The upload holds apps/ folders, which only a whole instance's backup has.", APPS)
        return [name for name in MEMBERS if name not in seen]
    if archive.STORAGE_FILE in seen:
        raise _refused(f"The upload holds {archive.STORAGE_FILE} beside a whole instance's apps.", archive.STORAGE_FILE)
    contents = manifest.get("contents")
    listed = (contents.get("apps") if isinstance(contents, dict) else None) or []
    if not isinstance(listed, list) or apps - {str(app) for app in listed}:
        raise _refused("The upload holds an app its manifest does not list.", APPS)
    wanted = top + [f"{APPS}/{app}/{name}" for app in listed for name in MEMBERS]
    return [name for name in wanted if name not in seen]


def _manifest(directory: Path) -> dict[str, Any]:
    """The manifest as JSON, for its kind and apps only (read_backup checks it whole later)."""
    try:
        raw = json.loads((directory / archive.MANIFEST_FILE).read_text())
    except (ValueError, UnicodeDecodeError):
        raise _refused(f"{archive.MANIFEST_FILE} is not JSON.", archive.MANIFEST_FILE) from None
    return raw if isinstance(raw, dict) else {}
