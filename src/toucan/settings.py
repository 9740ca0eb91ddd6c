"""Every `TOUCAN_*` environment variable, declared once.

`docs/configuration.md` is generated from this class (`make docs`, or
`python -m toucan.settings_doc`); a test fails when the two disagree.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from toucan.redis_target import is_sentinel_url, parse_sentinel_url
from toucan.security_headers import check_frame_ancestors

# Settings of the stack this one replaces, with the setting that takes over their job.
REPLACED_SETTINGS = {
    "mongodb_host": "TOUCAN_DATABASE_URL",
    "mongodb_readonly_host": "TOUCAN_DATABASE_READONLY_URL",
}


class ReplacedSettingError(ValueError):
    """A setting of the MongoDB-based stack was given; the message names its replacement."""


def _json_list(value: Any) -> Any:
    """Accept the FAQ's JSON-list form (`'["a", "b"]'`) and plain comma-separated text."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """The stack's configuration; defaults give the embedded stack with nothing else installed."""

    model_config = SettingsConfigDict(env_prefix="TOUCAN_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path("./var"),
        description="Directory for the stack's state: SQLite database (by default), "
        "uploads, domains as Parquet, screenshots, the generated secret key. "
        "Shared filesystem when several backends run.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata database. Unset: a SQLite file "
        "`toucan.sqlite` in the data dir. PostgreSQL: `postgresql+psycopg://user:pw@host/db` "
        "(TLS with a private CA: add `?sslmode=verify-full&sslrootcert=/etc/ssl/myCA.crt`). "
        "Replaces the FAQ's TOUCAN_MONGODB_HOST.",
    )
    database_readonly_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL used for reads that never write (e.g. a read replica "
        "or a read-only role). Defaults to TOUCAN_DATABASE_URL. Replaces the FAQ's "
        "TOUCAN_MONGODB_READONLY_HOST.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL (`redis://host:6379/0`) for the cache and the Celery broker. "
        "Through Redis Sentinel: `redis+sentinel://[:password@]host1:26379,host2:26379,"
        "host3:26379/master_name[/db]` (the password is the master's). "
        "Unset: embedded fallbacks (in-process cache, broker under the data dir).",
    )
    redis_sentinel_password: str | None = Field(
        default=None,
        description="Password of the Sentinels named in a `redis+sentinel://` TOUCAN_REDIS_URL, when "
        "they require one (`requirepass` in sentinel.conf). Never logged nor returned.",
        repr=False,
    )
    secret_key: str | None = Field(
        default=None,
        description="Secret used to derive encryption keys. Unset: generated once and kept "
        "in `<data dir>/secret_key`. All backends of one stack must share it.",
    )
    host: str = Field(default="127.0.0.1", description="Address `toucan-ctl serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `toucan-ctl serve` binds.")
    gunicorn_workers: int = Field(
        default=5,
        ge=1,
        description="Number of gunicorn workers of `toucan-ctl serve --production` (recommended: 2 x CPU + 1).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser when the frontend is "
        "served from another domain, as a JSON list: `'[\"https://toucan.example.com\"]'`.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Comma-separated addresses or networks (`10.0.0.0/8`) of reverse proxies trusted for the "
        "X-Forwarded-For/-Proto/-Host/-Prefix headers. `*` trusts every peer: only when nothing but "
        "proxies that overwrite X-Forwarded-For can reach the backend.",
    )
    frame_ancestors: str = Field(
        default="'self'",
        description="Who may show the web app in a frame (CSP `frame-ancestors` of the embedded stack's pages), "
        "space-separated: `'self'`, `'none'`, or origins such as `'self' https://intranet.example.com` to embed "
        "stories in other sites. The API is never framed.",
    )
    super_admin_username: str = Field(
        default="admin", description="Username of the super admin created at first start."
    )
    super_admin_password: str | None = Field(
        default=None,
        description="Password of the super admin created at first start. Unset: one is generated and printed once.",
    )
    token_ttl_hours: int = Field(default=24 * 7, ge=1, description="Lifetime of a login token, in hours.")
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed logins for one username from one client address within a minute before further "
        "attempts of that username from that address answer 429 (other addresses are not concerned).",
    )
    login_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed logins from one client address within a minute, whatever the usernames, before "
        "further attempts from that address answer 429. The address comes from X-Forwarded-For only "
        "through the proxies of TOUCAN_FORWARDED_ALLOW_IPS.",
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted other than uploads (JSON, configs in CSON, augment.py), in "
        "bytes; a larger one is refused with 413 as it streams, with or without a Content-Length.",
    )
    max_nesting_depth: int = Field(
        default=64,
        ge=8,
        le=200,
        description="Most levels of objects and lists in a document a client sends: JSON request bodies, configs "
        "(JSON or CSON), data requests and their conditions. Deeper ones are refused with 400 naming the path.",
    )
    query_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a data query may run before it is interrupted and answered 504.",
    )
    data_max_rows: int = Field(
        default=100_000,
        ge=1,
        description="Most rows one data request returns; more are cut and flagged `truncated`.",
    )
    export_max_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="Most rows a chart's CSV or Excel download holds (an Excel sheet holds 1,048,575 at most); "
        "the answer's `X-Toucan-Truncated: true` header says when rows were left out.",
    )
    query_workers: int = Field(
        default=4,
        ge=1,
        description="Data queries one backend process runs at once (off the event loop); "
        "others wait their turn without blocking the process.",
    )
    duckdb_memory_mb: int = Field(
        default=256,
        ge=64,
        description="Memory one backend process lets DuckDB use for queries and for loading data, "
        "in MB; bigger work spills to `<data dir>/tmp`.",
    )
    cache_max_mb: int = Field(
        default=256,
        ge=0,
        description="Size of each process's result cache, in MB (0 turns it off); with TOUCAN_REDIS_URL it sits "
        "in front of Redis's, which every process shares.",
    )
    cache_ttl_seconds: int = Field(
        default=24 * 3600,
        ge=1,
        description="Lifetime of a cached data result. New data gets new cache keys, so this "
        "only bounds memory, never staleness.",
    )
    upload_max_bytes: int = Field(
        default=2 * 1024**3,
        ge=1024,
        description="Largest data file accepted by an upload, in bytes.",
    )
    upload_max_cells: int = Field(
        default=20_000_000,
        ge=1000,
        description="Most cells an Excel sheet may have, counted as the rows times the columns of the table it "
        "makes (its declared size first, then as it streams) and as the cells its XML holds. A larger sheet is "
        "refused with 413 before it fills memory.",
    )
    extra_connectors: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Connector extras installed at start (idempotent), as a JSON list: "
        '`\'["azure_mssql", "oracle"]\'`. Same as `toucan-ctl install_connectors NAME...`.',
    )
    connectors_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts or networks (`127.0.0.1`, `10.0.0.0/8`, `db.internal`) that HTTP connectors and "
        "URL sources may reach although they are loopback, link-local or private, and that database connectors "
        "may reach although they are loopback or link-local. Empty: URL sources reach public addresses only, "
        "databases public and private ones.",
    )
    old_augment_whitelist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Small apps allowed to keep the legacy `augment(dfs)` entry point, as a JSON list: "
        '`\'["small_app_1", "small_app_2"]\'`. Other apps write `PIPELINE` steps.',
    )
    job_time_limit: int = Field(
        default=3600,
        ge=1,
        description="Hard time limit of one background job (preprocess, release), in seconds.",
    )
    backup_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="Backups made through the API (`POST /{app}/backup`) are kept in `<data dir>/backups/` for "
        "this many hours after they are written, for their download; the worker's hourly garbage collection then "
        "removes them. Inputs of restores still queued or running are kept until they end.",
    )
    job_heartbeat_timeout: float = Field(
        default=30.0,
        gt=0,
        description="A running job whose worker sent no heartbeat for this many seconds is marked failed "
        "(its worker was killed); the previous data keeps serving.",
    )
    job_system_stale_after: float = Field(
        default=30.0,
        ge=1,
        description="A job worker or scheduler that gave no sign of life for this many seconds is down: "
        "`/ready` then answers 503 naming it, and `toucan-ctl serve` restarts its own.",
    )
    ready_checks_jobs: bool = Field(
        default=True,
        description="`/ready` also checks that a job worker is consuming and the scheduler beats. Set to "
        "false where `/ready` routes viewers' traffic and the API should stay in rotation while workers "
        "are down (jobs then wait in the queue).",
    )
    builder_code_timeout: float = Field(
        default=300.0,
        gt=0,
        description="Time limit of one `augment.py` function run, in seconds.",
    )
    builder_code_memory_mb: int = Field(
        default=2048,
        ge=64,
        description="Memory limit of the sandbox running one `augment.py` function, in MiB: the address space "
        "of its one process, and the memory of its cgroup where one can be made.",
    )
    builder_code_cpu_seconds: int | None = Field(
        default=None,
        ge=1,
        description="CPU time limit of one `augment.py` function run, in seconds. Unset: TOUCAN_BUILDER_CODE_TIMEOUT.",
    )
    builder_code_disk_mb: int = Field(
        default=1024,
        ge=1,
        description="Disk space `augment.py` code may write, in MiB: its scratch folder (a size-limited tmpfs "
        "in the sandbox, so it counts as memory too) and each file, its output included.",
    )
    builder_code_max_processes: int = Field(
        default=32,
        ge=8,
        description="Most tasks (processes and threads) the sandbox of one `augment.py` function may run at once, "
        "where a cgroup can be made. Without a cgroup, builder code cannot start processes at all.",
    )
    builder_code_sandbox: Literal["bwrap", "none"] = Field(
        default="bwrap",
        description="`bwrap`: `augment.py` functions run in a bubblewrap sandbox (no network, no file of the "
        "server, no other process); when none can be made they do not run. `none`: they run as plain child "
        "processes of the worker that can read what the worker reads — only where every builder is trusted.",
    )
    builder_code_bwrap: str = Field(
        default="bwrap",
        description="The bubblewrap program (a path, or a name looked up in PATH).",
    )
    builder_code_cgroup: str = Field(
        default="auto",
        description="Cgroup of each sandbox (memory and thread limits for all it runs): `auto` (cgroup v1 "
        "memory and pids hierarchies the worker may write, else cgroup v2 when the worker may enable those "
        "controllers), `none`, or the path of a delegated cgroup v2 directory.",
    )
    builder_code_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts (`api.example.com`, `*.example.com`) `augment.py` code may reach over HTTP(S), "
        "through a proxy the worker runs, as a JSON list. Empty: builder code has no network.",
    )
    connector_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Time limit of one connector request (live data, status checks), in seconds.",
    )
    embedded_worker: bool = Field(
        default=True,
        description="`toucan-ctl serve` (not `--production`) also starts a job worker and the scheduler. "
        "Set to false when workers run as separate processes.",
    )
    frontend_dir: Path | None = Field(
        default=None,
        description="Built frontend served at `/` by the embedded stack. Unset: "
        "`frontend/dist` of the source tree when it exists.",
    )
    screenshot_frontend_url: str | None = Field(
        default=None,
        description="The web app's address as job workers reach it, for screenshots and PDF exports "
        "(`https://toucan.example.com`). Unset: `http://TOUCAN_HOST:TOUCAN_PORT` (the embedded stack; a host "
        "of `0.0.0.0` means 127.0.0.1). The backend is reached at the address the web app's "
        "`scripts/tc-params.js` names.",
    )
    screenshot_browser: str | None = Field(
        default=None,
        description="The Chromium program screenshots run (a path or a name in PATH). Unset: "
        "`chromium-headless-shell`, else `chromium`.",
    )
    screenshot_concurrency: int = Field(
        default=2,
        ge=1,
        le=32,
        description="Most pages one job worker process captures at once (each in its own browser context "
        "of the worker's one warm browser).",
    )
    screenshot_timeout: float = Field(
        default=30.0,
        gt=0,
        description="How long a capture waits for its page to be ready (`.tc-slide__content, .tc-story` and "
        "`data-render-complete`), in seconds; then it fails with the partial screenshot and the page's errors.",
    )
    export_link_ttl_seconds: int = Field(
        default=3600,
        ge=10,
        description="Lifetime of the download link of a finished export (PNG or PDF), in seconds.",
    )
    export_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="Exports (PNG or PDF) are kept this many hours for their download; the worker's hourly "
        "garbage collection then removes them. Scheduled reports keep their PDFs until deleted.",
    )
    report_check_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often the scheduler looks for scheduled reports that are due, runs past their budget "
        "and retries, in seconds.",
    )
    report_retry_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A failed run of a scheduled report is tried again after this many seconds, then twice as "
        "long after each further failure, up to the report's `max_attempts`.",
    )
    log_level: str = Field(default="INFO", description="Log level of the backend.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: every log line of the backend, workers and scheduler is one JSON object (`time`, "
        "`level`, `logger`, `message`, and `request_id` for lines written while serving a request), and the API "
        "writes one access line per request with its id, status and duration. `text`: plain lines.",
    )
    slow_query_ms: int = Field(
        default=1000,
        ge=0,
        description="A data query running longer than this many milliseconds writes a warning line (logger "
        "`toucan.data.slow`: app, stage, duration, SQL) and counts in `toucan_data_slow_queries_total`. 0: never.",
    )
    metrics_enabled: bool = Field(
        default=True,
        description="Serve `GET /metrics` (Prometheus text format) on the API. False: it answers 404.",
    )
    metrics_token: str | None = Field(
        default=None,
        description="When set, `GET /metrics` needs `Authorization: Bearer <this token>` (401 otherwise). Unset: "
        "anyone who reaches the API may read it; metrics carry no app name, user or query, but keep them off the "
        "internet by setting a token or not routing `/metrics` through the public proxy.",
    )
    mongodb_host: str | None = Field(
        default=None,
        description="Not used: metadata lives in SQL (see docs/architecture.md). Setting it stops "
        "start-up with a message naming TOUCAN_DATABASE_URL.",
    )
    mongodb_readonly_host: str | None = Field(
        default=None,
        description="Not used: setting it stops start-up with a message naming TOUCAN_DATABASE_READONLY_URL.",
    )

    @field_validator(
        "cors_origins",
        "extra_connectors",
        "connectors_allowed_hosts",
        "old_augment_whitelist",
        "builder_code_allowed_hosts",
        mode="before",
    )
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        return _json_list(value)

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value and is_sentinel_url(value):
            parse_sentinel_url(value)  # a RedisUrlError names the expected form
        return value

    @field_validator("frame_ancestors")
    @classmethod
    def _check_frame_ancestors(cls, value: str) -> str:
        return check_frame_ancestors(value)

    @model_validator(mode="after")
    def _refuse_replaced_settings(self) -> Settings:
        for name, replacement in REPLACED_SETTINGS.items():
            if getattr(self, name):
                raise ReplacedSettingError(
                    f"TOUCAN_{name.upper()} is set, but this stack keeps its metadata in SQL, "
                    f"not MongoDB. Use {replacement} instead (for PostgreSQL over TLS with a "
                    "private CA: postgresql+psycopg://user:pw@host/db?sslmode=verify-full"
                    f"&sslrootcert=/etc/ssl/myCA.crt), then unset TOUCAN_{name.upper()}."
                )
        return self

    # Derived values -----------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        """The metadata database URL, defaulting to SQLite in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'toucan.sqlite').resolve()}"

    @property
    def resolved_readonly_url(self) -> str:
        return self.database_readonly_url or self.resolved_database_url

    def resolved_secret_key(self) -> str:
        """The secret key; when unset, read or create `<data dir>/secret_key` (mode 0600)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        tmp = path.with_name(f"secret_key.{secrets.token_hex(8)}.tmp")
        tmp.write_text(key)
        tmp.chmod(0o600)
        try:
            # link() fails if another process created the key first: keep theirs.
            path.hardlink_to(tmp)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_text().strip()

    def resolved_screenshot_frontend_url(self) -> str:
        """The web app's base URL as workers reach it (no trailing slash)."""
        if self.screenshot_frontend_url:
            return self.screenshot_frontend_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def resolved_frontend_dir(self) -> Path | None:
        if self.frontend_dir is not None:
            return self.frontend_dir
        candidate = Path(__file__).resolve().parents[2] / "frontend" / "dist"
        return candidate if candidate.is_dir() else None


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with keyword overrides (used by tests and the CLI)."""
    return Settings(**overrides)
