"""docs/configuration.md from the Settings class (written and checked by toucan.reference_docs)."""

from __future__ import annotations

from pathlib import Path

from pydantic_core import PydanticUndefined

from toucan.settings import Settings

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

HEADER = """# Configuration

<!-- Generated from src/toucan/settings.py by `make docs`; do not edit by hand. -->

Every setting is an environment variable. The defaults give the embedded stack
(`make run`): SQLite and files under the data dir, no other service. Lists are JSON
(`TOUCAN_CORS_ORIGINS='["https://toucan.example.com"]'`), as in the FAQ.

| Variable | Default | Description |
|---|---|---|
"""


def _default(field_name: str) -> str:
    field = Settings.model_fields[field_name]
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined or field.default is None:
        return "—"
    else:
        value = field.default
    return f"`{value}`"


def render() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `TOUCAN_{name.upper()}` | {_default(name)} | {description} |")
    return HEADER + "\n".join(rows) + "\n"
