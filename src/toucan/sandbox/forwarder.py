"""Inside the sandbox: the HTTP(S) proxy address builder code uses, relayed to the worker's proxy.

The sandbox has its own loopback and no other network; `start` listens on 127.0.0.1:PORT there
and relays every connection to the worker's proxy through the unix socket in the job folder.
It decides nothing: the worker's proxy lets only the allowed hosts through. One thread runs an
asyncio loop for every connection (threads count against the sandbox's task limit). Standard
library only (the toucan package is not in the sandbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until its end, then half-close the other side."""
    with contextlib.suppress(OSError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        if writer.can_write_eof():
            writer.write_eof()


async def _relay(socket_path: str, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
    try:
        upstream_reader, upstream = await asyncio.open_unix_connection(socket_path)
    except OSError:
        client.close()
        return
    await asyncio.gather(_pump(client_reader, upstream), _pump(upstream_reader, client))
    for writer in (client, upstream):
        writer.close()


def start(socket_path: str, port: int) -> str:
    """Listen on 127.0.0.1:`port` in a daemon thread; returns the proxy URL to give HTTP clients."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def serve() -> None:
        await asyncio.start_server(lambda r, w: _relay(socket_path, r, w), "127.0.0.1", port)
        ready.set()

    def run() -> None:
        loop.run_until_complete(serve())
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    return f"http://127.0.0.1:{port}"
