"""Result cache: an in-process LRU bounded in bytes, in front of Redis when configured.

Keys include the domain version, so new data means new keys and a stale read is
impossible. A failing cache is skipped (logged), never an error for the request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from typing import Any, Generic, Protocol, TypeVar

from toucan.redis_target import redis_client

log = logging.getLogger("toucan.cache")


def cache_key(*parts: Any) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return "toucan:data:" + hashlib.sha256(raw.encode()).hexdigest()


class ResultCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes) -> None: ...


class NoCache:
    def get(self, key: str) -> bytes | None:
        return None

    def set(self, key: str, value: bytes) -> None:
        return None


class MemoryCache:
    """A thread-safe LRU of byte strings, at most `max_bytes` in total."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def set(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes // 4:  # one huge result must not flush everything
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes and self._items:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)

    @property
    def size(self) -> int:
        return self._size


K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A thread-safe LRU of at most `max_items` Python objects (per process, never shared)."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def set(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class RedisCache:
    """Redis shared by every process; `url` is `redis://` or `redis+sentinel://` (the client
    then follows the master across a failover)."""

    def __init__(
        self,
        url: str,
        ttl_seconds: int,
        max_value_bytes: int = 64 * 1024 * 1024,
        sentinel_password: str | None = None,
    ) -> None:
        self._client = redis_client(url, sentinel_password, timeout=1)
        self.ttl = ttl_seconds
        self.max_value_bytes = max_value_bytes

    def get(self, key: str) -> bytes | None:
        try:
            value = self._client.get(key)
        except Exception as exc:
            log.warning("cache read skipped: %s", type(exc).__name__)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes) -> None:
        if len(value) > self.max_value_bytes:
            return
        try:
            self._client.set(key, value, ex=self.ttl)
        except Exception as exc:
            log.warning("cache write skipped: %s", type(exc).__name__)


class TieredCache:
    """The process's LRU in front of Redis.

    An answer never changes under its key (the key names the data version), so a copy kept
    in the process is never stale, and a hit saves the Redis round trip.
    """

    def __init__(self, near: MemoryCache, far: ResultCache) -> None:
        self.near = near
        self.far = far

    def get(self, key: str) -> bytes | None:
        value = self.near.get(key)
        if value is None:
            value = self.far.get(key)
            if value is not None:
                self.near.set(key, value)
        return value

    def set(self, key: str, value: bytes) -> None:
        self.near.set(key, value)
        self.far.set(key, value)


def make_cache(
    redis_url: str | None, max_mb: int, ttl_seconds: int, sentinel_password: str | None = None
) -> ResultCache:
    """Redis (shared by every process) behind an in-process LRU of `max_mb`; either alone."""
    near = MemoryCache(max_mb * 1024 * 1024) if max_mb > 0 else None
    if redis_url:
        far = RedisCache(redis_url, ttl_seconds, sentinel_password=sentinel_password)
        return TieredCache(near, far) if near is not None else far
    return near if near is not None else NoCache()
