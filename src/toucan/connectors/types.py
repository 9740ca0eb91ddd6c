"""The connector types: name → family module, class and extra. The one place to add a type.

A leaf: the family modules import `missing_driver_error` from here, and the registry loads
them by name (importlib), so nothing here may import a family module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from toucan.connectors.base import MissingDriver
from toucan.errors import ErrorCode, ValidationError


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
        ConnectorType("postgres", "postgres", "PostgresConnector", None, "PostgreSQL", ("Postgres", "postgresql")),
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


def find_type(type_name: object) -> ConnectorType | None:
    """The type of that name (former names such as `Postgres` or `HttpAPI` accepted), or None."""
    return _LOOKUP.get(_key(type_name)) if isinstance(type_name, str) else None


def connector_type(type_name: str) -> ConnectorType:
    """The type of that name (former names such as `Postgres` or `HttpAPI` accepted); 400 when unknown."""
    entry = find_type(type_name)
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
