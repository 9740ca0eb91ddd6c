"""ASGI middleware: request body limits (size, nesting, NUL), reverse-proxy headers and security headers."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toucan import nesting
from toucan.errors import ErrorCode
from toucan.formats import error_path
from toucan.logs import current_request_id


async def _send_error(send: Send, status: int, code: ErrorCode, message: str, details: Any = None) -> None:
    error = {"code": code, "message": message, "details": details, "request_id": current_request_id()}
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse request bodies above `max_bytes` with 413, before the route sees them.

    A declared Content-Length above the limit is refused at once. Otherwise the body is read
    here, counted as it streams (a chunked body has no Content-Length), and handed to the
    route whole: past the limit the answer is this 413, never what a route or FastAPI's body
    parsing would make of a broken read (a 400 or a 500). Bodies are small (the limit), and
    routes read them whole anyway.

    Requests for which `exempt(method, path)` is true (uploads) stream and enforce their own limits.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: Callable[[str, str], bool]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        message = f"The request body is larger than {self.max_bytes} bytes (TOUCAN_MAX_BODY_BYTES)."
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    await _send_error(send, 400, ErrorCode.BAD_REQUEST, "Invalid Content-Length header.")
                    return
                if too_big:
                    await _send_error(send, 413, ErrorCode.PAYLOAD_TOO_LARGE, message, {"limit": self.max_bytes})
                    return
        chunks: list[bytes] = []
        received = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":  # the client left: the route finds out
                await self.app(scope, _replay([msg], receive), send)
                return
            chunk = msg.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await _send_error(send, 413, ErrorCode.PAYLOAD_TOO_LARGE, message, {"limit": self.max_bytes})
                return
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)


NUL_MESSAGE = "text cannot contain the NUL character (\\u0000)"
# The JSON escape \u0000, not an escaped backslash followed by "u0000" (an even run of
# backslashes before it is text).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _nul_path(value: Any, path: tuple[int | str, ...] = ()) -> tuple[int | str, ...] | None:
    """Where the first text holding NUL is in a JSON document (a key or a value)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = (*path, key) if "\x00" in key else _nul_path(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, (*path, index))
            if found is not None:
                return found
    return None


def is_json(content_type: bytes) -> bool:
    """Whether FastAPI reads a body of this Content-Type as JSON: none, `application/json` or
    `application/<anything>+json`, in any case and with any parameters."""
    value = content_type.split(b";")[0].strip().lower()
    if not value:
        return True
    main, _, sub = value.partition(b"/")
    return main == b"application" and (sub == b"json" or sub.endswith(b"+json"))


class JsonBodyMiddleware:
    """Check what a request holds before a route parses it, with a 400 that says where:

    - a JSON body nests no more than `max_depth` levels of objects and lists
      (TOUCAN_MAX_NESTING_DEPTH): parsers, validators and compilers recurse once per level;
    - no text holds the NUL character, in the path, the query string or a JSON body:
      PostgreSQL can neither store nor compare it, and no name or setting of the stack needs it.

    Requests for which `exempt(method, path)` is true (uploads: raw files) pass untouched.
    """

    def __init__(self, app: ASGIApp, max_depth: int, exempt: Callable[[str, str], bool]) -> None:
        self.app = app
        self.max_depth = max_depth
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.exempt(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"]:
            await _send_nul_error(send, "path", scope["path"])
            return
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if "\x00" in name or "\x00" in value:
                    await _send_nul_error(send, "query", name)
                    return
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        if scope["method"] in ("GET", "HEAD", "OPTIONS") or not is_json(content_type):
            await self.app(scope, receive, send)
            return
        # Small (TOUCAN_MAX_BODY_BYTES): BodyLimitMiddleware, outside this one, read it whole.
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        deep = nesting.json_text_too_deep(body, self.max_depth)
        if deep is not None:
            error = nesting.too_deep("The request body", self.max_depth, deep)
            await _send_error(send, 400, error.code, error.message, {**error.details, "in": "body"})
            return
        if b"\\u0000" in body and _JSON_NUL.search(body):
            try:
                where = _nul_path(json.loads(body))
            except (ValueError, RecursionError):
                where = None  # not JSON: the route says so
            if where is not None:
                await _send_nul_error(send, "body", error_path(where))
                return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _send_nul_error(send: Send, where: str, path: str) -> None:
    path = path.replace("\x00", "\\u0000")
    await _send_error(
        send,
        400,
        ErrorCode.VALIDATION_ERROR,
        f"Invalid {where} at {path}: {NUL_MESSAGE}.",
        {"errors": [{"in": where, "path": path, "message": NUL_MESSAGE}]},
    )


class SecurityHeadersMiddleware:
    """Add `headers_for(path)` to every answer, except headers the answer sets itself.

    `path` is the route's path below the mount (`/docs` for `/_api/docs`).
    """

    def __init__(self, app: ASGIApp, headers_for: Callable[[str], list[tuple[bytes, bytes]]]) -> None:
        self.app = app
        self.headers_for = headers_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        extra = self.headers_for(path)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TrustedProxies:
    """The peers whose X-Forwarded-* headers count: addresses, networks, or `*` for all."""

    def __init__(self, spec: str) -> None:
        entries = [e.strip() for e in spec.split(",") if e.strip()]
        self.everyone = "*" in entries
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.names: set[str] = set()  # what is no address (`testclient`, a unix socket path)
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(entry)

    def __contains__(self, host: str) -> bool:
        if self.everyone or host in self.names:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: str) -> str:
        """The client's address, given a trusted `peer`'s X-Forwarded-For list.

        Read from the right: each trusted proxy appended the address it saw, so the first
        untrusted entry is the client; what comes before it, the client may have written.
        """
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if hop not in self:
                return hop
        return hops[0] if hops else peer


class ForwardedMiddleware:
    """Honour X-Forwarded-For/-Proto/-Host/-Prefix from trusted proxies.

    So the client address (login limits) is the browser's, not the proxy's, and URLs the
    backend builds (redirects, metadata, login URLs) carry the external scheme, host and
    path prefix, e.g. behind a proxy that strips `/_api`. Other peers' headers are ignored:
    a client cannot choose its address.
    """

    def __init__(self, app: ASGIApp, trusted: str) -> None:
        self.app = app
        self.trusted = TrustedProxies(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if self.trusted.everyone or (client and client[0] in self.trusted):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            scope = dict(scope)
            # Several X-Forwarded-For lines make one list, in order (RFC 9110 section 5.3).
            forwarded_for = ",".join(v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for")
            if forwarded_for.strip():
                peer = client[0] if client else ""
                scope["client"] = (self.trusted.client(peer, forwarded_for), client[1] if client else 0)
            proto = headers.get("x-forwarded-proto", "").split(",")[0].strip()
            if proto in ("http", "https"):
                scope["scheme"] = "https" if proto == "https" else "http"
            host = headers.get("x-forwarded-host", "").split(",")[0].strip()
            if host:
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"]
                scope["headers"].append((b"host", host.encode("latin-1")))
                hostname, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
                default = 443 if scope["scheme"] == "https" else 80
                scope["server"] = (hostname or host, int(port) if port.isdigit() else default)
            prefix = headers.get("x-forwarded-prefix", "").strip().rstrip("/")
            if prefix.startswith("/"):
                scope["root_path"] = prefix + scope.get("root_path", "")
        await self.app(scope, receive, send)
