"""A backup as one `.tar`: written and read back in one streaming pass, memory flat whatever
the size of the backup's files, readable by `tar` itself."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from toucan.backup import archive, tarball

BIG = 48 * 1024 * 1024
FLAT = 8 * 1024 * 1024  # chunks are 1 MiB: a few of them at once, never the file


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A backup folder whose storage is larger than the memory the stream may use."""
    directory = tmp_path / "made" / f"{archive.PREFIX}0a1b2c3d"
    directory.mkdir(parents=True)
    (directory / archive.VERSION_FILE).write_text("1.0.0\n")
    (directory / archive.MANIFEST_FILE).write_text("{}\n")
    (directory / archive.DATABASE_FILE).write_bytes(os.urandom(1000))
    with open(directory / archive.STORAGE_FILE, "wb") as out:
        for _ in range(BIG // (1024 * 1024)):
            out.write(os.urandom(1024 * 1024))
        out.write(b"tail")
    return directory


class _Pipe:
    """The stream as a reader would get it from the network: chunk by chunk, never whole."""

    def __init__(self, directory: Path) -> None:
        self._chunks = tarball.tar_stream(directory)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        data, self._buffer = (self._buffer, b"") if size < 0 else (self._buffer[:size], self._buffer[size:])
        return data


def test_the_stream_is_as_long_as_announced_and_tar_reads_it(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "backup.tar"
    with open(out, "wb") as handle:
        for chunk in tarball.tar_stream(folder):
            handle.write(chunk)
    assert out.stat().st_size == tarball.tar_size(folder)
    assert out.stat().st_size % tarfile.RECORDSIZE == 0
    listed = subprocess.run(["tar", "tf", str(out)], capture_output=True, text=True, check=True).stdout.split()
    assert listed == [f"{folder.name}/"] + [f"{folder.name}/{name}" for name in tarball.MEMBERS]
    unpacked = tmp_path / "by-tar"
    unpacked.mkdir()
    subprocess.run(["tar", "xf", str(out)], cwd=unpacked, check=True)
    for name in tarball.MEMBERS:
        assert (unpacked / folder.name / name).read_bytes() == (folder / name).read_bytes()


def test_writing_and_reading_back_keep_memory_flat(folder: Path, tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        written = sum(len(chunk) for chunk in tarball.tar_stream(folder))
        _, streamed = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        back = tarball.unpack(_Pipe(folder), tmp_path / "back")
        _, unpacked = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written > BIG
    assert streamed < FLAT, f"writing the .tar held {streamed:,} bytes at once"
    assert unpacked < FLAT, f"reading the .tar held {unpacked:,} bytes at once"
    assert back.name == folder.name
    assert archive.digest_of(back / archive.STORAGE_FILE) == archive.digest_of(folder / archive.STORAGE_FILE)


def test_a_tar_gz_made_by_hand_is_read_too(folder: Path, tmp_path: Path) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as tar:
        tar.add(folder, arcname=f"./{folder.name}")
    out.seek(0)
    back = tarball.unpack(out, tmp_path / "back")
    assert (back / archive.VERSION_FILE).read_text() == "1.0.0\n"
