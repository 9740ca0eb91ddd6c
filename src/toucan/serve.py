"""Running the stack: the embedded server (one process) and gunicorn for production."""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from typing import Any

import uvicorn
from gunicorn.app.base import BaseApplication

from toucan.app import create_embedded_app
from toucan.db.engine import Database
from toucan.errors import Conflict
from toucan.metrics import MULTIPROCESS_ENV, process_gone, use_multiprocess
from toucan.settings import Settings


def serve_embedded(settings: Settings, db: Database) -> None:
    """The API under /_api and the frontend at /, on TOUCAN_HOST:TOUCAN_PORT."""
    app = create_embedded_app(settings, db)
    json_logs = settings.log_format == "json"
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # JSON: uvicorn's loggers go through the root handler (configure_logging), and the API
        # writes the access lines itself, with the request id.
        log_config=None if json_logs else uvicorn.config.LOGGING_CONFIG,
        access_log=not json_logs,
        proxy_headers=False,  # ForwardedMiddleware handles them, with TOUCAN_FORWARDED_ALLOW_IPS
        server_header=False,
    )


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from toucan.app import create_production_app

        return create_production_app()


def check_port_free(host: str, port: int) -> None:
    """Refuse to start when something listens on the port already.

    Workers bind the port each with SO_REUSEPORT (below), which would let a second server
    on the same port share its connections silently. A plain bind fails on any listener.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as gunicorn binds
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no listener
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return  # gunicorn reports other errors (a privileged port, an unknown address)
            raise Conflict(
                f"Cannot listen on {host}:{port}: the address is in use. Is another server running "
                "there? Stop it or set TOUCAN_PORT.",
                details={"host": host, "port": port},
            ) from None


def _worker_exited(_server: Any, worker: Any) -> None:
    process_gone(worker.pid)


def _json_log_config(level: str) -> dict[str, Any]:
    """Gunicorn's own lines (master and workers) as JSON too."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    logger = {"level": level.upper(), "handlers": ["console"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "toucan.logs.JsonFormatter"}},
        "handlers": {"console": handler},
        "root": {"level": level.upper(), "handlers": ["console"]},
        "loggers": {"gunicorn.error": logger, "gunicorn.access": logger},
    }


def serve_production(settings: Settings) -> None:
    """Gunicorn with TOUCAN_GUNICORN_WORKERS uvicorn workers; the API at the root."""
    check_port_free(settings.host, settings.port)
    # The workers' metrics add up in files of this folder (prometheus-client's multiprocess
    # mode): local to this host, emptied at each start. An operator may choose it.
    use_multiprocess(os.environ.get(MULTIPROCESS_ENV) or tempfile.mkdtemp(prefix="toucan-metrics-"))
    json_logs = settings.log_format == "json"
    _Gunicorn(
        {
            "bind": f"{settings.host}:{settings.port}",
            "workers": settings.gunicorn_workers,
            "worker_class": "uvicorn_worker.UvicornWorker",
            "loglevel": settings.log_level.lower(),
            "timeout": 120,
            "graceful_timeout": 30,
            # JSON: the API writes the access lines itself, with the request id.
            "accesslog": None if json_logs else "-",
            "child_exit": _worker_exited,
            **({"logconfig_dict": _json_log_config(settings.log_level)} if json_logs else {}),
            # Each worker listens on its own socket and the kernel spreads new connections
            # over them. On one shared socket, the first worker to wake accepts every
            # pending connection: a proxy's few keep-alive connections, or a load test's,
            # often all landed on one worker, which left the other cores idle (measured:
            # 1,700 instead of 3,400 cached requests/s on 2 cores, one run in four).
            "reuse_port": True,
        }
    ).run()
