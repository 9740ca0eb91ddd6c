"""One capture: open a page of the web app in a fresh browser context, wait until it is
ready, and take it whole as a PNG or a PDF.

Ready means the page shows `.tc-slide__content` or `.tc-story` and `<body>` carries
`data-render-complete="true"` (frontend/src/readiness.ts): every chart has drawn. No fixed
sleep anywhere. A page that is not ready within TOUCAN_SCREENSHOT_TIMEOUT fails with the
message the operators' FAQ quotes, plus what the page showed: a screenshot of it as it was,
its console errors and its failed requests.
"""

from __future__ import annotations

import contextlib
import html
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Route

STORY_SELECTOR = ".tc-slide__content, .tc-story"
READY_SELECTOR = "body[data-render-complete='true'] :is(.tc-slide__content, .tc-story)"
VIEWPORT = {"width": 1440, "height": 900}
# The page's width and the bottom of its content (the capture view's box, else the document).
CONTENT_SIZE = """() => {
  const doc = document.documentElement;
  const box = document.querySelector('.capture');
  const bottom = box ? box.getBoundingClientRect().bottom + window.scrollY : doc.scrollHeight;
  return [doc.scrollWidth, Math.min(doc.scrollHeight, Math.ceil(bottom))];
}"""
Format = Literal["png", "pdf"]


# The web app's built files (`/assets/<name>-<hash>.js`) never change under one name: each
# process keeps them in memory and gives them to every fresh context, which would otherwise
# download and compile them again on each capture.
_ASSETS: dict[str, tuple[int, dict[str, str], bytes]] = {}
_ASSETS_MAX_BYTES = 64 * 2**20


async def _cached_asset(route: Route) -> None:
    url = route.request.url
    hit = _ASSETS.get(url)
    if hit is None:
        response = await route.fetch()
        body = await response.body()
        hit = (response.status, response.headers, body)
        if response.status == 200 and sum(len(b) for _, _, b in _ASSETS.values()) + len(body) < _ASSETS_MAX_BYTES:
            _ASSETS[url] = hit
    status, headers, body = hit
    await route.fulfill(status=status, headers=headers, body=body)


def timeout_message(timeout_ms: int) -> str:
    """The FAQ's message (docs/screenshots.md says what to do about it)."""
    return f'TimeoutError: waiting for selector "{STORY_SELECTOR}" failed: timeout {timeout_ms}ms exceeded'


def capture_url(frontend: str, app: str, story: str | None, stage: str, variables: dict[str, object]) -> str:
    """The capture view's address (no token: it goes in the fragment, see `with_token`)."""
    import json

    path = f"/capture/apps/{quote(app, safe='')}"
    if story is not None:
        path += f"/stories/{quote(story, safe='')}"
    query: dict[str, str] = {"stage": stage}
    if variables:
        query["vars"] = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
    return f"{frontend.rstrip('/')}{path}?{urlencode(query)}"


def with_token(url: str, token: str) -> str:
    # In the fragment: never sent to a server, so never in an access log.
    # `#capture=`, not `#token=`: the web app stores a `#token=` as a login session (SSO).
    return f"{url}#capture={quote(token, safe='')}"


@dataclass
class Captured:
    data: bytes
    ready_ms: float  # from navigation to ready
    capture_ms: float  # from ready to the bytes


@dataclass
class CaptureFailed(Exception):
    message: str
    partial_png: bytes | None = None
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    page_state: str = ""

    def __str__(self) -> str:
        return self.message

    def report(self) -> str:
        """What the page showed, for the job's log and the owner."""
        lines = [self.message]
        if self.page_state:
            lines.append(f"The page showed: {self.page_state}")
        lines += [f"console error: {e}" for e in self.console_errors[:20]]
        lines += [f"failed request: {r}" for r in self.failed_requests[:20]]
        if self.partial_png:
            lines.append("A screenshot of the page as it was is kept with the job (partial.png).")
        return "\n".join(lines)


