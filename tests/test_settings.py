"""The settings class: defaults, the replaced MongoDB settings, generated docs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from toucan import settings_doc
from toucan.settings import ReplacedSettingError, Settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_give_the_embedded_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("TOUCAN_"):
            monkeypatch.delenv(key)
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'toucan.sqlite'}"
    assert settings.resolved_readonly_url == settings.resolved_database_url
    assert settings.redis_url is None
    assert settings.gunicorn_workers == 5
    assert settings.port == 8000


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOUCAN_GUNICORN_WORKERS", "9")
    monkeypatch.setenv("TOUCAN_CORS_ORIGINS", '["https://a.example", "https://b.example"]')
    monkeypatch.setenv("TOUCAN_DATABASE_READONLY_URL", "postgresql+psycopg://ro@db/toucan")
    settings = Settings()
    assert settings.gunicorn_workers == 9
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.resolved_readonly_url == "postgresql+psycopg://ro@db/toucan"


@pytest.mark.parametrize(
    ("variable", "replacement"),
    [
        ("TOUCAN_MONGODB_HOST", "TOUCAN_DATABASE_URL"),
        ("TOUCAN_MONGODB_READONLY_HOST", "TOUCAN_DATABASE_READONLY_URL"),
    ],
)
def test_mongodb_settings_stop_start_up_naming_their_replacement(
    monkeypatch: pytest.MonkeyPatch, variable: str, replacement: str
) -> None:
    monkeypatch.setenv(variable, "mongodb://mongo:27017/api-toucan")
    with pytest.raises(Exception) as info:
        Settings()
    cause = info.value.errors()[0]["ctx"]["error"]  # type: ignore[attr-defined]
    assert isinstance(cause, ReplacedSettingError)
    assert replacement in str(cause) and variable in str(cause)
    # Every mention names the variable: no template left unfilled.
    assert "{" not in str(cause) and str(cause).endswith(f"then unset {variable}.")


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    key = settings.resolved_secret_key()
    assert len(key) >= 40
    assert Settings(data_dir=tmp_path).resolved_secret_key() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path, secret_key="given").resolved_secret_key() == "given"


def test_configuration_doc_is_generated_from_the_class() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    assert doc == settings_doc.render(), "docs/configuration.md is stale: run `make docs`"
    documented = set(re.findall(r"`(TOUCAN_[A-Z_]+)`", doc.split("| Variable |")[1]))
    assert documented == {f"TOUCAN_{name.upper()}" for name in Settings.model_fields}


def test_every_toucan_variable_in_the_code_is_declared_in_settings() -> None:
    declared = {f"TOUCAN_{name.upper()}" for name in Settings.model_fields}
    used: set[str] = set()
    for path in (ROOT / "src").rglob("*.py"):
        used |= set(re.findall(r"\b(TOUCAN_[A-Z][A-Z_]*[A-Z])\b", path.read_text()))
    assert used <= declared, f"undeclared: {sorted(used - declared)}"


def test_doc_check_command_fails_when_stale(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "toucan.reference_docs", "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
