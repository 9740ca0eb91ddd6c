"""Brokers that survive bad messages: a file or a payload that is not a message is set aside.

Kombu's own transports raise when a queued payload does not decode, inside the worker's
consumer loop: the worker stopped for good on one torn file. Here such a payload is moved to
a dead-letter place, with a log line naming it, and the worker goes on with the next one.

- Embedded (`filesystem://` under the data dir): messages are written under a hidden name
  and renamed into the queue folder, so a reader never takes a half-written file (kombu
  writes them in place, where a worker polling every 50 ms could read one empty); a reader
  claims a file by renaming it out of the queue folder, so two workers never take the same
  one. Bad files go to `<data dir>/broker/dead-letter/`.
- Redis (one server or through Sentinel): a bad payload is pushed to the list
  `<queue>.dead-letter` of the same database.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from kombu.transport import filesystem, redis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

DEAD_LETTER_FOLDER = "dead-letter"
CLAIMED_FOLDER = "claimed"


def _is_message(payload: Any) -> bool:
    """Whether a decoded payload has the shape kombu's virtual channel reads."""
    return isinstance(payload, dict) and isinstance(payload.get("properties"), dict) and "body" in payload


def _decode(raw: bytes) -> Any:
    """The message in `raw`, or None when it is not one (empty, torn, not JSON, wrong shape)."""
    try:
        payload = loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return payload if _is_message(payload) else None


class FilesystemChannel(filesystem.Channel):
    """Kombu's filesystem channel with atomic writes, exclusive claims and dead letters."""

    @property
    def dead_letter_folder(self) -> Path:
        return Path(self.data_folder_in).parent / DEAD_LETTER_FOLDER

    @property
    def claimed_folder(self) -> Path:
        return Path(self.data_folder_in).parent / CLAIMED_FOLDER

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{time.time_ns():020d}_{uuid.uuid4()}.{queue}.msg"  # sorts in sending order
        folder = Path(self.data_folder_out)
        hidden = folder / f".{name}.part"
        try:
            with open(hidden, "wb") as file:
                file.write(dumps(payload).encode("utf-8"))
                file.flush()
                os.fsync(file.fileno())
            os.replace(hidden, folder / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                hidden.unlink()
            raise filesystem.ChannelError(f"Cannot add a message to {folder}") from exc

    def _get(self, queue: str, timeout: Any = None) -> Any:
        suffix = f".{queue}.msg"
        folder = Path(self.data_folder_in)
        claimed = self.claimed_folder
        claimed.mkdir(parents=True, exist_ok=True)
        for name in sorted(os.listdir(folder)):
            if name.startswith(".") or not name.endswith(suffix) or name.partition(".")[2] != suffix[1:]:
                continue
            mine = claimed / f"{os.getpid()}-{name}"
            try:
                os.rename(folder / name, mine)  # atomic: another reader got it first otherwise
            except OSError:
                continue
            try:
                raw = mine.read_bytes()
            except OSError as exc:
                raise filesystem.ChannelError(f"Cannot read {mine} from the queue.") from exc
            payload = _decode(raw)
            if payload is None:
                self._set_aside(mine, name, len(raw))
                continue
            mine.unlink()
            return payload
        raise filesystem.Empty()

    def _set_aside(self, path: Path, name: str, size: int) -> None:
        self.dead_letter_folder.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, self.dead_letter_folder / name)
        except OSError:
            path.unlink(missing_ok=True)
        log.error(
            "broker: %s is not a message (%d bytes; empty, torn or not JSON): moved to %s",
            name,
            size,
            self.dead_letter_folder,
        )

    def _size(self, queue: str) -> int:
        suffix = f".{queue}.msg"
        return sum(1 for name in os.listdir(self.data_folder_in) if name.endswith(suffix) and not name.startswith("."))


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel


class RedisChannel(redis.Channel):
    """Kombu's Redis channel; a payload that is not a message goes to `<queue>.dead-letter`."""

    def _brpop_read(self, **options: Any) -> bool:
        # kombu's own reads and decodes in one step and raises on a bad payload; this is the
        # same read with the decoding that sets a bad payload aside.
        try:
            try:
                found = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                self.client.connection.disconnect()  # the next poll reconnects
                raise
            if not found:
                raise redis.Empty()
            key, raw = found
            queue = bytes_to_str(key).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(queue)
            payload = _decode(raw)
            if payload is None:
                self._dead_letter(queue, raw)
                return False
            self.connection._deliver(payload, queue)
            return True
        finally:
            self._in_poll = None  # type: ignore[assignment]
            self._flush_brpop_reauth()

    def _get(self, queue: str, timeout: Any = None) -> Any:
        with self.conn_or_acquire() as client:
            for priority in self.priority_steps:
                while raw := client.rpop(self._q_for_pri(queue, priority)):
                    payload = _decode(raw)
                    if payload is not None:
                        return payload
                    self._dead_letter(queue, raw)
            self._maybe_update_queues_expire(client, queue)
        raise redis.Empty()

    def _dead_letter(self, queue: str, raw: bytes) -> None:
        name = f"{queue}.{DEAD_LETTER_FOLDER}"
        with self.conn_or_acquire() as client:
            client.lpush(name, raw)
        log.error(
            "broker: a payload of %d bytes on queue %r is not a message: moved to the Redis list %r",
            len(raw),
            queue,
            name,
        )


class RedisTransport(redis.Transport):
    Channel = RedisChannel


class SentinelChannel(RedisChannel, redis.SentinelChannel):
    """The same dead-letter reads on a master found through Sentinel (kombu's own channel asks
    the Sentinels for the master at each new connection, so it follows a failover)."""


class SentinelTransport(redis.SentinelTransport):
    Channel = SentinelChannel


def dead_letters(folder: Path) -> list[str]:
    """Names of the files set aside in an embedded broker's dead-letter folder."""
    path = folder / DEAD_LETTER_FOLDER
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else []
