"""docs/connectors.md documents every connector type, its extra and every provider and source field."""

from __future__ import annotations

import importlib

import pytest
from pydantic import BaseModel

from tests.helpers import ROOT
from toucan.connectors import http_api
from toucan.connectors.base import Connector
from toucan.connectors.network import RetryPolicy
from toucan.connectors.types import TYPES

DOC = (ROOT / "docs" / "connectors.md").read_text()


def _fields(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _class(type_name: str) -> type[Connector]:
    entry = TYPES[type_name]
    cls: type[Connector] = getattr(importlib.import_module(f"toucan.connectors.{entry.module}"), entry.class_name)
    return cls


@pytest.mark.parametrize("type_name", list(TYPES))
def test_every_type_its_extra_and_its_fields_are_documented(type_name: str) -> None:
    entry = TYPES[type_name]
    row = next((line for line in DOC.splitlines() if line.startswith(f"| `{type_name}` |")), None)
    assert row is not None, f"{type_name}: add its row to the types table"
    assert f"| `{entry.extra}` |" in row if entry.extra else "(built in)" in row
    for alias in entry.aliases:
        assert f"`{alias}`" in DOC
    cls = _class(type_name)
    undocumented = {f for f in _fields(cls.config_model) | _fields(cls.source_model) if f"`{f}`" not in DOC}
    assert not undocumented, f"{type_name}: document {sorted(undocumented)} in docs/connectors.md"


@pytest.mark.parametrize(
    "model",
    [
        http_api.BasicAuth,
        http_api.BearerAuth,
        http_api.ApiKeyAuth,
        http_api.OAuth2ClientCredentials,
        http_api.PagePagination,
        http_api.OffsetPagination,
        http_api.CursorPagination,
        http_api.NextUrlPagination,
        RetryPolicy,
    ],
)
def test_http_api_options_are_documented(model: type[BaseModel]) -> None:
    undocumented = {f for f in _fields(model) if f'"{f}"' not in DOC and f"`{f}`" not in DOC}
    assert not undocumented, f"{model.__name__}: document {sorted(undocumented)}"


def test_the_credential_fields_of_every_type_are_documented() -> None:
    """The Secrets table of docs/connectors.md lists, for each type, exactly the fields its options
    model declares as taking `{{ secrets.name }}`."""
    section = DOC.split("## Secrets", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    for type_name in TYPES:
        row = next((r for r in rows if f"`{type_name}`" in r.split("|")[1]), None)
        assert row is not None, f"{type_name}: add it to the Secrets table"
        listed = row.split("|")[2]
        declared = _class(type_name).config_model.credential_fields
        names = {f.removesuffix(".*") for f in declared}
        assert all(f"`{name}`" in listed for name in names), (type_name, declared, listed)
        assert not declared or "none" not in listed, type_name
