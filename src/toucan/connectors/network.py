"""Outgoing HTTP for connectors and URL sources, guarded against SSRF.

A builder who writes an etl_config must not make the server read its own network: URLs
that resolve to loopback, link-local, private, unspecified, multicast or otherwise
non-public addresses are refused unless `TOUCAN_CONNECTORS_ALLOWED_HOSTS` lists the host,
its address or a network holding it. The check runs before the first request, on every
redirect hop, and again when the socket connects (a name that resolved to a public address
first and to a private one later — DNS rebinding — is still refused).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, Field

from toucan.connectors.base import ConnectorError
from toucan.errors import ErrorCode, PayloadTooLarge, QueryTimeout, ToucanError, ValidationError
from toucan.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_HOSTS_SETTING = "TOUCAN_CONNECTORS_ALLOWED_HOSTS"


class HostNotAllowed(ToucanError):
    """A URL reaches an address that is not public and not allowed by the setting."""

    status = 400
    code = ErrorCode.HOST_NOT_ALLOWED


class RetryPolicy(BaseModel):
    """When to try a request again: on these HTTP statuses and on connection errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(default=3, ge=1, le=10, description="Tries in all, the first included.")
    statuses: list[int] = Field(default_factory=lambda: [429, 502, 503, 504], description="Statuses retried.")
    backoff: float = Field(default=0.5, ge=0, le=60, description="Seconds before the 2nd try, doubled after each.")
    max_wait: float = Field(default=30, ge=0, le=300, description="Longest wait, also for a `Retry-After` header.")

    def wait(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait after try number `attempt` (1-based): `Retry-After` when given, else backoff."""
        if response is not None:
            retry_after = response.headers.get("retry-after", "").strip()
            if retry_after.isdigit():
                return min(float(retry_after), self.max_wait)
        return min(self.backoff * 2 ** (attempt - 1), self.max_wait)


NO_RETRY = RetryPolicy(attempts=1)


def display_url(url: httpx.URL | str) -> str:
    """The URL without credentials, query string or fragment: safe in messages and logs."""
    try:
        parsed = httpx.URL(url)
        return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        return "(invalid URL)"


# Address checks ------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowedHosts:
    """`TOUCAN_CONNECTORS_ALLOWED_HOSTS` parsed: host names (`*.corp` for subdomains), addresses, networks."""

    names: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowedHosts:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip().strip("[]")
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                names.add(text.lower().rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if host in self.names:
            return True
        return any(name.startswith("*.") and host.endswith(name[1:]) for name in self.names)

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def forbidden_reason(address: IPAddress) -> str | None:
    """Why an address may not be reached without the setting, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "not a public address"
    return None


def database_forbidden_reason(address: IPAddress) -> str | None:
    """Why a database connector may not reach an address without the setting: this host's own
    services (loopback) and the cloud's metadata services (link-local). Databases on private
    networks are the usual case: they are allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address (this host's own services, such as the stack's database)"
    if address.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if address.is_unspecified or address.is_multicast:
        return "not a host address"
    return None


def check_database_host(host: str, port: int, allowed: AllowedHosts) -> list[IPAddress]:
    """Resolve a database connector's host; refuse loopback and link-local addresses unless
    TOUCAN_CONNECTORS_ALLOWED_HOSTS lists the host or the address."""
    addresses = resolve(host, port)
    if allowed.allows_name(host):
        return addresses
    for address in addresses:
        reason = database_forbidden_reason(address)
        if reason and not allowed.allows_address(address):
            shown = host if host == str(address) else f"{host} ({address})"
            raise HostNotAllowed(
                f"{shown} is {reason}: database providers may not reach it. "
                f"To allow it, add {host!r} or {str(address)!r} to {ALLOWED_HOSTS_SETTING}.",
                details={"host": host, "address": str(address)},
            )
    return addresses


def check_database_reach(settings: Settings, host: str, port: int) -> str:
    """`check_database_host` with the settings' allowed hosts; the addresses, for a status step.
    Database connectors call it before each connection they open."""
    allowed = AllowedHosts.parse(settings.connectors_allowed_hosts)
    return ", ".join(str(a) for a in check_database_host(host, port, allowed))


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConnectorError(f"Cannot resolve the host {host!r}: {exc}.", details={"host": host}) from None
    addresses: dict[IPAddress, None] = {}
    for info in infos:
        # Scoped IPv6 addresses come as "fe80::1%eth0".
        addresses.setdefault(ipaddress.ip_address(str(info[4][0]).split("%")[0]), None)
    return list(addresses)


def check_host(host: str, port: int, allowed: AllowedHosts) -> list[IPAddress]:
    """Resolve `host` and return its addresses; refuse it when one of them may not be reached."""
    addresses = resolve(host, port)
    if allowed.allows_name(host):
        return addresses
    for address in addresses:
        reason = forbidden_reason(address)
        if reason and not allowed.allows_address(address):
            shown = host if host == str(address) else f"{host} ({address})"
            raise HostNotAllowed(
                f"{shown} is {reason}: connectors and URL sources may only reach public addresses. "
                f"To allow it, add {host!r} or {str(address)!r} to {ALLOWED_HOSTS_SETTING}.",
                details={"host": host, "address": str(address)},
            )
    return addresses


def check_url(url: str | httpx.URL, allowed_hosts: Sequence[str] | AllowedHosts) -> None:
    """Refuse a URL that is not http(s) or whose host resolves to an address that may not be reached."""
    allowed = allowed_hosts if isinstance(allowed_hosts, AllowedHosts) else AllowedHosts.parse(allowed_hosts)
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ValidationError(f"Invalid URL: {exc}.", code=ErrorCode.INVALID_URL) from None
    if parsed.scheme not in ("http", "https"):
        raise ValidationError(
            f"Only http and https URLs may be fetched, not {parsed.scheme or 'a relative URL'!r}: "
            f"{display_url(parsed)}",
            details={"scheme": parsed.scheme},
            code=ErrorCode.INVALID_URL,
        )
    if not parsed.host:
        raise ValidationError(f"The URL has no host: {display_url(parsed)}", code=ErrorCode.INVALID_URL)
    check_host(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80), allowed)


class _GuardedBackend(httpcore.SyncBackend):
    """Checks the address when the socket connects, and connects to that checked address."""

    def __init__(self, allowed: AllowedHosts) -> None:
        self.allowed = allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in check_host(host, port, self.allowed):
            try:
                return super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error


def port_open(host: str, port: int, timeout: float) -> str:
    """Status step: a TCP connection to host:port succeeds (its detail, or ConnectorError)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return f"{host}:{port} accepts connections"
    except OSError as exc:
        raise ConnectorError(f"{host}:{port} does not accept connections: {exc.strerror or exc}") from None


# Clients and requests ------------------------------------------------------------------


def open_client(
    settings: Settings,
    *,
    timeout: float | None = None,
    verify: bool = True,
    origin: str | None = None,
    private_headers: Sequence[str] = (),
) -> httpx.Client:
    """An httpx client that refuses addresses the settings do not allow, on every hop and connect.

    A redirect away from `origin` drops the `private_headers` (credentials); httpx itself only
    drops `Authorization`. Proxy environment variables are ignored: the checks need the real
    destination.
    """
    allowed = AllowedHosts.parse(settings.connectors_allowed_hosts)
    ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False)
    # httpx has no public hook for the network backend; the guard test fails if this stops working.
    transport._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=_GuardedBackend(allowed))

    home = httpx.URL(origin) if origin else None
    private = [name for name in private_headers if name]

    def check_hop(request: httpx.Request) -> None:
        check_url(request.url, allowed)
        if home is not None and (request.url.scheme, request.url.host, request.url.port) != (
            home.scheme,
            home.host,
            home.port,
        ):
            for name in private:
                request.headers.pop(name, None)

    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout if timeout is not None else settings.connector_timeout),
        follow_redirects=True,
        max_redirects=10,
        trust_env=False,
        event_hooks={"request": [check_hop]},
    )


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    too_large = PayloadTooLarge(
        f"The answer of {display_url(response.url)} is larger than {max_bytes} bytes.",
        details={"max_bytes": max_bytes},
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


# How much of an error body is redacted before its first 200 characters are kept.
_REDACTED_BODY = 20_000


def fetch_url(
    url: str,
    settings: Settings,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | str | None = None,
    retry: RetryPolicy = NO_RETRY,
    max_bytes: int | None = None,
    raise_for_status: bool = True,
    client: httpx.Client | None = None,
    timeout: float | None = None,
    redact: Callable[[str], str] | None = None,
) -> httpx.Response:
    """One HTTP request through the SSRF guard, its body read (at most `max_bytes`, by default
    TOUCAN_UPLOAD_MAX_BYTES). Retries as `retry` says; an error status raises ConnectorError (502)
    unless `raise_for_status` is false; a timeout raises QueryTimeout (504). `redact` hides the
    caller's credentials in an error body before it is cut to a snippet (a credential cut in
    two would be hidden by nobody)."""
    allowed = AllowedHosts.parse(settings.connectors_allowed_hosts)
    check_url(url, allowed)
    limit = settings.upload_max_bytes if max_bytes is None else max_bytes
    own_client = client is None
    http = client if client is not None else open_client(settings, timeout=timeout)
    shown = f"{method.upper()} {display_url(url)}"
    try:
        for attempt in range(1, retry.attempts + 1):
            request = http.build_request(
                method.upper(),
                url,
                headers=dict(headers or {}),
                params=dict(params) if params else None,
                json=json,
                **({"content": data} if isinstance(data, str) else {"data": data}),
            )
            try:
                streamed = http.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt < retry.attempts:
                    time.sleep(retry.wait(attempt, None))
                    continue
                if isinstance(exc, httpx.ConnectTimeout):
                    raise QueryTimeout(
                        f"{shown}: no connection within {http.timeout.connect} s.", code=ErrorCode.CONNECTOR_TIMEOUT
                    ) from None
                raise ConnectorError(f"{shown}: cannot connect ({exc}).") from None
            try:
                if streamed.status_code in retry.statuses and attempt < retry.attempts:
                    time.sleep(retry.wait(attempt, streamed))
                    continue
                content = _read_capped(streamed, limit)
            finally:
                streamed.close()
            response = httpx.Response(
                streamed.status_code, headers=streamed.headers, content=content, request=streamed.request
            )
            if raise_for_status and response.is_error:
                body = response.text[:_REDACTED_BODY]
                snippet = " ".join((redact(body) if redact else body)[:200].split())
                raise ConnectorError(
                    f"{shown} answered HTTP {response.status_code} {response.reason_phrase}"
                    + (f": {snippet}" if snippet else "."),
                    details={"status": response.status_code, "attempts": attempt},
                )
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")
    except httpx.TimeoutException:
        raise QueryTimeout(
            f"{shown}: no answer within {http.timeout.read} s.", code=ErrorCode.CONNECTOR_TIMEOUT
        ) from None
    except httpx.TooManyRedirects:
        raise ConnectorError(f"{shown}: too many redirects.") from None
    except httpx.HTTPError as exc:
        raise ConnectorError(f"{shown} failed: {type(exc).__name__}: {exc}.") from None
    finally:
        if own_client:
            http.close()
