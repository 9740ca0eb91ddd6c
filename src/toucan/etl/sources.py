"""Uploaded data-source files: checked, then stored under `<data dir>/sources/<app>/`.

A new upload of a file name is read in full first (with the options the staging etl_config
gives that file); only a readable file replaces the previous one, in one transaction. Chunked
uploads append to a session file and are checked the same way when complete.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from toucan.apps.configs import ConfigKind, Stage, read_config
from toucan.data.engine import duckdb_config
from toucan.db.engine import Database
from toucan.db.etl_models import DataSourceFile, UploadSession
from toucan.errors import Conflict, ErrorCode, NotFound, PayloadTooLarge, ValidationError
from toucan.etl.readers import DEFAULT_MAX_CELLS, FileOptions, check_readable, parse_options

MAX_FILENAME = 255
CHUNK = 1 << 20


def check_filename(name: Any) -> str:
    if (
        not isinstance(name, str)
        or not name
        or len(name.encode()) > MAX_FILENAME
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or any(ord(c) < 32 for c in name)
    ):
        raise ValidationError(
            f"Invalid file name {name!r}: 1 to {MAX_FILENAME} bytes, no '/' or '\\' or control characters.",
            details={"field": "data.filename"},
        )
    return name


@dataclass(frozen=True)
class SourceFileInfo:
    filename: str
    size: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str | None
    rows: int | None = None

    def as_json(self) -> dict[str, Any]:
        out = {
            "filename": self.filename,
            "size": self.size,
            "sha256": self.sha256,
            "uploaded_at": self.uploaded_at.isoformat(),
            "uploaded_by": self.uploaded_by,
        }
        if self.rows is not None:
            out["rows"] = self.rows
        return out


class SourceFiles:
    def __init__(
        self,
        db: Database,
        data_dir: Path,
        max_bytes: int,
        memory_mb: int | None = None,
        *,
        max_cells: int = DEFAULT_MAX_CELLS,
    ) -> None:
        self.db = db
        self.root = data_dir / "sources"
        self.uploads = data_dir / "tmp" / "uploads"
        self.max_bytes = max_bytes
        self.max_cells = max_cells  # of an Excel sheet (TOUCAN_UPLOAD_MAX_CELLS)
        self.memory_mb = memory_mb
        self.temp_dir = data_dir / "tmp" / "duckdb"

    def app_dir(self, app_id: str) -> Path:
        return self.root / app_id

    # --- reading -------------------------------------------------------------------------

    def list(self, app_id: str) -> list[SourceFileInfo]:
        with self.db.readonly_session() as session:
            rows = session.scalars(
                select(DataSourceFile).where(DataSourceFile.app_id == app_id).order_by(DataSourceFile.filename)
            ).all()
            return [_info(row) for row in rows]

    def path_of(self, app_id: str, filename: str) -> Path | None:
        with self.db.readonly_session() as session:
            row = session.get(DataSourceFile, (app_id, filename))
            return self.app_dir(app_id) / row.stored_as if row is not None else None

    def options_for(self, app_id: str, filename: str) -> FileOptions:
        """The reading options that staging's etl_config gives this file (defaults otherwise)."""
        with self.db.readonly_session() as session:
            etl = read_config(session, app_id, Stage.STAGING, ConfigKind.ETL)
        for index, source in enumerate(etl.get("DATA_SOURCES") or []):
            if isinstance(source, dict) and source.get("file") == filename:
                return parse_options(source, f"etl_config DATA_SOURCES[{index}]")
        return FileOptions()

    # --- writing -------------------------------------------------------------------------

    def save(self, app_id: str, filename: str, stream: IO[bytes], *, author: str | None) -> SourceFileInfo:
        """Store an uploaded file (a readable stream) after checking that it parses."""
        check_filename(filename)
        directory = self.app_dir(app_id)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{uuid.uuid4().hex}.upload"
        digest = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PayloadTooLarge(
                            f"The file is larger than TOUCAN_UPLOAD_MAX_BYTES ({self.max_bytes} bytes).",
                            details={"limit": self.max_bytes},
                        )
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            return self._install(app_id, filename, tmp, size, digest.hexdigest(), author)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, app_id: str, filename: str) -> None:
        with self.db.session() as session:
            row = session.get(DataSourceFile, (app_id, filename))
            if row is None:
                raise NotFound(f"No uploaded file {filename!r} in {app_id!r}.", details={"filename": filename})
            stored = row.stored_as
            session.delete(row)
        (self.app_dir(app_id) / stored).unlink(missing_ok=True)

    def _install(
        self, app_id: str, filename: str, tmp: Path, size: int, sha256: str, author: str | None
    ) -> SourceFileInfo:
        options = self.options_for(app_id, filename)
        import duckdb

        conn = duckdb.connect(":memory:", config=duckdb_config(self.memory_mb, self.temp_dir))
        try:
            rows = check_readable(conn, tmp, filename, options, max_cells=self.max_cells)
        finally:
            conn.close()
        stored_as = f"{uuid.uuid4().hex}{Path(filename).suffix.lower()[:16]}"
        # A chunked upload may be the app's first file: its folder may not exist yet.
        self.app_dir(app_id).mkdir(parents=True, exist_ok=True)
        final = self.app_dir(app_id) / stored_as
        # Under its final name before the row names it (a reader never finds a row without its
        # file), and removed again unless the row is committed: no file is left that no row names.
        os.replace(tmp, final)
        try:
            with self.db.session() as session:
                previous = self._point_to(session, app_id, filename, stored_as, size, sha256, author)
                row = session.get(DataSourceFile, (app_id, filename))
                assert row is not None
                info = _info(row, rows)
        except IntegrityError:
            final.unlink(missing_ok=True)
            raise self._conflict(filename) from None
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        if previous:
            (self.app_dir(app_id) / previous).unlink(missing_ok=True)
        return info

    def _point_to(
        self, session: Session, app_id: str, filename: str, stored_as: str, size: int, sha256: str, author: str | None
    ) -> str | None:
        """Make the row of `filename` name `stored_as`; returns the file it named before.

        Compare-and-set: the row must still name the file it named when this upload began to
        be stored. When another upload of the same name got there first (its insert, or its
        update, committed in between), this one is refused with 409 and stores nothing.
        """
        now = datetime.now(UTC)
        previous = session.scalar(
            select(DataSourceFile.stored_as).where(DataSourceFile.app_id == app_id, DataSourceFile.filename == filename)
        )
        values = {"stored_as": stored_as, "size": size, "sha256": sha256, "uploaded_at": now, "uploaded_by": author}
        if previous is None:
            # Two first uploads of a name: the primary key lets one insert win, the other
            # gets an IntegrityError (once the winner commits, on both databases).
            session.execute(insert(DataSourceFile).values(app_id=app_id, filename=filename, **values))
            return None
        updated = session.execute(
            update(DataSourceFile)
            .where(
                DataSourceFile.app_id == app_id,
                DataSourceFile.filename == filename,
                DataSourceFile.stored_as == previous,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if updated.rowcount != 1:  # type: ignore[attr-defined]
            raise self._conflict(filename)
        return previous

    @staticmethod
    def _conflict(filename: str) -> Conflict:
        return Conflict(
            f"Another upload of {filename!r} was stored while this one was being checked; this one was not kept. "
            "Upload it again to replace the other one.",
            details={"filename": filename},
            code=ErrorCode.UPLOAD_CONFLICT,
        )

    # --- chunked uploads -----------------------------------------------------------------

    def start_upload(self, app_id: str, filename: str, size: int, *, author: str | None) -> dict[str, Any]:
        check_filename(filename)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValidationError("'size' is the file's length in bytes (an integer ≥ 0).", details={"field": "size"})
        if size > self.max_bytes:
            raise PayloadTooLarge(
                f"The file is larger than TOUCAN_UPLOAD_MAX_BYTES ({self.max_bytes} bytes).",
                details={"limit": self.max_bytes},
            )
        upload_id = str(uuid.uuid4())
        self.uploads.mkdir(parents=True, exist_ok=True)
        self._upload_path(upload_id).touch()
        with self.db.session() as session:
            session.add(UploadSession(id=upload_id, app_id=app_id, filename=filename, size=size, created_by=author))
        return {"id": upload_id, "filename": filename, "size": size, "offset": 0}

    def upload_state(self, app_id: str, upload_id: str) -> dict[str, Any]:
        with self.db.readonly_session() as session:
            row = self._session_row(session, app_id, upload_id)
            return {"id": row.id, "filename": row.filename, "size": row.size, "offset": row.received}

    def append(self, app_id: str, upload_id: str, offset: int, stream: IO[bytes]) -> dict[str, Any]:
        """Append a chunk at `offset`, which must be what the server has; returns the new offset."""
        with self.db.session() as session:
            row = self._session_row(session, app_id, upload_id)
            if offset != row.received:
                raise Conflict(
                    f"This chunk starts at byte {offset}, but the server has {row.received} bytes: send from there.",
                    details={"offset": row.received},
                    code=ErrorCode.OFFSET_MISMATCH,
                )
            path = self._upload_path(upload_id)
            written = 0
            # Truncate whatever a broken earlier chunk left past the recorded offset.
            with open(path, "r+b") as out:
                out.truncate(row.received)
                out.seek(row.received)
                while chunk := stream.read(CHUNK):
                    written += len(chunk)
                    if row.received + written > row.size:
                        out.truncate(row.received)
                        raise ValidationError(
                            f"The chunk goes past the declared size ({row.size} bytes).",
                            details={"size": row.size, "offset": row.received},
                        )
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            row.received += written
            row.updated_at = datetime.now(UTC)
            return {"id": row.id, "filename": row.filename, "size": row.size, "offset": row.received}

    def complete(self, app_id: str, upload_id: str, *, author: str | None) -> SourceFileInfo:
        with self.db.readonly_session() as session:
            row = self._session_row(session, app_id, upload_id)
            filename, size, received = row.filename, row.size, row.received
        if received != size:
            raise Conflict(
                f"The upload is incomplete: {received} of {size} bytes received.",
                details={"offset": received, "size": size},
                code=ErrorCode.UPLOAD_INCOMPLETE,
            )
        path = self._upload_path(upload_id)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        try:
            info = self._install(app_id, filename, path, size, digest.hexdigest(), author)
        except Conflict:
            self._drop_session(upload_id)  # its file went with the refused upload
            raise
        self._drop_session(upload_id)
        return info

    def cancel(self, app_id: str, upload_id: str) -> None:
        with self.db.readonly_session() as session:
            self._session_row(session, app_id, upload_id)
        self._drop_session(upload_id)

    def _drop_session(self, upload_id: str) -> None:
        with self.db.session() as session:
            row = session.get(UploadSession, upload_id)
            if row is not None:
                session.delete(row)
        self._upload_path(upload_id).unlink(missing_ok=True)

    def _session_row(self, session: Any, app_id: str, upload_id: str) -> UploadSession:
        row = session.get(UploadSession, upload_id)
        if row is None or row.app_id != app_id:
            raise NotFound(f"No upload {upload_id!r} in {app_id!r}.", details={"upload": upload_id})
        return row

    def _upload_path(self, upload_id: str) -> Path:
        return self.uploads / f"{uuid.UUID(upload_id).hex}.part"


def _info(row: DataSourceFile, rows: int | None = None) -> SourceFileInfo:
    return SourceFileInfo(row.filename, row.size, row.sha256, row.uploaded_at, row.uploaded_by, rows)
