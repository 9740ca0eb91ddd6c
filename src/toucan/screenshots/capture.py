"""One capture: open a page of the web app in a browser tab of its own, wait until it is
ready, and take it whole as a PNG or a PDF.

Tabs are kept warm: each capture slot (at most TOUCAN_SCREENSHOT_CONCURRENCY) keeps one
browser context and one page, so a capture reuses the renderer process and the browser's
cache of the web app's built files (downloaded and compiled once, not once per capture). What
one capture leaves must never reach the next (another user's, with another token): every
capture is a new document (the page goes to about:blank in between, which also stops the last
one's scripts), its origin's cookies and storage are cleared then, and each new document
starts by emptying localStorage and sessionStorage before the web app runs. The capture
token itself lives in the page's memory only (`#capture=`), so it dies with the document. A
slot whose capture failed is closed, not reused.

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
from urllib.parse import quote, urlencode, urlsplit

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, CDPSession, Page

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


# Before any script of a new document: nothing stored by an earlier capture is readable.
CLEAR_STORAGE = "try { localStorage.clear(); sessionStorage.clear(); } catch (e) {}"
# What CDP's Storage.clearDataForOrigin empties between captures (not the HTTP cache: the web
# app's files; the API's answers are not stored by the browser: POSTs, or `no-store`).
CLEARED = "cookies,local_storage,indexeddb,websql,service_workers,cache_storage,file_systems"


@dataclass
class _Slot:
    """A warm tab: one context and one page, used by one capture at a time."""

    context: BrowserContext
    page: Page
    cdp: CDPSession


# The free slots of each browser (by identity: a browser started again gets new ones). A slot
# is taken by a capture and given back after it; the pool's cap bounds how many exist.
_FREE: dict[int, tuple[Browser, list[_Slot]]] = {}


async def _take_slot(browser: Browser) -> _Slot:
    owner, free = _FREE.get(id(browser), (None, []))
    if owner is not browser:
        free = []
        _FREE[id(browser)] = (browser, free)
    while free:
        slot = free.pop()
        if not slot.page.is_closed():
            return slot
    context = await browser.new_context(
        viewport=VIEWPORT,  # type: ignore[arg-type]
        device_scale_factor=1,
        reduced_motion="reduce",  # charts draw without their intro animation
        service_workers="block",
    )
    await context.add_init_script(CLEAR_STORAGE)
    page = await context.new_page()
    return _Slot(context, page, await context.new_cdp_session(page))


async def _give_back(browser: Browser, slot: _Slot, origin: str) -> None:
    """Leave the page (its scripts stop, its token goes), clear its origin's storage, and
    keep the slot for the next capture."""
    await slot.page.goto("about:blank", wait_until="commit")
    await slot.cdp.send("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": CLEARED})
    await slot.context.clear_cookies()
    _FREE.setdefault(id(browser), (browser, []))[1].append(slot)


async def _discard(slot: _Slot) -> None:
    with contextlib.suppress(Exception):
        await slot.context.close()


async def close_slots(browser: Browser) -> None:
    """Close the warm tabs of `browser` (before closing it)."""
    _, free = _FREE.pop(id(browser), (None, []))
    for slot in free:
        await _discard(slot)


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
    from playwright.async_api import ConsoleMessage, Request, Response
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    timeout_ms = int(timeout * 1000)
    slot = await _take_slot(browser)
    page = slot.page
    errors: list[str] = []
    failed: list[str] = []
    kept = False

    def on_console(m: ConsoleMessage) -> None:
        if m.type == "error":
            errors.append(m.text)

    def on_error(e: Exception) -> None:
        errors.append(str(e))

    def on_failed(r: Request) -> None:
        failed.append(f"{r.method} {_safe(r.url)}: {r.failure}")

    def on_response(r: Response) -> None:
        if r.status >= 400:
            failed.append(f"{r.request.method} {_safe(r.url)}: HTTP {r.status}")

    handlers = {"console": on_console, "pageerror": on_error, "requestfailed": on_failed, "response": on_response}
    for event, handler in handlers.items():
        page.on(event, handler)  # type: ignore[call-overload]
    try:
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
            width, height = int(width), max(200, int(bottom))
            data = await page.screenshot(
                # Within the screen, no resizing of the page for the shot (a relayout).
                full_page=width > VIEWPORT["width"] or height > VIEWPORT["height"],
                type="png",
                animations="disabled",
                caret="hide",
                scale="css",
                clip={"x": 0, "y": 0, "width": width, "height": height},
            )
        else:
            data = await _pdf(page, title, subtitle)
        done = time.perf_counter()
        for event, handler in handlers.items():
            page.remove_listener(event, handler)
        split = urlsplit(url)
        await _give_back(browser, slot, f"{split.scheme}://{split.netloc}")
        kept = True
        return Captured(data, (ready - started) * 1000, (done - ready) * 1000)
    finally:
        if not kept:
            await _discard(slot)


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