def header_template(title: str, subtitle: str) -> str:
    """A PDF page's header: the title and the date (as text: it stays selectable)."""
    return (
        '<div style="font-family: Liberation Sans, Noto Sans, sans-serif; font-size: 10px; width: 100%; '
        'padding: 0 28px; display: flex; justify-content: space-between; color: #333;">'
        f"<span>{html.escape(title)}</span><span>{html.escape(subtitle)}</span></div>"
    )


async def _page_state(page: Page) -> str:
    try:
        state: str = await page.evaluate(
            """() => {
              const story = document.querySelector('.tc-slide__content, .tc-story');
              const marker = document.body ? document.body.dataset.renderComplete : undefined;
              const alert = document.querySelector('[role=alert]');
              return `${story ? 'a story element' : 'no .tc-story / .tc-slide__content element'}, `
                + `data-render-complete=${marker === undefined ? 'absent' : marker}`
                + (alert ? `, an error: ${alert.textContent.trim().slice(0, 300)}` : '');
            }"""
        )
        return state
    except Exception as exc:  # the page may have crashed
        return f"nothing readable ({type(exc).__name__})"


async def capture(
    browser: Browser,
    url: str,
    *,
    fmt: Format,
    timeout: float,
    title: str = "",
    subtitle: str = "",
) -> Captured:
    """Capture `url` (token included) once ready; `title` and `subtitle` head a PDF page."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    timeout_ms = int(timeout * 1000)
    context = await browser.new_context(
        viewport=VIEWPORT,  # type: ignore[arg-type]
        device_scale_factor=1,
        reduced_motion="reduce",  # charts draw without their intro animation
        service_workers="block",
    )
    errors: list[str] = []
    failed: list[str] = []
    try:
        await context.route("**/assets/*", _cached_asset)
        page = await context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(f"{r.method} {_safe(r.url)}: {r.failure}"))
        page.on(
            "response",
            lambda r: failed.append(f"{r.request.method} {_safe(r.url)}: HTTP {r.status}") if r.status >= 400 else None,
        )
        started = time.perf_counter()
        try:
            await page.goto(url, wait_until="commit", timeout=timeout_ms)
            left = max(1, timeout_ms - int((time.perf_counter() - started) * 1000))
            await page.wait_for_selector(READY_SELECTOR, state="attached", timeout=left)
        except (PlaywrightTimeout, PlaywrightError) as exc:
            partial = None
            with contextlib.suppress(PlaywrightError):
                partial = await page.screenshot(full_page=True, type="png", timeout=5000)
            message = timeout_message(timeout_ms)
            if not isinstance(exc, PlaywrightTimeout):
                message += f" (the page could not load: {str(exc).splitlines()[0]})"
            raise CaptureFailed(message, partial, errors, failed, await _page_state(page)) from None
        ready = time.perf_counter()
        if fmt == "png":
            # The whole page, however tall, down to the end of its content (not an empty screen below).
            width, bottom = await page.evaluate(CONTENT_SIZE)
            data = await page.screenshot(
                full_page=True,
                type="png",
                animations="disabled",
                clip={"x": 0, "y": 0, "width": int(width), "height": max(200, int(bottom))},
            )
        else:
            data = await _pdf(page, title, subtitle)
        done = time.perf_counter()
        return Captured(data, (ready - started) * 1000, (done - ready) * 1000)
    finally:
        await context.close()


async def _pdf(page: Page, title: str, subtitle: str) -> bytes:
    """The whole page on one PDF page as wide as the screen: one story per page, never cut."""
    await page.emulate_media(media="screen")
    size = await page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    width, height = int(size[0]), int(size[1])
    header = 48
    return await page.pdf(
        width=f"{width}px",
        height=f"{height + header + 16}px",
        print_background=True,
        display_header_footer=True,
        header_template=header_template(title, subtitle),
        footer_template="<span></span>",
        margin={"top": f"{header}px", "bottom": "16px", "left": "0px", "right": "0px"},
    )


def _safe(url: str) -> str:
    """A URL for a log: no fragment (the capture token is there) and no query."""
    return url.split("#", 1)[0].split("?", 1)[0]
