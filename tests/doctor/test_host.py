"""`toucan-ctl doctor`'s checks of this host: Chromium, fonts, the builder-code sandbox and the
connector extras, each passing here and failing (or warning) with the fix when broken."""

from __future__ import annotations

from pathlib import Path

from toucan.doctor.findings import Verdict
from toucan.doctor.host import check_chromium, check_extras, check_fonts, check_sandbox
from toucan.settings import Settings


def _program(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def test_chromium_starts_here() -> None:
    finding = check_chromium()
    assert finding.verdict == Verdict.OK and "Chromium" in finding.summary


def test_no_chromium_or_a_broken_one(tmp_path: Path) -> None:
    missing = check_chromium(path=str(tmp_path))
    assert missing.verdict == Verdict.WARN and "apt-get install -y chromium" in (missing.fix or "")
    _program(tmp_path, "chromium", "echo 'error while loading shared libraries: libnss3.so' >&2; exit 127")
    broken = check_chromium(path=str(tmp_path))
    assert broken.verdict == Verdict.FAIL and "libnss3" in broken.summary


def test_fonts_here_none_or_no_fontconfig(tmp_path: Path) -> None:
    assert check_fonts().verdict == Verdict.OK
    assert "fontconfig" in (check_fonts(path=str(tmp_path)).fix or "")
    _program(tmp_path, "fc-list", "exit 0")
    empty = check_fonts(path=str(tmp_path))
    assert empty.verdict == Verdict.WARN and "fonts-dejavu-core" in (empty.fix or "")
    _program(tmp_path, "fc-list", "echo 'Some Symbols'")
    narrow = check_fonts(path=str(tmp_path))
    assert narrow.verdict == Verdict.WARN and "none of" in narrow.summary


def test_the_sandbox_holds_here_and_fails_without_bubblewrap(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert check_sandbox(settings).verdict == Verdict.OK
    broken = check_sandbox(settings.model_copy(update={"builder_code_bwrap": str(tmp_path / "no-bwrap")}))
    assert broken.verdict == Verdict.FAIL
    assert "toucan-ctl doctor sandbox" in (broken.fix or "") and "bubblewrap" in (broken.fix or "")
    off = check_sandbox(settings.model_copy(update={"builder_code_sandbox": "none"}))
    assert off.verdict == Verdict.WARN and "TOUCAN_BUILDER_CODE_SANDBOX" in off.summary


def test_connector_extras_installed_or_not(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert check_extras(settings).verdict == Verdict.OK
    assert check_extras(settings.model_copy(update={"extra_connectors": ["mysql"]})).verdict == Verdict.OK
    missing = check_extras(settings.model_copy(update={"extra_connectors": ["mysql", "oracle"]}))
    assert missing.verdict == Verdict.FAIL
    assert missing.fix is not None and "toucan-ctl install_connectors oracle" in missing.fix
    unknown = check_extras(settings.model_copy(update={"extra_connectors": ["nosuchdb"]}))
    assert unknown.verdict == Verdict.FAIL and "oracle" in (unknown.fix or "")
