"""The warm browser of a worker process: one Chromium per process, started on its first
capture and kept, a warm tab (context + page, storage cleared between captures: see
capture.py) per capture slot, at most TOUCAN_SCREENSHOT_CONCURRENCY captures at once.

Playwright's asyncio API runs on an event loop of its own thread, so captures may be asked
for from any thread of the process (a job, the doctor, the benchmark) and run side by side
up to the cap. A browser that crashed is started again on the next capture.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from toucan.errors import ServiceUnavailable
from toucan.settings import Settings

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

log = logging.getLogger(__name__)

T = TypeVar("T")
CANDIDATES = ("chromium-headless-shell", "chromium")
LAUNCH_ARGS = [
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB: Chromium would crash on big pages
    "--no-sandbox",  # the worker is the sandbox: it runs as an unprivileged user without namespaces
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--font-render-hinting=none",
]


def find_browser(configured: str | None = None) -> str | None:
    """The Chromium program screenshots run: TOUCAN_SCREENSHOT_BROWSER, else
    chromium-headless-shell, else chromium; None when there is none."""
    for name in (configured,) if configured else CANDIDATES:
        if not name:
            continue
        found = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
        if found:
            return found
    return None


def missing_browser_message(configured: str | None = None) -> str:
    wanted = configured or " or ".join(CANDIDATES)
    return (
        f"No Chromium for screenshots: {wanted} is not installed on this worker. Install it "
        "(`apt-get install chromium-headless-shell fonts-liberation fonts-noto-core fonts-noto-cjk "
        "fonts-noto-color-emoji`) or set TOUCAN_SCREENSHOT_BROWSER to its path; "
        "`toucan-ctl doctor screenshot` checks the whole chain."
    )


class BrowserPool:
    """One warm browser and the cap on simultaneous captures, for one process."""

    def __init__(self, executable: str, concurrency: int) -> None:
        self.executable = executable
        self.concurrency = concurrency
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="screenshot-browser", daemon=True)
        self._thread.start()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._start_lock: asyncio.Lock | None = None
        self.pid = os.getpid()

    def run(self, job: Callable[[Browser], Awaitable[T]], timeout: float | None = None) -> T:
        """Run `job(browser)` on the warm browser once a capture slot is free; its result."""
        future = asyncio.run_coroutine_threadsafe(self._guarded(job), self._loop)
        return future.result(timeout)

    async def _guarded(self, job: Callable[[Browser], Awaitable[T]]) -> T:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        async with self._semaphore:
            browser = await self._ensure()
            return await job(browser)

    async def _ensure(self) -> Browser:
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            from playwright.async_api import async_playwright

            if self._playwright is None:
                self._playwright = await async_playwright().start()
            log.info("starting the screenshot browser %s", self.executable)
            self._browser = await self._playwright.chromium.launch(executable_path=self.executable, args=LAUNCH_ARGS)
            return self._browser

    def warm(self) -> None:
        """Start the browser now (the first capture then pays nothing)."""

        async def nothing(_: Browser) -> None:
            return None

        self.run(nothing)

    def browser_pids(self) -> list[int]:
        """The processes of the warm browser (for the benchmark's memory figures)."""
        import psutil

        return [
            child.pid
            for child in psutil.Process().children(recursive=True)
            if "chrom" in (child.name() or "").lower() or "headless" in (child.name() or "").lower()
        ]

    def close(self) -> None:
        async def stop() -> None:
            if self._browser is not None:
                from toucan.screenshots.capture import close_slots

                await close_slots(self._browser)
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()
            self._browser = self._playwright = None

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


_pool: BrowserPool | None = None
_pool_lock = threading.Lock()


def pool_for(settings: Settings) -> BrowserPool:
    """This process's browser pool (a forked worker process makes its own)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            executable = find_browser(settings.screenshot_browser)
            if executable is None:
                raise ServiceUnavailable(missing_browser_message(settings.screenshot_browser))
            _pool = BrowserPool(executable, settings.screenshot_concurrency)
        return _pool
