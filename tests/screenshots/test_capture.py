"""The renderer on its own: the warm browser, the readiness wait (no fixed sleep), tall pages
whole, the cap on simultaneous captures, and what a page that never becomes ready reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial

import pytest

import toucan.screenshots.capture as capture_module
from tests.helpers.browser import SCREENSHOTS
from tests.helpers.http_servers import serving
from tests.helpers.png import read_png
from tests.screenshots.pages import Holds, pages_app
from toucan.errors import ServiceUnavailable
from toucan.screenshots.browser import BrowserPool, find_browser, pool_for
from toucan.screenshots.capture import CaptureFailed, capture, timeout_message
from toucan.settings import Settings

FAQ = 'TimeoutError: waiting for selector ".tc-slide__content, .tc-story" failed: timeout 30000ms exceeded'


@pytest.fixture(scope="module")
def pool() -> Iterator[BrowserPool]:
    executable = find_browser()
    assert executable is not None, "chromium-headless-shell or chromium must be installed (.ci/run does)"
    pool = BrowserPool(executable, concurrency=2)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serving(pages_app()) as base:
        yield base


def test_the_faq_message_is_the_one_for_30_seconds() -> None:
    assert timeout_message(30000) == FAQ


def test_a_capture_waits_for_the_marker_not_a_fixed_time(pool: BrowserPool, site: str) -> None:
    started = time.monotonic()
    shot = pool.run(partial(capture, url=f"{site}/ready?after=700", fmt="png", timeout=10))
    elapsed = time.monotonic() - started
    # Not before the page said it was ready, and not seconds after it.
    assert shot.ready_ms >= 650
    assert elapsed < 5
    assert shot.capture_ms < 2000
    image = read_png(shot.data)
    assert image.width == 1440
    _, colored, _ = image.region_stats(0, 0, 800, 200)
    assert colored > 10000  # the blue bar


def test_a_tall_page_is_captured_whole_as_png_and_pdf(pool: BrowserPool, site: str) -> None:
    png = pool.run(partial(capture, url=f"{site}/ready?height=4000", fmt="png", timeout=10))
    image = read_png(png.data)
    assert image.height > 4000
    pdf = pool.run(partial(capture, url=f"{site}/ready?height=4000", fmt="pdf", timeout=10, title="Tall", subtitle="x"))
    from io import BytesIO

    from pypdf import PdfReader

    reader = PdfReader(BytesIO(pdf.data))
    # One page, as tall as the story: never cut in two.
    assert len(reader.pages) == 1
    assert float(reader.pages[0].mediabox.height) > 4000 * 0.75
    text = reader.pages[0].extract_text()
    assert "Ready soon" in text and "The end" in text and "Tall" in text


def test_a_page_that_never_becomes_ready_reports_what_it_showed(pool: BrowserPool, site: str) -> None:
    with pytest.raises(CaptureFailed) as failed:
        pool.run(partial(capture, url=f"{site}/never", fmt="png", timeout=2))
    error = failed.value
    assert (
        error.message
        == 'TimeoutError: waiting for selector ".tc-slide__content, .tc-story" failed: timeout 2000ms exceeded'
    )
    assert "data-render-complete=false" in error.page_state and "a story element" in error.page_state
    assert any("chart 3 failed: boom" in e for e in error.console_errors)
    assert any("/missing-data: HTTP 404" in r for r in error.failed_requests)
    assert error.partial_png is not None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "capture-never-ready-partial.png").write_bytes(error.partial_png)
    partial_image = read_png(error.partial_png)
    assert partial_image.region_stats(0, 0, 600, 200)[1] > 5000  # the page as it was: its bar
    report = error.report()
    assert error.message in report and "boom" in report and "partial.png" in report


def test_a_page_without_a_story_element_says_so(pool: BrowserPool, site: str) -> None:
    with pytest.raises(CaptureFailed) as failed:
        pool.run(partial(capture, url=f"{site}/no-story", fmt="pdf", timeout=1.5))
    assert failed.value.message.endswith("timeout 1500ms exceeded")
    assert "no .tc-story / .tc-slide__content element" in failed.value.page_state
    assert "The backend cannot be reached." in failed.value.page_state


def test_an_unreachable_page_fails_with_the_faq_message_and_why(pool: BrowserPool) -> None:
    from tests.helpers import free_port

    with pytest.raises(CaptureFailed) as failed:
        pool.run(partial(capture, url=f"http://127.0.0.1:{free_port()}/never", fmt="png", timeout=3))
    assert failed.value.message.startswith('TimeoutError: waiting for selector ".tc-slide__content, .tc-story"')
    assert "ERR_CONNECTION_REFUSED" in failed.value.message


def test_the_cap_limits_simultaneous_captures() -> None:
    executable = find_browser()
    assert executable is not None
    holds = Holds()
    with serving(pages_app(holds, hold_seconds=0.6)) as base:
        pool = BrowserPool(executable, concurrency=2)
        try:
            pool.warm()
            threads = [
                threading.Thread(target=pool.run, args=(partial(capture, url=f"{base}/ready", fmt="png", timeout=20),))
                for _ in range(5)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        finally:
            pool.close()
    assert holds.most == 2  # five asked at once, never more than two pages open


def test_a_capture_finds_nothing_of_the_one_before_in_its_reused_tab() -> None:
    import json

    executable = find_browser()
    assert executable is not None
    seen: list[str] = []
    with serving(pages_app(seen=seen)) as base:
        pool = BrowserPool(executable, concurrency=1)
        try:
            for _ in range(3):
                pool.run(partial(capture, url=f"{base}/leftovers", fmt="png", timeout=10))
                ticks = seen.count("tick")
                time.sleep(0.4)
                # The page was left when its capture ended: its script sends nothing more.
                assert seen.count("tick") == ticks
            pool.run(partial(capture, url=f"{base}/leftovers", fmt="pdf", timeout=10))
            # One warm tab served all four captures.
            assert len(capture_module._FREE[id(pool.run(_browser))][1]) == 1
        finally:
            pool.close()
    found = [json.loads(s) for s in seen if s != "tick"]
    # Each capture left storage and a cookie; none of them found the previous one's.
    assert found == [{"local": None, "session": None, "cookie": ""}] * 4


async def _browser(browser: object) -> object:
    return browser


def test_a_crashed_browser_is_started_again(pool: BrowserPool, site: str) -> None:
    import psutil

    pool.warm()
    for pid in pool.browser_pids():
        psutil.Process(pid).kill()
    time.sleep(0.5)
    shot = pool.run(partial(capture, url=f"{site}/ready", fmt="png", timeout=10))
    assert read_png(shot.data).width == 1440


def test_no_browser_is_a_clear_503(tmp_path: object) -> None:
    settings = Settings(screenshot_browser="/nonexistent/chromium")
    import toucan.screenshots.browser as browser

    saved = browser._pool
    browser._pool = None
    try:
        with pytest.raises(ServiceUnavailable) as missing:
            pool_for(settings)
    finally:
        browser._pool = saved
    assert "/nonexistent/chromium is not installed" in missing.value.message
    assert "toucan-ctl doctor screenshot" in missing.value.message
