"""The test tree: helpers live in tests/helpers/, never in a conftest, and test folders are
named after the src/toucan package they test (plus the cross-cutting ones below)."""

from __future__ import annotations

import re

from tests.helpers import ROOT

TESTS = ROOT / "tests"
# Folders that cut across packages: attacks on each boundary, tests in a real browser, the
# deployment files of deploy/ (proxies, images; the images run by make test-deploy).
CROSS_CUTTING = {"helpers", "security", "browser", "deploy"}


def test_no_test_imports_from_a_conftest() -> None:
    importing = [
        str(path.relative_to(ROOT))
        for path in TESTS.rglob("*.py")
        if "node_modules" not in path.parts
        and re.search(
            r"^\s*(from tests(\.\w+)*\.conftest import|import tests(\.\w+)*\.conftest)", path.read_text(), re.M
        )
    ]
    assert importing == [], "import helpers from tests/helpers/, not from a conftest"


def test_test_folders_mirror_src_packages() -> None:
    packages = {p.name for p in (ROOT / "src" / "toucan").iterdir() if p.is_dir() and any(p.glob("*.py"))}
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders - CROSS_CUTTING <= packages, sorted(folders - CROSS_CUTTING - packages)
