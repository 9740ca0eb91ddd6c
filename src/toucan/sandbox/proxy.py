"""The worker's side of builder code's network: an HTTP(S) proxy on a unix socket.

Builder code has no network (its sandbox has only its own loopback). When the operator lists
hosts in TOUCAN_BUILDER_CODE_ALLOWED_HOSTS, the worker serves this proxy on a unix socket in
the exchange folder for the length of the run; the forwarder inside the sandbox relays the
code's HTTP_PROXY/HTTPS_PROXY connections to it. It lets through `CONNECT host:port` (HTTPS,
end to end encrypted) and plain `http://` requests only to the listed hosts, and applies the
SSRF guard of `toucan.connectors.network` too (a listed name that resolves to a private
address still needs TOUCAN_CONNECTORS_ALLOWED_HOSTS), connecting to the address it checked.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from toucan.connectors.network import AllowedHosts, check_host
from toucan.errors import ToucanError
from toucan.settings import Settings

PROXY_SOCKET = "proxy.sock"
PROXY_PORT = 3128
SETTING = "TOUCAN_BUILDER_CODE_ALLOWED_HOSTS"
MAX_HEAD = 64 * 1024


class Refused(Exception):
    """A request the proxy does not let through: the status and message it answers with."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def builder_host_allowed(host: str, allowed: AllowedHosts) -> bool:
    """Whether TOUCAN_BUILDER_CODE_ALLOWED_HOSTS lists `host` (a name, `*.domain`, an address or network)."""
    if allowed.allows_name(host):
        return True
    try:
        return allowed.allows_address(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return False


def open_upstream(host: str, port: int, settings: Settings, timeout: float) -> socket.socket:
    """A TCP connection to an allowed host, through the SSRF guard; `Refused` otherwise."""
    if not builder_host_allowed(host, AllowedHosts.parse(settings.builder_code_allowed_hosts)):
        raise Refused("403 Forbidden", f"{host} is not listed in {SETTING}: builder code may not reach it.")
    try:
        addresses = check_host(host, port, AllowedHosts.parse(settings.connectors_allowed_hosts))
    except ToucanError as exc:
        raise Refused("403 Forbidden", exc.message) from None
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((str(address), port), timeout=timeout)
        except OSError as exc:
            error = exc
    raise Refused("502 Bad Gateway", f"{host}:{port} does not accept connections: {error}")


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_HEAD:
            raise Refused("431 Request Header Fields Too Large", "The request head is too large.")
    return data


def _target(first_line: str) -> tuple[str, str, int, str | None]:
    """(method, host, port, origin-form path or None for CONNECT) from the request line."""
    parts = first_line.split(" ")
    if len(parts) != 3:
        raise Refused("400 Bad Request", "Not an HTTP proxy request.")
    method, target, _ = parts
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit():
            raise Refused("400 Bad Request", "CONNECT needs host:port.")
        return method, host.strip("[]"), int(port), None
    url = urlsplit(target)
    if url.scheme != "http" or not url.hostname:
        raise Refused("400 Bad Request", "Only http:// URLs and CONNECT (for https://) go through this proxy.")
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    return method, url.hostname, url.port or 80, path


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy one direction until its end, then half-close the other side (the reverse direction goes on)."""
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def _finish(client: socket.socket) -> None:
    # Closing with unread bytes would reset the connection before the client reads the answer.
    with contextlib.suppress(OSError):
        client.shutdown(socket.SHUT_WR)
        client.settimeout(2)
        while client.recv(65536):
            pass


class _Handler(socketserver.BaseRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        client: socket.socket = self.request
        try:
            head, _, early = _read_head(client).partition(b"\r\n\r\n")
            line, *headers = head.split(b"\r\n")
            method, host, port, path = _target(line.decode("latin-1"))
            upstream = open_upstream(host, port, self.server.settings, self.server.settings.connector_timeout)
        except Refused as exc:
            body = (exc.message + "\n").encode()
            # The message is the reason phrase too: clients (urllib) show that, not the body.
            reason = " ".join(exc.message.split()).encode("latin-1", "replace").decode("latin-1")
            code = exc.status.split(" ", 1)[0]
            client.sendall(
                f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode("latin-1")
                + body
            )
            _finish(client)
            return
        except OSError:
            return
        upstream.settimeout(None)
        with upstream:
            if path is None:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                version = line.decode("latin-1").rsplit(" ", 1)[1]
                kept = [h for h in headers if not h.lower().startswith((b"proxy-", b"connection:", b"keep-alive:"))]
                # One request per connection keeps the host check per request.
                early = (
                    b"".join([f"{method} {path} {version}\r\n".encode("latin-1"), *(h + b"\r\n" for h in kept)])
                    + b"Connection: close\r\n\r\n"
                    + early
                )
            if early:
                upstream.sendall(early)
            back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
            back.start()
            _pipe(client, upstream)
            back.join()


class _ProxyServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, settings: Settings) -> None:
        self.settings = settings
        super().__init__(path, _Handler)


@contextmanager
def running_proxy(path: Path, settings: Settings) -> Iterator[None]:
    """Serve the proxy on the unix socket `path` for the length of the block."""
    # A socket's path is limited to 107 bytes, which a job folder deep in the data dir can
    # pass: bind through a short alias of its directory instead.
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        server = _ProxyServer(f"/proc/self/fd/{directory}/{path.name}", settings)
    finally:
        os.close(directory)
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
