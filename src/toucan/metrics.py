"""The web processes' metrics for `GET /metrics` (Prometheus text format): request latency by
route, `/data` cache hits and misses, query time, slow queries (jobs/metrics.py adds the job
system's, read from the database).

They live in each web process. Under gunicorn (several processes) they are kept in files of
`PROMETHEUS_MULTIPROC_DIR`, which `toucan-ctl serve --production` sets, and any process's
`/metrics` sums them all. No label carries an app name, a user or a query: routes are their
templates (`/{app}/data`).
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from dataclasses import dataclass, field
from functools import cache

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "(unmatched)"  # 404s and answers given before routing: one label, whatever the path
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

log = logging.getLogger("toucan.data.slow")


@dataclass(frozen=True)
class _Metrics:
    registry: CollectorRegistry
    requests: Histogram
    cache: Counter
    queries: Histogram
    slow: Counter


@cache
def _metrics() -> _Metrics:
    """The process's metrics, made at first use (not at import: the multiprocess mode must be
    chosen first)."""
    registry = CollectorRegistry(auto_describe=True)
    return _Metrics(
        registry,
        Histogram(
            "toucan_http_request_duration_seconds",
            "Time to answer an API request, by method, route template and status.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        ),
        Counter(
            "toucan_data_cache_requests",
            "Data requests answered from the result cache (hit) or by running the query (miss).",
            ["result"],
            registry=registry,
        ),
        Histogram(
            "toucan_data_query_duration_seconds",
            "Time to run a data query (cache misses), in the query engine.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        ),
        Counter(
            "toucan_data_slow_queries",
            "Data queries slower than TOUCAN_SLOW_QUERY_MS.",
            registry=registry,
        ),
    )


@dataclass
class QueryObserver:
    """What the data service reports about each `/data` request: cache hit or miss, query time,
    and a log line for queries slower than `slow_ms` (0: none)."""

    slow_ms: int = 0
    _metrics: _Metrics = field(default_factory=_metrics, init=False, repr=False)

    def cache(self, hit: bool) -> None:
        self._metrics.cache.labels("hit" if hit else "miss").inc()

    def query(self, seconds: float, *, app_id: str, stage: str, sql: str) -> None:
        self._metrics.queries.observe(seconds)
        if self.slow_ms and seconds * 1000 >= self.slow_ms:
            self._metrics.slow.inc()
            log.warning(
                "slow query: %.0f ms on %s (%s)",
                seconds * 1000,
                app_id,
                stage,
                extra={"duration_ms": round(seconds * 1000, 1), "app": app_id, "stage": stage, "sql": sql[:2000]},
            )


def process_exposition() -> bytes:
    """This process's metrics in the text format; all processes' under gunicorn (multiprocess mode)."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    if not directory:
        return generate_latest(_metrics().registry)
    processes = CollectorRegistry()
    MultiProcessCollector(processes, path=directory)
    return generate_latest(processes)


def token_allows(expected: str | None, authorization: str | None) -> bool:
    """Whether the `Authorization` header carries TOUCAN_METRICS_TOKEN (always, when none is set)."""
    if not expected:
        return True
    scheme, _, value = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), expected.encode())


def use_multiprocess(directory: str) -> None:
    """Keep metrics in files of `directory`, shared by the gunicorn workers forked after this call.

    The directory is emptied (values of an earlier run would add up)."""
    from prometheus_client import values

    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.unlink(os.path.join(directory, name))
    os.environ[MULTIPROCESS_ENV] = directory
    values.ValueClass = values.get_value_class()  # in case prometheus_client was imported already
    _metrics.cache_clear()


def process_gone(pid: int) -> None:
    """A gunicorn worker exited: drop its live-only values (gauges) from the shared files."""
    if os.environ.get(MULTIPROCESS_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class RequestMetricsMiddleware:
    """Time each request and count it under its route template (`/{app}/data`), method and status.

    Put it innermost: the router writes the matched route into the scope it passes down."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests = _metrics().requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) if route is not None else None
            self.requests.labels(scope["method"], template or UNMATCHED, str(status)).observe(
                time.perf_counter() - started
            )
