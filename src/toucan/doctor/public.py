"""Checks through the public URLs, as a browser goes: the frontend's `scripts/tc-params.js`
points at a backend that answers, the two versions match, a request keeps its
`Authorization` header on the way, and CORS lets the frontend's origin call the API."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from toucan import __version__
from toucan.doctor.findings import Finding, fail, first_line, ok, skip, warn
from toucan.settings import Settings

TIMEOUT = 5.0
_TC_PARAMS = re.compile(r"TC_PARAMS\s*=\s*(\{.*\})\s*;?\s*$", re.DOTALL)
WRITE_PARAMS = (
    "`toucan-ctl frontend-params https://BACKEND/ --directory DOCROOT` (or the frontend image's API_BASEROUTE)"
)


@dataclass(frozen=True)
class Frontend:
    """Where the frontend's files are read: its public URL, or its docroot on this host."""

    url: str | None
    directory: Path | None

    def read(self, client: httpx.Client, name: str) -> str:
        """A file of the frontend; OSError or httpx.HTTPError when it cannot be read."""
        if self.url:
            response = client.get(urljoin(self.url.rstrip("/") + "/", name))
            if response.status_code != 200:
                raise OSError(f"{response.url} answers {response.status_code}")
            return response.text
        assert self.directory is not None
        return (self.directory / name).read_text()

    @property
    def where(self) -> str:
        return self.url.rstrip("/") if self.url else str(self.directory)


def origin(url: str) -> str:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def parse_tc_params(text: str) -> dict[str, Any]:
    """The object `scripts/tc-params.js` assigns to `window.TC_PARAMS`; ValueError when there is none."""
    match = _TC_PARAMS.search(text.strip())
    if not match:
        raise ValueError("no `window.TC_PARAMS = {...}` in it")
    try:
        params = json.loads(match.group(1))
    except json.JSONDecodeError:
        # Hand-written files use JS syntax: single quotes, unquoted keys. Read API_BASEROUTE alone.
        route = re.search(r"""API_BASEROUTE['"]?\s*:\s*['"]([^'"]*)['"]""", match.group(1))
        if not route:
            raise ValueError("API_BASEROUTE cannot be read in it") from None
        params = {"API_BASEROUTE": route.group(1)}
    if not isinstance(params, dict) or not params.get("API_BASEROUTE"):
        raise ValueError("it sets no API_BASEROUTE")
    return params


def _major(version: str) -> tuple[int, ...]:
    numbers = [int(n) for n in re.findall(r"\d+", version)[:2]] or [0]
    # Before 1.0 a minor release may break (semver): it counts as the major.
    return tuple(numbers[:2]) if numbers[0] == 0 else (numbers[0],)


def check_versions(frontend_version: str | None, backend_version: str) -> Finding:
    """The frontend's `tucana-version.txt` and the backend's `GET /` version: same major."""
    if frontend_version is None:
        return skip("versions", f"backend {backend_version}; the frontend's tucana-version.txt could not be read")
    front = frontend_version.strip().removeprefix("v")
    if _major(front) != _major(backend_version):
        return fail(
            "versions",
            f"frontend {front} and backend {backend_version} are of different major versions",
            "deploy the frontend and the backend of the same release (same image tag)",
        )
    if front != backend_version:
        return warn(
            "versions",
            f"frontend {front}, backend {backend_version}: same major, different releases",
            "deploy the same release of both when you can",
        )
    return ok("versions", f"frontend and backend {backend_version}")


def check_public_urls(settings: Settings, frontend_url: str | None) -> list[Finding]:
    """Read tc-params.js (from the public frontend URL, or the local docroot) and call the backend it names."""
    directory = settings.resolved_frontend_dir()
    if not frontend_url and (directory is None or not (directory / "scripts" / "tc-params.js").exists()):
        return [
            skip(
                "public-urls",
                "no frontend to read tc-params.js from",
                "give the frontend's public URL: `toucan-ctl doctor --frontend-url https://toucan.example.com`",
            )
        ]
    frontend = Frontend(frontend_url, None if frontend_url else directory)
    with httpx.Client(timeout=TIMEOUT, follow_redirects=True) as client:
        try:
            params = parse_tc_params(frontend.read(client, "scripts/tc-params.js"))
        except httpx.HTTPError as exc:
            return [
                fail(
                    "tc-params",
                    f"the frontend at {frontend.where} does not answer: {first_line(exc)}",
                    "check the frontend's URL, its DNS and TLS certificate, and that its web server runs",
                )
            ]
        except (OSError, ValueError) as exc:
            return [
                fail(
                    "tc-params",
                    f"scripts/tc-params.js of {frontend.where}: {first_line(exc)}",
                    f"write it with {WRITE_PARAMS}",
                )
            ]
        route = str(params["API_BASEROUTE"])
        if not urlsplit(route).scheme:
            if not frontend_url:
                return [
                    skip(
                        "tc-params",
                        f"API_BASEROUTE is {route!r}, relative to the frontend's URL",
                        "give it: `toucan-ctl doctor --frontend-url https://toucan.example.com`",
                    )
                ]
            route = urljoin(frontend_url.rstrip("/") + "/", route)
        base = route.rstrip("/")
        findings = [check_backend_url(client, base, frontend_url)]
        embed = _check_embed_params(client, frontend, str(params["API_BASEROUTE"]))
        if embed is not None:
            findings.append(embed)
        if findings[0].verdict != "ok":
            return findings
        answer = client.get(base + "/").json()
        try:
            front_version: str | None = frontend.read(client, "tucana-version.txt")
        except (OSError, httpx.HTTPError):
            front_version = None
        findings.append(check_versions(front_version, str(answer.get("version", __version__))))
        findings.append(_check_authorization_kept(client, base))
        findings.append(_check_cors(client, base, frontend_url))
    return findings


