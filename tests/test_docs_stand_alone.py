"""The docs stand alone: every file they link to or name is in the repository, and none
points to a design file outside it (ARCHITECTURE.md) or to the machine's own folders."""

from __future__ import annotations

import re

from tests.helpers import ROOT
from toucan import settings_doc

DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", ROOT / "SECURITY.md"]


def test_docs_and_settings_never_point_outside_the_repository() -> None:
    texts = {path.name: path.read_text() for path in DOCS}
    texts["settings descriptions"] = settings_doc.render()
    for name, text in texts.items():
        assert "ARCHITECTURE.md" not in text, f"{name} points to ARCHITECTURE.md: use docs/architecture.md"
        assert not re.search(r"/work/|/home/\w+/", text), f"{name} names a folder of some machine"


def test_every_relative_link_of_the_docs_resolves() -> None:
    broken = []
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)} -> {target}")
    assert broken == []
