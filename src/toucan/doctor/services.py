"""Checks of what the stack stands on: the metadata database (and its TLS), Redis, the data
directory (writable, and the same one every backend and worker use) and the job system."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from toucan.apps.secrets import secret_key_matches
from toucan.db.domain_models import DomainTable, StageHead
from toucan.db.engine import Database, make_engine
from toucan.db.etl_models import Job
from toucan.doctor.findings import Finding, fail, first_line, ok, skip, warn
from toucan.jobs import liveness
from toucan.settings import Settings

CONNECT_TIMEOUT = 5  # seconds: the doctor answers fast even when a host does not
LOW_DISK_BYTES = 1024**3


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT})
    return create_engine(url, poolclass=NullPool)


def _database_fix(message: str, setting: str) -> str:
    lowered = message.lower()
    if "certificate" in lowered or "ssl" in lowered or "sslrootcert" in lowered:
        return (
            f"TLS to the database failed: check `sslmode` and `sslrootcert` in {setting} (the CA file must be "
            "readable by this process and sign the server's certificate; `sslmode=verify-full` also checks the "
            "host name), and that the server has TLS on"
        )
    if "password authentication" in lowered or "authentication failed" in lowered:
        return f"the database refused the user or password in {setting}: fix them, or the server's pg_hba.conf"
    if "does not exist" in lowered:
        return f"create the database named in {setting} (`createdb NAME`), or fix its name in the URL"
    if "unable to open database file" in lowered:
        return f"the SQLite file's folder is not writable by this process: fix TOUCAN_DATA_DIR or {setting}"
    return (
        f"the database in {setting} cannot be reached: check its host and port, that it runs, and that no "
        "firewall stands between this host and it"
    )


def _ca_problem(url: str) -> Finding | None:
    """A `sslrootcert` that is missing, unreadable or no certificate, seen before connecting."""
    query = make_url(url).query
    raw = query.get("sslrootcert")
    path = raw[0] if isinstance(raw, tuple) else raw
    if not path or path == "system":
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return fail(
            "database",
            f"the CA file sslrootcert={path} cannot be read: {exc.strerror or exc}",
            "put the CA certificate that signed the database server's certificate at that path (readable by "
            "this process), or fix `sslrootcert` in TOUCAN_DATABASE_URL",
        )
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        return fail(
            "database",
            f"the CA file sslrootcert={path} holds no PEM certificate",
            "sslrootcert must be a PEM file (`-----BEGIN CERTIFICATE-----`) of the CA; convert a DER one with "
            "`openssl x509 -inform der -in ca.der -out ca.crt`",
        )
    expired = [c for c in certs if c.not_valid_after_utc < datetime.now(UTC)]
    if expired and len(expired) == len(certs):
        return fail(
            "database",
            f"the CA certificate in {path} expired on {expired[0].not_valid_after_utc:%Y-%m-%d}",
            "replace it with the CA's current certificate",
        )
    return None


def _sqlite_missing(name: str, url: str) -> Finding | None:
    """A SQLite file that does not exist yet (connecting would create an empty one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if Path(parsed.database).exists():
        return None
    return fail(
        name,
        f"no database file at {parsed.database}",
        "start the stack once or run `toucan-ctl migrate` (with the same TOUCAN_DATA_DIR), or fix "
        "TOUCAN_DATA_DIR / TOUCAN_DATABASE_URL to point at the existing one",
    )


def _tls_state(conn: Any, url: str) -> tuple[str, Finding | None]:
    """How the connection is protected (PostgreSQL), and a warning when it is weaker than it should be."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return "", None
    row = conn.execute(text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).first()
    on = bool(row and row[0])
    mode = parsed.query.get("sslmode")
    mode = mode[0] if isinstance(mode, tuple) else mode
    host = parsed.host or ""
    local = host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")
    if not on:
        if local:
            return "; TLS off (local connection)", None
        return "; TLS off", warn(
            "database-tls",
            f"the connection to {host} is not encrypted",
            "add `?sslmode=verify-full&sslrootcert=/path/to/ca.crt` to TOUCAN_DATABASE_URL (the server needs TLS on)",
        )
    if mode not in ("verify-full", "verify-ca"):
        return f"; TLS on ({row[1]})", warn(
            "database-tls",
            f"TLS is on but sslmode={mode or 'prefer'} does not check the server's certificate",
            "use `sslmode=verify-full&sslrootcert=/path/to/ca.crt` in TOUCAN_DATABASE_URL",
        )
    return f"; TLS on ({row[1]}, {mode})", None


def check_database(settings: Settings) -> list[Finding]:
    """Connect to the metadata database (and its read-only URL), with TLS and migrations checked."""
    findings: list[Finding] = []
    urls = [("TOUCAN_DATABASE_URL", settings.resolved_database_url)]
    if settings.resolved_readonly_url != settings.resolved_database_url:
        urls.append(("TOUCAN_DATABASE_READONLY_URL", settings.resolved_readonly_url))
    for setting, url in urls:
        name = "database" if setting == "TOUCAN_DATABASE_URL" else "database-readonly"
        problem = _ca_problem(url) or _sqlite_missing(name, url)
        if problem is not None:
            findings.append(problem)
            continue
        engine = _engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                tls, tls_warning = _tls_state(conn, url)
        except Exception as exc:
            message = first_line(exc)
            findings.append(fail(name, f"{_shown(url)}: {message}", _database_fix(message, setting)))
            continue
        finally:
            engine.dispose()
        findings.append(ok(name, f"{_shown(url)} answers{tls}"))
        if tls_warning is not None:
            findings.append(tls_warning)
    if findings and findings[0].check == "database" and findings[0].verdict == "ok":
        findings.append(check_migrations(settings))
    return findings


def check_migrations(settings: Settings) -> Finding:
    """The database's schema is at this version's migrations."""
    from toucan.db.migrate import current_revisions, head_revisions, known_revisions

    engine = _engine(settings.resolved_database_url)
    try:
        current, heads = current_revisions(engine), head_revisions()
    except Exception as exc:
        return fail("migrations", first_line(exc), "run `toucan-ctl migrate`")
    finally:
        engine.dispose()
    if current == heads:
        return ok("migrations", f"schema at {', '.join(sorted(heads))}")
    if not current:
        return fail(
            "migrations", "the database has no schema yet", "run `toucan-ctl migrate` (or start the stack once)"
        )
    shown = f"schema at {', '.join(sorted(current))}, this version expects {', '.join(sorted(heads))}"
    if not current <= known_revisions():
        return fail(
            "migrations",
            f"{shown}: a newer version migrated the database",
            "upgrade this host to the version the other backends and workers run",
        )
    return fail("migrations", shown, "run `toucan-ctl migrate` (upgrade every backend and worker together)")


def check_redis(settings: Settings) -> Finding:
    """Ping TOUCAN_REDIS_URL, with short timeouts."""
    if not settings.redis_url:
        return skip(
            "redis",
            "TOUCAN_REDIS_URL is not set: each process caches alone and jobs go through a broker in the data dir",
            "set TOUCAN_REDIS_URL when several backends or workers run",
        )
    import redis

    shown = _redis_shown(settings.redis_url)
    try:
        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
        )
        try:
            client.ping()
            info = client.info("server")
        finally:
            client.close()
    except redis.AuthenticationError as exc:
        return fail(
            "redis",
            f"{shown}: {first_line(exc)}",
            "fix the password in TOUCAN_REDIS_URL (`redis://:PASSWORD@host:6379/0`)",
        )
    except Exception as exc:
        hint = ""
        if isinstance(exc, redis.ConnectionError) and "ssl" in str(exc).lower():
            hint = " (for TLS use `rediss://`, and `?ssl_ca_certs=/path/ca.crt` for a private CA)"
        return fail(
            "redis",
            f"{shown}: {first_line(exc)}",
            f"start Redis or fix the host and port in TOUCAN_REDIS_URL{hint}",
        )
    return ok("redis", f"{shown} answers (Redis {info.get('redis_version', '?')})")


def _redis_shown(url: str) -> str:
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, _credentials = head.partition("://")
    return f"{scheme}://***@{tail}"


def check_storage(settings: Settings) -> Finding:
    """The data dir can be written (a file made, written, synced and removed), with some room left."""
    directory = settings.data_dir.resolve()
    if not directory.is_dir():
        return fail(
            "storage",
            f"{directory} does not exist",
            "fix TOUCAN_DATA_DIR, or mount the data volume there (the stack creates the folder at its first start)",
        )
    try:
        fd, path = tempfile.mkstemp(prefix=".doctor-", dir=directory)
        try:
            os.write(fd, b"toucan doctor")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(path)
    except OSError as exc:
        return fail(
            "storage",
            f"{directory} cannot be written: {exc.strerror or exc}",
            f"give the user running the stack (uid {os.getuid()}) write access to TOUCAN_DATA_DIR, or point "
            "TOUCAN_DATA_DIR at a writable volume",
        )
    usage = shutil.disk_usage(directory)
    free = f"{usage.free / 1024**3:.1f} GiB free"
    if usage.free < LOW_DISK_BYTES:
        return warn("storage", f"{directory} is writable; {free}", "free space or grow the volume of TOUCAN_DATA_DIR")
    return ok("storage", f"{directory} is writable; {free}")


def _read_secret_key(settings: Settings) -> str | None:
    """The secret key without creating one (the doctor changes nothing)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def check_shared_storage(settings: Settings, db: Database) -> Finding:
    """This host's data dir is the one the database describes: its domain files are here and the
    secret key decrypts the stored secrets."""
    root = settings.data_dir / "domains"
    with db.readonly_session() as session:
        files = session.execute(
            select(StageHead.app_id, DomainTable.file).join(DomainTable, DomainTable.version_id == StageHead.version_id)
        ).all()
    missing = [f"{app}/{file}" for app, file in files if not (root / app / file).exists()]
    if missing:
        return fail(
            "shared-storage",
            f"{len(missing)} of {len(files)} data files the database names are not in {root} (first: {missing[0]})",
            "this host's TOUCAN_DATA_DIR is not the one the other backends and workers write: mount the same "
            "shared volume (NFS, EFS…) at TOUCAN_DATA_DIR everywhere",
        )
    key = _read_secret_key(settings)
    matches = secret_key_matches(db, key or "")
    if matches is False:
        return fail(
            "shared-storage",
            "this host's secret key does not decrypt the app secrets in the database"
            + ("" if key else " (it has none yet)"),
            "every backend and worker must use the same TOUCAN_SECRET_KEY (or the same `secret_key` file in "
            "a shared TOUCAN_DATA_DIR)",
        )
    seen = f"{len(files)} data files present" if files else "no data files yet"
    return ok(
        "shared-storage",
        f"{seen}; {'no app secrets yet' if matches is None else 'the secret key decrypts the app secrets'}",
    )


def check_jobs(settings: Settings, db: Database) -> Finding:
    """A worker consumes and the scheduler beats (the rows jobs/liveness.py keeps), and the queue moves."""
    report = liveness.status(db, settings.job_system_stale_after)
    with db.readonly_session() as session:
        queued, oldest = session.execute(
            select(func.count(), func.min(Job.created_at)).where(Job.state == "queued")
        ).one()
    waiting = f"{queued} job(s) queued"
    if oldest is not None:
        waiting += f", the oldest for {(datetime.now(UTC) - _aware(oldest)).total_seconds():.0f} s"
    if not report["ok"]:
        return fail(
            "jobs",
            f"{report['workers']} live worker(s); scheduler's last beat: {report['scheduler_beat_at'] or 'never'}; "
            f"{waiting}",
            report["error"],
        )
    return ok("jobs", f"{report['workers']} live worker(s); scheduler beat at {report['scheduler_beat_at']}; {waiting}")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def open_database(settings: Settings) -> Database:
    """The stack's database, for checks that read it (after check_database passed)."""
    engine = make_engine(settings.resolved_database_url)
    return Database(engine, engine)
