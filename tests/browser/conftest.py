"""Browser tests: the real stack (`toucan-ctl serve` with the built frontend) driven by
Debian's Chromium through Playwright. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.helpers import ROOT, TOUCAN_CTL, chromium, clean_env, running_server
from tests.helpers.browser import ADMIN_PASSWORD, DEMO_PASSWORD, record_errors


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (ROOT / "frontend" / "dist" / "index.html").exists():
        pytest.fail("frontend/dist is missing: `make frontend` builds it (make test does)")
    data_dir = tmp_path_factory.mktemp("browser-data")
    env = clean_env(TOUCAN_DATA_DIR=str(data_dir), TOUCAN_SUPER_ADMIN_PASSWORD=ADMIN_PASSWORD)
    seeded = subprocess.run(
        [*TOUCAN_CTL, "demo", "--rows", "3000", "--users-password", DEMO_PASSWORD],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    with running_server(env) as (base, _proc):
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = record_errors(context.new_page())
    yield page
    context.close()
