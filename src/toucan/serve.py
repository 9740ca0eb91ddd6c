"""Running the stack: the embedded server (one process) and gunicorn for production."""

from __future__ import annotations

from typing import Any

import uvicorn
from gunicorn.app.base import BaseApplication

from toucan.app import create_embedded_app
from toucan.db.engine import Database
from toucan.settings import Settings


def serve_embedded(settings: Settings, db: Database) -> None:
    """The API under /_api and the frontend at /, on TOUCAN_HOST:TOUCAN_PORT."""
    app = create_embedded_app(settings, db)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
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


def serve_production(settings: Settings) -> None:
    """Gunicorn with TOUCAN_GUNICORN_WORKERS uvicorn workers; the API at the root."""
    _Gunicorn(
        {
            "bind": f"{settings.host}:{settings.port}",
            "workers": settings.gunicorn_workers,
            "worker_class": "uvicorn_worker.UvicornWorker",
            "loglevel": settings.log_level.lower(),
            "timeout": 120,
            "graceful_timeout": 30,
            "accesslog": "-",
        }
    ).run()
