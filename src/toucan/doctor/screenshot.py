"""`toucan-ctl doctor screenshot`: the FAQ's screenshot procedure, automated from the worker's
side. Run it where screenshots are made (a job worker's host or container): it resolves the
frontend's and the backend's hosts, connects to their ports, expects HTTP 200 from each, then
loads a test page in the worker's Chromium and waits for the selectors a capture waits for.
Each step gets a verdict and, when it fails, the fix; the steps after a failed one are skipped.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from functools import partial
from urllib.parse import urljoin, urlsplit

import httpx

from toucan.doctor.findings import Finding, fail, first_line, ok, skip
from toucan.doctor.public import Frontend, parse_tc_params
from toucan.settings import Settings

TIMEOUT = 5.0
PAGE = "/capture/check"


@dataclass(frozen=True)
class Target:
    name: str  # "frontend" or "backend"
    url: str

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)


def check_resolves(target: Target) -> Finding:
    check = f"{target.name}-dns"
    try:
        addresses = sorted(
            {str(info[4][0]) for info in socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)}
        )
    except (socket.gaierror, UnicodeError) as exc:
        return fail(
            check,
            f"{target.host} does not resolve from this host ({exc})",
            f"make {target.host} resolvable where the worker runs (its DNS server, the container network's "
            "aliases or extra_hosts, /etc/hosts)"
            + (
                ", or set TOUCAN_SCREENSHOT_FRONTEND_URL to an address the worker resolves"
                if target.name == "frontend"
                else ", or point API_BASEROUTE in the frontend's scripts/tc-params.js at one"
            ),
        )
    return ok(check, f"{target.host} has address {', '.join(addresses)}")


def check_connects(target: Target) -> Finding:
    check = f"{target.name}-port"
    try:
        with socket.create_connection((target.host, target.port), timeout=TIMEOUT):
            pass
    except OSError as exc:
        return fail(
            check,
            f"cannot connect to {target.host}:{target.port} ({first_line(exc)})",
            f"open the way from the worker to {target.host}:{target.port}: a firewall, a security group or a "
            "network policy blocks it, or nothing listens there (is the service up, on that port?)",
        )
    return ok(check, f"connected to {target.host}:{target.port}")


def check_answers(target: Target, client: httpx.Client) -> Finding:
    check = f"{target.name}-http"
    try:
        response = client.get(target.url)
    except httpx.ConnectError as exc:
        cause = exc.__context__ or exc.__cause__
        if isinstance(cause, ssl.SSLError) or "CERTIFICATE" in str(exc).upper():
            return fail(
                check,
                f"{target.url}: its TLS certificate is not trusted here ({first_line(exc)})",
                "give the worker the CA that signed it (mount it and set SSL_CERT_FILE, or add it to the "
                "system's CAs with update-ca-certificates), or serve a certificate from a public CA; "
                "Chromium trusts the same store",
            )
        return fail(check, f"{target.url}: {first_line(exc)}", "check the proxy in front of it")
    except httpx.HTTPError as exc:
        return fail(check, f"{target.url}: {first_line(exc)}", "check the proxy in front of it and its logs")
    if response.status_code != 200:
        return fail(
            check,
            f"{target.url} answers HTTP {response.status_code}, not 200",
            f"the {target.name} is reached but does not serve: check the proxy's routes for this host and the "
            f"{target.name}'s logs",
        )
    return ok(check, f"{target.url} answers 200")


def backend_of(frontend_url: str, client: httpx.Client) -> tuple[Target | None, Finding]:
    """The backend the web app calls: API_BASEROUTE of its scripts/tc-params.js."""
    try:
        params = parse_tc_params(Frontend(frontend_url, None).read(client, "scripts/tc-params.js"))
    except (OSError, httpx.HTTPError, ValueError) as exc:
        return None, fail(
            "backend-url",
            f"scripts/tc-params.js of {frontend_url} cannot be read: {first_line(exc)}",
            "serve scripts/tc-params.js with the frontend (`toucan-ctl frontend-params https://BACKEND/`)",
        )
    url = urljoin(frontend_url.rstrip("/") + "/", str(params["API_BASEROUTE"]))
    return Target("backend", url.rstrip("/") + "/"), ok("backend-url", f"tc-params.js names the backend {url}")


def check_page(settings: Settings, frontend_url: str) -> Finding:
    """Load the test page in the worker's Chromium and wait for what a capture waits for."""
    from toucan.screenshots.browser import BrowserPool, find_browser
    from toucan.screenshots.capture import CaptureFailed, capture

    executable = find_browser(settings.screenshot_browser)
    assert executable is not None  # checked by the chromium step
    pool = BrowserPool(executable, 1)
    url = frontend_url.rstrip("/") + PAGE
    try:
        shot = pool.run(partial(capture, url=url, fmt="png", timeout=settings.screenshot_timeout))
    except CaptureFailed as failed:
        seen = "; ".join([failed.page_state, *failed.console_errors[:3], *failed.failed_requests[:3]])
        return fail(
            "page",
            f"{url}: {failed.message}. The page showed: {seen}",
            "the page never became ready: when a request above failed, the browser cannot reach that address "
            "(a proxy, CORS or TOUCAN_CORS_ORIGINS, a certificate); when the page is not Toucan's web app, "
            "TOUCAN_SCREENSHOT_FRONTEND_URL points at the wrong server; when it is slow, raise "
            "TOUCAN_SCREENSHOT_TIMEOUT",
        )
    except Exception as exc:
        return fail("page", f"Chromium could not load {url}: {first_line(exc)}", "run it by hand to see why")
    finally:
        pool.close()
    return ok("page", f"{url} is ready in {shot.ready_ms:.0f} ms (.tc-story and data-render-complete)")


