"""Docs generated from code stay generated: error codes in docs/api.md, settings in configuration.md."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT
from toucan import reference_docs
from toucan.errors import ErrorCode, ToucanError
from toucan.reference_docs import Generated


def test_the_generated_docs_are_current() -> None:
    assert reference_docs.stale() == [], "run `make docs`"
    result = subprocess.run(
        [sys.executable, "-m", "toucan.reference_docs", "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_api_doc_lists_every_error_code_once() -> None:
    table = (ROOT / "docs" / "api.md").read_text().split("<!-- error-codes:start -->")[1].split("<!--")[0]
    listed = re.findall(r"^\| `([a-z_]+)` \|", table, re.M)
    assert sorted(listed) == sorted(code.value for code in ErrorCode)
    assert len(listed) == len(set(listed))


def test_a_stale_part_is_found_and_rewritten_between_its_markers(tmp_path: Path) -> None:
    path = tmp_path / "doc.md"
    path.write_text("intro\n<!-- part:start -->\nold\n<!-- part:end -->\noutro\n")
    doc = Generated(path, lambda: "new\n", marker="part")
    assert not doc.is_current()
    path.write_text(doc.expected())
    assert path.read_text() == "intro\n<!-- part:start -->\nnew\n<!-- part:end -->\noutro\n"
    assert doc.is_current()
    path.write_text("no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        doc.expected()


def test_every_error_code_in_the_code_is_declared() -> None:
    """No error code is written as a bare string: each comes from ErrorCode (mypy checks the
    calls; this catches what mypy cannot see, such as a dict or a default argument)."""
    bare = []
    for path in (ROOT / "src").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"\bcode\s*[=:]\s*\"[a-z_]+\"", line) and "ErrorCode" not in line:
                bare.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert bare == []
    classes = {cls.code for cls in _subclasses(ToucanError)} | {ToucanError.code}
    assert all(isinstance(code, ErrorCode) for code in classes)


def test_every_code_has_a_meaning_and_a_status() -> None:
    for code in ErrorCode:
        assert code.meaning.endswith(".") and len(code.meaning) > 15, code
        assert code.status == 0 or 400 <= code.status < 600, code


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found
