"""Connectors by type: classes loaded on demand (see toucan.connectors.types, the one place
to add a type), so listing the types imports no driver; a type whose extra is not installed is
listed as such, and using it says which command installs it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError

from toucan.connectors.extras import missing_extras
from toucan.connectors.types import TYPES, connector_type, find_type, missing_driver_error
from toucan.errors import ValidationError
from toucan.formats import raise_for_validation

if TYPE_CHECKING:
    from toucan.connectors.base import Connector
    from toucan.settings import Settings


@dataclass(frozen=True)
class ConnectorInfo:
    type: str
    label: str
    family: str
    extra: str | None
    installed: bool


def get_connector_class(type_name: str) -> type[Connector]:
    """The class of a connector type; 400 when the type is unknown or its driver is not installed."""
    entry = connector_type(type_name)
    if entry.extra and missing_extras([entry.extra]):
        raise missing_driver_error(entry.name)
    module = importlib.import_module(f"toucan.connectors.{entry.module}")
    cls: type[Connector] = getattr(module, entry.class_name)
    return cls


def credential_fields(type_name: Any) -> tuple[str, ...] | None:
    """The fields of a provider of that type that may hold secrets (dotted, `*` for any key),
    as its options model declares them; None when the type is unknown. Works whether or not
    the type's driver is installed: the family modules import no driver."""
    entry = find_type(type_name)
    if entry is None:
        return None
    cls: type[Connector] = getattr(importlib.import_module(f"toucan.connectors.{entry.module}"), entry.class_name)
    return cls.config_model.credential_fields


def list_connectors() -> list[ConnectorInfo]:
    """Every type, its extra and whether that extra is installed."""
    missing = set(missing_extras(sorted({entry.extra for entry in TYPES.values() if entry.extra})))
    return [
        ConnectorInfo(entry.name, entry.label, entry.module, entry.extra, entry.extra not in missing)
        for entry in TYPES.values()
    ]


def build_connector(
    provider: Mapping[str, Any],
    settings: Settings,
    *,
    timeout: float | None = None,
    files_dir: Path | None = None,
    secrets: Iterable[str] = (),
) -> Connector:
    """A connector from one `DATA_PROVIDERS` entry; a bad entry is a 400 naming the field.

    `timeout` (default TOUCAN_CONNECTOR_TIMEOUT) limits connecting and each query;
    `files_dir` is where relative paths of SQLite and DuckDB files point (the app's files);
    `secrets` are the app's secret values, hidden in the connector's messages.
    """
    if not isinstance(provider, Mapping):
        raise ValidationError("A data provider must be an object with `name` and `type`.")
    name = provider.get("name")
    if "type" not in provider:
        raise ValidationError(
            f"The data provider {name!r} has no `type`. Known types: {', '.join(TYPES)}.",
            details={"errors": [{"path": "type", "message": "Field required"}]},
        )
    cls = get_connector_class(provider["type"])
    try:
        config = cls.config_model.model_validate(dict(provider))
    except PydanticValidationError as exc:
        raise_for_validation(exc, f"{cls.type_name} data provider {name!r}")
        raise  # unreachable: raise_for_validation always raises
    return cls(config, settings, timeout=timeout, files_dir=files_dir, secrets=secrets)
