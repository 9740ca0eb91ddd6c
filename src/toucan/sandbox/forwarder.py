"""Inside the sandbox: the HTTP(S) proxy address builder code uses, relayed to the worker's proxy.

The sandbox has its own loopback and no other network; `start` listens on 127.0.0.1:PORT there
and relays every connection to the worker's proxy through the unix socket in the exchange
folder. It decides nothing: the worker's proxy lets only the allowed hosts through. Standard
library only (the toucan package is not in the sandbox).
"""

from __future__ import annotations

import contextlib
import socket
import threading


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy one direction until its end, then half-close the other side (the reverse direction goes on)."""
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def _relay(client: socket.socket, socket_path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(socket_path)
    except OSError:
        client.close()
        upstream.close()
        return
    back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
    back.start()
    _pipe(client, upstream)
    back.join()
    client.close()
    upstream.close()


def start(socket_path: str, port: int) -> str:
    """Listen on 127.0.0.1:`port` in a daemon thread; returns the proxy URL to give HTTP clients."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)

    def serve() -> None:
        while True:
            client, _ = server.accept()
            threading.Thread(target=_relay, args=(client, socket_path), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{port}"