def check_browser(settings: Settings) -> Finding:
    from toucan.screenshots.browser import find_browser, missing_browser_message

    executable = find_browser(settings.screenshot_browser)
    if executable is None:
        return fail(
            "chromium",
            f"no Chromium for screenshots ({settings.screenshot_browser or 'chromium-headless-shell or chromium'})",
            missing_browser_message(settings.screenshot_browser).split(": ", 1)[1],
        )
    return ok("chromium", executable)


def run_screenshot_checks(settings: Settings, frontend_url: str | None = None) -> list[Finding]:
    """Every step, in the FAQ's order; a step after a failed one is skipped."""
    frontend = Target("frontend", (frontend_url or settings.resolved_screenshot_frontend_url()).rstrip("/") + "/")
    findings = [check_browser(settings)]
    with httpx.Client(timeout=TIMEOUT, follow_redirects=True) as client:
        steps = [
            partial(check_resolves, frontend),
            partial(check_connects, frontend),
            partial(check_answers, frontend, client),
        ]
        for step in steps:
            findings.append(step())
            if findings[-1].verdict == "fail":
                rest = ["frontend-port", "frontend-http", "backend-url", "backend-dns", "backend-port", "backend-http"]
                return _skip_rest(findings, [*rest, "page"])
        backend, found = backend_of(frontend.url, client)
        findings.append(found)
        if backend is None:
            return _skip_rest(findings, ["backend-dns", "backend-port", "backend-http", "page"])
        for step in (
            partial(check_resolves, backend),
            partial(check_connects, backend),
            partial(check_answers, backend, client),
        ):
            findings.append(step())
            if findings[-1].verdict == "fail":
                return _skip_rest(findings, ["backend-port", "backend-http", "page"])
    if findings[0].verdict == "fail":
        return _skip_rest(findings, ["page"])
    findings.append(check_page(settings, frontend.url))
    return findings


def _skip_rest(findings: list[Finding], names: list[str]) -> list[Finding]:
    done = {f.check for f in findings}
    return findings + [skip(name, "needs the step that failed above") for name in names if name not in done]
