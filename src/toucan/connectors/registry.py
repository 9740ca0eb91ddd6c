"""The connector types: name → class, family module and extra. The one place to add a type.

Classes load on demand, so listing the types imports no driver; a type whose extra is not
installed is listed as such, and using it says which command installs it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError

from toucan.connectors.base import MissingDriver
from toucan.connectors.extras import missing_extras
from toucan.errors import ErrorCode, ValidationError
from toucan.formats import raise_for_validation

if TYPE_CHECKING:
    from toucan.connectors.base import Connector
    from toucan.settings import Settings


@dataclass(frozen=True)
class ConnectorType:
    name: str
    module: str  # the family: toucan.connectors.<module>
    class_name: str
    extra: str | None  # the optional dependencies it needs, see toucan.connectors.extras
    label: str
    aliases: tuple[str, ...] = ()  # type names of the product's former connectors


TYPES: dict[str, ConnectorType] = {
    entry.name: entry
    for entry in (
        ConnectorType("postgres", "sql", "PostgresConnector", None, "PostgreSQL", ("Postgres", "postgresql")),
        ConnectorType("mysql", "sql", "MySQLConnector", "mysql", "MySQL and MariaDB", ("MySQL", "mariadb")),
        ConnectorType("mssql", "sql", "MSSQLConnector", "mssql", "Microsoft SQL Server", ("MSSQL",)),
        ConnectorType("azure_mssql", "sql", "AzureMSSQLConnector", "azure_mssql", "Azure SQL", ("AzureMSSQL",)),
        ConnectorType("oracle", "sql", "OracleConnector", "oracle", "Oracle Database", ("OracleSQL",)),
        ConnectorType("snowflake", "warehouses", "SnowflakeConnector", "snowflake", "Snowflake", ("Snowflake",)),
        ConnectorType(
            "bigquery", "warehouses", "BigQueryConnector", "bigquery", "Google BigQuery", ("GoogleBigQuery",)
        ),
        ConnectorType("clickhouse", "warehouses", "ClickHouseConnector", "clickhouse", "ClickHouse", ("Clickhouse",)),
        ConnectorType("sqlite", "sql", "SQLiteConnector", None, "SQLite file", ("SQLite",)),
        ConnectorType("duckdb", "sql", "DuckDBConnector", None, "DuckDB file", ("DuckDB",)),
        ConnectorType("http_api", "http_api", "HttpApiConnector", None, "HTTP API (JSON)", ("HttpAPI",)),
        ConnectorType("mongo", "mongo", "MongoConnector", "mongo", "MongoDB", ("MongoDB",)),
    )
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_LOOKUP = {_key(alias): entry for entry in TYPES.values() for alias in (entry.name, *entry.aliases)}


@dataclass(frozen=True)
class ConnectorInfo:
    type: str
    label: str
    family: str
    extra: str | None
    installed: bool


def connector_type(type_name: str) -> ConnectorType:
    """The type of that name (former names such as `Postgres` or `HttpAPI` accepted); 400 when unknown."""
    entry = _LOOKUP.get(_key(type_name)) if isinstance(type_name, str) else None
    if entry is None:
        raise ValidationError(
            f"Unknown connector type {type_name!r}. Known types: {', '.join(TYPES)}.",
            details={"type": type_name, "known": list(TYPES)},
            code=ErrorCode.UNKNOWN_CONNECTOR_TYPE,
        )
    return entry


def missing_driver_error(type_name: str, cause: str | None = None) -> MissingDriver:
    """The error of a type whose driver is missing: it names the command that installs it."""
    entry = connector_type(type_name)
    extra = entry.extra
    how = (
        f"Install it with `toucan-ctl install_connectors {extra}` (or add {extra!r} to TOUCAN_EXTRA_CONNECTORS) "
        "and restart the stack."
        if extra
        else "Reinstall the stack."
    )
    system = (
        " The Microsoft ODBC driver (msodbcsql18) must be installed on the host too."
        if extra
        in (
            "mssql",
            "azure_mssql",
        )
        else ""
    )
    return MissingDriver(
        f"The {entry.name} connector needs a driver that is not installed. {how}{system}"
        + (f" ({cause})" if cause else ""),
        details={"type": entry.name, "extra": extra},
    )


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
    entry = _LOOKUP.get(_key(type_name)) if isinstance(type_name, str) else None
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
