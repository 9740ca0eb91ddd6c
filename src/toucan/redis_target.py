"""Where the stack's Redis is: one server (`redis://`), or a master found through Sentinel.

TOUCAN_REDIS_URL takes either form, so every Redis user (the result cache, the Celery broker,
`/ready`) asks this module for a client and never parses the URL itself:

- `redis://[:password@]host[:port][/db]` (or `rediss://`): one server;
- `redis+sentinel://[:password@]host[:port][,host[:port]...]/master_name[/db]`: the Sentinels
  to ask (port 26379 by default) for the current master of `master_name`. The password is
  the master's; Sentinels that require their own take TOUCAN_REDIS_SENTINEL_PASSWORD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    import redis

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379


class RedisUrlError(ValueError):
    """TOUCAN_REDIS_URL cannot be read; the message shows the expected form."""


@dataclass(frozen=True)
class SentinelTarget:
    """A master named `master_name`, found by asking `sentinels`."""

    sentinels: tuple[tuple[str, int], ...]
    master_name: str
    db: int = 0
    password: str | None = None


def is_sentinel_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() == SENTINEL_SCHEME


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The Sentinels, master name, database and password of a `redis+sentinel://` URL."""
    form = f"{SENTINEL_SCHEME}://[:password@]host[:port][,host[:port]...]/master_name[/db]"
    parts = urlsplit(url)
    if parts.scheme.lower() != SENTINEL_SCHEME:
        raise RedisUrlError(f"Not a Sentinel URL; expected {form}")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    password = unquote(userinfo.partition(":")[2]) if userinfo else None
    sentinels: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep:
            host, port = port, str(SENTINEL_PORT)
        if not host or not port.isdigit():
            raise RedisUrlError(f"Sentinel {item!r} is not host[:port]; expected {form}")
        sentinels.append((host.strip("[]"), int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise RedisUrlError(f"The path must be /master_name or /master_name/db; expected {form}")
    return SentinelTarget(tuple(sentinels), path[0], int(path[1]) if len(path) == 2 else 0, password or None)


def redis_client(
    url: str, sentinel_password: str | None = None, *, timeout: float = 1.0, **options: Any
) -> redis.Redis:
    """A client of the server `url` names; with Sentinel, of the current master (followed
    across failovers: a connection asks the Sentinels again when the master changes)."""
    import redis as redis_lib
    from redis.sentinel import Sentinel

    if not is_sentinel_url(url):
        return redis_lib.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout, **options)
    target = parse_sentinel_url(url)
    sentinel_options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if sentinel_password:
        sentinel_options["password"] = sentinel_password
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_options)
    return sentinel.master_for(
        target.master_name,
        db=target.db,
        password=target.password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        **options,
    )


def celery_broker(url: str, sentinel_password: str | None = None) -> tuple[str, dict[str, Any]]:
    """Kombu's broker URL for `url` and the transport options it needs (none for `redis://`).

    Kombu spells Sentinel as `sentinel://host:port;sentinel://host:port/db` with the master's
    name in the `master_name` transport option.
    """
    if not is_sentinel_url(url):
        return url, {}
    target = parse_sentinel_url(url)
    auth = f":{quote(target.password, safe='')}@" if target.password else ""
    broker = ";".join(f"sentinel://{auth}{host}:{port}/{target.db}" for host, port in target.sentinels)
    options: dict[str, Any] = {"master_name": target.master_name}
    if sentinel_password:
        options["sentinel_kwargs"] = {"password": sentinel_password}
    return broker, options