def _check_embed_params(client: httpx.Client, frontend: Frontend, route: str) -> Finding | None:
    """`embed-params.json` (stories embedded in other sites) names the same backend as tc-params.js."""
    try:
        embed = json.loads(frontend.read(client, "embed-params.json"))
    except (OSError, httpx.HTTPError, ValueError):
        return None  # no embedding set up
    other = embed.get("API_BASEROUTE") if isinstance(embed, dict) else None
    if other is not None and str(other).rstrip("/") != route.rstrip("/"):
        return warn(
            "embed-params",
            f"embed-params.json points at {other}, tc-params.js at {route}: embedded stories call another backend",
            f"write both with {WRITE_PARAMS}",
        )
    return None


def check_backend_url(client: httpx.Client, base: str, frontend_url: str | None) -> Finding:
    """The backend tc-params.js names answers as the Toucan API, over HTTPS when the frontend is."""
    if frontend_url and urlsplit(frontend_url).scheme == "https" and urlsplit(base).scheme == "http":
        return fail(
            "backend-url",
            f"the frontend is served over HTTPS but tc-params.js points at {base} (HTTP): browsers block it",
            f"serve the backend over HTTPS and write its https:// URL with {WRITE_PARAMS}",
        )
    try:
        response = client.get(base + "/")
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        return fail(
            "backend-url",
            f"tc-params.js points at {base}, which does not answer: {first_line(exc)}",
            f"check that the backend runs and this URL reaches it (DNS, proxy, TLS certificate), or fix the URL "
            f"with {WRITE_PARAMS}",
        )
    if not isinstance(body, dict) or "api_version" not in body:
        return fail(
            "backend-url",
            f"tc-params.js points at {base}, which answers {response.status_code} but is not the Toucan API",
            f"point it at the backend (e.g. https://toucan.example.com/_api behind a proxy that strips /_api) "
            f"with {WRITE_PARAMS}",
        )
    return ok("backend-url", f"tc-params.js points at {base}: toucan {body.get('version')} answers")


def _check_authorization_kept(client: httpx.Client, base: str) -> Finding:
    """A made-up token must arrive (401 invalid_token), not vanish on the way (401 missing_authorization)."""
    probe = f"toucan-doctor-{secrets.token_hex(8)}"
    try:
        response = client.get(base + "/me", headers={"Authorization": f"Bearer {probe}"}, follow_redirects=False)
        code = (response.json().get("error") or {}).get("code")
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return fail(
            "authorization-header", f"GET {base}/me: {first_line(exc)}", "check the proxy in front of the backend"
        )
    if code == "invalid_token":
        return ok("authorization-header", "a request through the public URL keeps its Authorization header")
    if code == "missing_authorization":
        return fail(
            "authorization-header",
            f"the Authorization header sent to {base}/me did not reach the backend: a proxy strips it",
            "let the proxy pass `Authorization` (Apache: `CGIPassAuth On` or `RequestHeader set Authorization "
            "expr=%{HTTP:Authorization}`; a WAF or API gateway: allow the header)",
        )
    return fail(
        "authorization-header",
        f"GET {base}/me with a made-up token answered {response.status_code} ({code or 'not the API'})",
        "check what stands between this host and the backend (a proxy answering itself, a redirect)",
    )


def _check_cors(client: httpx.Client, base: str, frontend_url: str | None) -> Finding:
    if not frontend_url:
        return skip("cors", "the frontend's origin is unknown", "give it: `toucan-ctl doctor --frontend-url https://…`")
    front = origin(frontend_url)
    if front == origin(base):
        return ok("cors", f"frontend and backend share the origin {front}: no CORS needed")
    fix = f"add the frontend's origin to the backend's settings: TOUCAN_CORS_ORIGINS='[\"{front}\"]'"
    try:
        response = client.options(
            base + "/me",
            headers={
                "Origin": front,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        return fail("cors", f"the preflight OPTIONS {base}/me failed: {first_line(exc)}", fix)
    allowed = response.headers.get("access-control-allow-origin")
    headers = response.headers.get("access-control-allow-headers", "").lower()
    if allowed not in (front, "*"):
        return fail("cors", f"the backend does not allow the origin {front} (preflight: {response.status_code})", fix)
    if "authorization" not in headers and headers != "*":
        return fail(
            "cors",
            f"the backend allows {front} but not the Authorization header",
            "let the proxy pass the backend's Access-Control-Allow-Headers untouched",
        )
    return ok("cors", f"the backend allows calls from {front}")
