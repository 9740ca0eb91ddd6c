"""MongoDB through pymongo (extra `mongo`): a source reads a collection with a `query`, either a
find filter (an object) or an aggregation pipeline (a list of stages).

`{{ name }}` placeholders in the query take the source's `parameters`; a placeholder alone
keeps the value's type (`{"year": "{{ year }}"}` with year = 2024 matches the number).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, SecretStr

from toucan.connectors.base import (
    Connector,
    ConnectorError,
    ConnectorSource,
    ConnectorStatus,
    ProviderConfig,
    SourceQueryError,
    records_to_table,
)
from toucan.connectors.network import check_database_reach, port_open
from toucan.errors import ErrorCode, QueryTimeout, ValidationError

if TYPE_CHECKING:
    import pyarrow as pa


class MongoConfig(ProviderConfig):
    host: str = Field(min_length=1, description="Host name; with `srv`, the DNS seed list name.")
    port: int = Field(default=27017, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    database: str | None = Field(default=None, description="Default database of the sources.")
    auth_source: str | None = Field(default=None, description="Database holding the user (default: `admin`).")
    tls: bool = False
    srv: bool = Field(default=False, description="`mongodb+srv://` (MongoDB Atlas).")
    replica_set: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="Other MongoClient options.")

    credential_fields: ClassVar[tuple[str, ...]] = ("password",)


class MongoSource(ConnectorSource):
    database: str | None = Field(default=None, description="Default: the provider's `database`.")
    collection: str = Field(min_length=1)
    query: dict[str, Any] | list[dict[str, Any]] = Field(
        default_factory=dict, description="A find filter (object) or an aggregation pipeline (list of stages)."
    )


def build_pipeline(
    query: Mapping[str, Any] | list[dict[str, Any]], parameters: Mapping[str, Any], limit: int | None
) -> list[dict[str, Any]]:
    """The aggregation pipeline of a source's query: parameters applied, a find filter as `$match`,
    `$limit` last when a limit is given."""
    from toucan.templating import render

    rendered = render(query if isinstance(query, list) else dict(query), parameters)
    pipeline: list[dict[str, Any]] = list(rendered) if isinstance(rendered, list) else [{"$match": rendered}]
    for index, stage in enumerate(pipeline):
        if not isinstance(stage, dict) or len(stage) != 1 or not next(iter(stage)).startswith("$"):
            raise ValidationError(
                f"Stage {index} of the pipeline must be an object with one `$` operator, e.g. {{'$match': {{...}}}}.",
                details={"stage": index},
            )
    if limit is not None:
        pipeline.append({"$limit": limit})
    return pipeline


def client_options(config: MongoConfig, timeout: float) -> dict[str, Any]:
    """MongoClient keyword arguments (the password as an argument, never inside a URI)."""
    milliseconds = max(1, int(timeout * 1000))
    options: dict[str, Any] = {
        "host": f"mongodb+srv://{config.host}" if config.srv else config.host,
        "serverSelectionTimeoutMS": milliseconds,
        "connectTimeoutMS": milliseconds,
        "socketTimeoutMS": milliseconds,
        "tz_aware": True,
        "appname": "toucan",
    }
    if not config.srv:
        options["port"] = config.port
    if config.username is not None:
        options["username"] = config.username
    if config.password is not None:
        options["password"] = config.password.get_secret_value()
    if config.auth_source:
        options["authSource"] = config.auth_source
    if config.tls:
        options["tls"] = True
    if config.replica_set:
        options["replicaSet"] = config.replica_set
    return {**options, **config.options}


def plain(value: Any) -> Any:
    """A BSON value as Arrow can hold it: ObjectId → text, Decimal128 → Decimal, nested values recursively."""
    type_name = type(value).__name__
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if type_name == "Decimal128":
        return value.to_decimal()
    if type_name in ("ObjectId", "Regex", "Code", "Timestamp", "MinKey", "MaxKey", "DBRef", "UUID"):
        return str(value)
    return value


def documents_to_table(documents: list[Mapping[str, Any]]) -> pa.Table:
    return records_to_table([plain(dict(document)) for document in documents])


class MongoConnector(Connector):
    config: MongoConfig
    config_model = MongoConfig
    source_model = MongoSource
    type_name = "mongo"

    def _client(self) -> Any:
        try:
            import pymongo
        except ImportError:
            from toucan.connectors.types import missing_driver_error

            raise missing_driver_error(self.type_name) from None
        if not self.config.srv:
            check_database_reach(self.settings, self.config.host, self.config.port)
        return pymongo.MongoClient(**client_options(self.config, self.timeout))

    def _database(self, source: MongoSource) -> str:
        database = source.database or self.config.database
        if not database:
            raise ValidationError(
                f"The data source {source.domain!r} names no database, and provider {self.name!r} has no default one.",
                details={"field": "database"},
            )
        return database

    def fetch(self, source: Mapping[str, Any] | ConnectorSource, *, limit: int | None = None) -> pa.Table:
        parsed = self.parse_source(source)
        assert isinstance(parsed, MongoSource)
        self.check_limit(limit)
        pipeline = build_pipeline(parsed.query, parsed.parameters, limit)
        database = self._database(parsed)
        client = self._client()
        from pymongo import errors  # importable: _client checked the driver

        try:
            collection = client[database][parsed.collection]
            documents = list(collection.aggregate(pipeline, maxTimeMS=max(1, int(self.timeout * 1000))))
        except errors.ExecutionTimeout:
            raise QueryTimeout(
                f"The query on mongo provider {self.name!r} took longer than {self.timeout:g} s.",
                code=ErrorCode.CONNECTOR_TIMEOUT,
            ) from None
        except (errors.ServerSelectionTimeoutError, errors.ConnectionFailure) as exc:
            raise ConnectorError(
                f"Cannot reach mongo provider {self.name!r} at {self.config.host}:{self.config.port}: "
                f"{_short(self.redact(str(exc)))}",
                details={"provider": self.name},
            ) from None
        except errors.OperationFailure as exc:
            if exc.code in (13, 18):  # Unauthorized, AuthenticationFailed
                raise ConnectorError(
                    f"mongo provider {self.name!r} refused the login: {_short(self.redact(str(exc)))}"
                ) from None
            raise SourceQueryError(
                f"The query failed on mongo provider {self.name!r}: {_short(self.redact(str(exc)))}",
                details={"provider": self.name},
            ) from None
        except errors.PyMongoError as exc:
            raise ConnectorError(f"mongo provider {self.name!r} failed: {_short(self.redact(str(exc)))}") from None
        finally:
            client.close()
        return documents_to_table(documents)

    def status(self) -> ConnectorStatus:
        state: dict[str, Any] = {}
        steps: list[tuple[str, Any]] = []
        if not self.config.srv:
            host, port = self.config.host, self.config.port
            steps += [
                ("host allowed", lambda: check_database_reach(self.settings, host, port)),
                ("port open", lambda: port_open(host, port, self.timeout)),
            ]

        def authenticate() -> str:
            state["client"] = self._client()
            state["client"].admin.command("ping")
            return "connected" + (f" as {self.config.username}" if self.config.username else "")

        def query() -> str:
            database = self.config.database or "admin"
            names = state["client"][database].list_collection_names()
            return f"{len(names)} collections in {database}"

        steps += [("authenticated", authenticate), ("query ran", query)]
        try:
            return self.run_steps(steps)
        finally:
            if "client" in state:
                state["client"].close()


def _short(text: str) -> str:
    # pymongo's messages can carry a topology description hundreds of characters long.
    return " ".join(text.split())[:300]
