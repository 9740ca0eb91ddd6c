"""The interface every connector implements, and the models its providers and sources share.

A *provider* is one `DATA_PROVIDERS` entry of an etl_config: how to reach a system
(`{"name": "crm", "type": "postgres", "host": ...}`). A *data source* is one connector entry
of `DATA_SOURCES`: what to read from a provider (`{"domain": "sales", "name": "crm",
"query": ...}`). A connector is built from a provider and reads sources into Arrow tables.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic import ValidationError as PydanticValidationError

from toucan.errors import ErrorCode, ToucanError, ValidationError
from toucan.formats import raise_for_validation
from toucan.redaction import Redactor
from toucan.settings import Settings

if TYPE_CHECKING:  # Arrow loads on the first fetch, not at start-up
    import pyarrow as pa

log = logging.getLogger("toucan.connectors")


class ConnectorError(ToucanError):
    """The remote side failed: unreachable, refused the login, or answered with an error."""

    status = 502
    code = ErrorCode.CONNECTOR_ERROR


class SourceQueryError(ToucanError):
    """The remote side refused what a data source asks for (bad SQL, unknown table, bad filter)."""

    status = 400
    code = ErrorCode.SOURCE_QUERY_FAILED


class MissingDriver(ToucanError):
    """The connector type's driver (its extra) is not installed; the message says how to install it."""

    status = 400
    code = ErrorCode.MISSING_CONNECTOR_DRIVER


class ProviderConfig(BaseModel):
    """One `DATA_PROVIDERS` entry. Each connector type adds its connection fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The fields that may hold `{{ secrets.name }}`: where credentials go (passwords, tokens,
    # API-key headers, connection URLs), as dotted paths, `*` for any key of a mapping. Only
    # fields whose value the remote side cannot hand back as data or as a setting: not user
    # names (`SELECT current_user`), nor driver options (`current_setting(...)`).
    credential_fields: ClassVar[tuple[str, ...]] = ()

    name: str = Field(min_length=1, description="The name data sources use to refer to this provider.")
    type: str = Field(min_length=1, description="The connector type, e.g. `postgres` (see `toucan-ctl connectors`).")


class ConnectorSource(BaseModel):
    """One connector entry of `DATA_SOURCES`. Each connector type adds what to read (`query`, `url`, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: str = Field(min_length=1, description="The domain (table) the data is loaded into or queried as.")
    name: str = Field(min_length=1, description="The `DATA_PROVIDERS` entry to read from.")
    type: str | None = Field(default=None, description="Optional; when given, the provider's type.")
    load: bool = Field(default=True, description="Loaded by preprocess.")
    live_data: bool = Field(default=False, description="Queried at request time instead of loaded.")
    cache_ttl: int | None = Field(default=None, ge=0, description="Seconds live results stay cached.")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Values for the source's placeholders (`:name` in SQL, `{{ name }}`)."
    )


@dataclass(frozen=True)
class StatusStep:
    """One step of a status check; `ok` is None when it was not run because an earlier step failed."""

    name: str
    ok: bool | None
    detail: str = ""


@dataclass(frozen=True)
class ConnectorStatus:
    ok: bool
    steps: list[StatusStep]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "steps": [asdict(step) for step in self.steps]}


class Connector(ABC):
    """Reads data sources of one provider. Subclasses set the three class attributes."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[ProviderConfig]]
    source_model: ClassVar[type[ConnectorSource]]

    def __init__(
        self,
        config: ProviderConfig,
        settings: Settings,
        *,
        timeout: float | None = None,
        files_dir: Path | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.config = config
        self.settings = settings
        # The provider's own secret fields, and the app's secret values it was rendered with (a
        # header is no SecretStr): hidden in every message, before any is cut short.
        self._redactor = Redactor([*_secrets(config), *secrets])
        # Connect and per-request time limit; preprocess may give a longer one than live data.
        self.timeout = timeout if timeout is not None else settings.connector_timeout
        # Where relative file paths of file databases (SQLite, DuckDB) point: the app's files.
        self.files_dir = files_dir

    @property
    def name(self) -> str:
        return self.config.name

    def parse_source(self, source: Mapping[str, Any] | ConnectorSource) -> ConnectorSource:
        """Validate one `DATA_SOURCES` entry for this connector type (400 naming the bad field)."""
        if isinstance(source, self.source_model):
            return source
        raw = source.model_dump() if isinstance(source, ConnectorSource) else source
        if not isinstance(raw, Mapping):
            raise ValidationError("A data source must be an object.", details={"source": type(raw).__name__})
        try:
            return self.source_model.model_validate(raw)
        except PydanticValidationError as exc:
            raise_for_validation(exc, f"data source {raw.get('domain')!r} of {self.type_name} provider {self.name!r}")
            raise  # unreachable: raise_for_validation always raises

    @abstractmethod
    def fetch(self, source: Mapping[str, Any] | ConnectorSource, *, limit: int | None = None) -> pa.Table:
        """Read the source's rows (at most `limit`) as an Arrow table."""

    @contextmanager
    def stream(
        self, source: Mapping[str, Any] | ConnectorSource, *, limit: int | None = None
    ) -> Iterator[pa.RecordBatchReader]:
        """The source's rows as Arrow record batches, to be read once inside the block. Connectors
        that can stream (PostgreSQL) hold one batch at a time; the others read the whole table first."""
        yield self.fetch(source, limit=limit).to_reader()

    @abstractmethod
    def status(self) -> ConnectorStatus:
        """Check the provider step by step (resolve, connect, authenticate, query)."""

    def close(self) -> None:  # noqa: B027 - connectors without connections have nothing to release
        """Release connections; the connector may not be used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # Helpers for subclasses ---------------------------------------------------------

    def redact(self, text: str) -> str:
        """`text` with every secret of the provider (passwords, tokens, keys, the app's secrets
        it uses) and their usual forms (any case, percent-encoded, base64…) replaced by `***`."""
        return self._redactor(text)

    def check_limit(self, limit: int | None) -> None:
        if limit is not None and limit < 0:
            raise ValidationError(f"limit must be 0 or more, not {limit}.", details={"limit": limit})

    def run_steps(self, steps: Sequence[tuple[str, Callable[[], str]]]) -> ConnectorStatus:
        """Run status steps in order; each returns its detail or raises. Steps after a failure are not run."""
        results: list[StatusStep] = []
        failed = False
        for name, step in steps:
            if failed:
                results.append(StatusStep(name, None, "not checked: an earlier step failed"))
                continue
            try:
                results.append(StatusStep(name, True, self.redact(step())))
            except Exception as exc:  # any failure is the step's result, not an error of the check
                failed = True
                detail = exc.message if isinstance(exc, ToucanError) else f"{type(exc).__name__}: {exc}"
                results.append(StatusStep(name, False, self.redact(detail)))
                log.info("Status of %s provider %r: %s failed: %s", self.type_name, self.name, name, results[-1].detail)
        return ConnectorStatus(ok=not failed, steps=results)


def _secrets(value: Any) -> Iterable[str]:
    """Every SecretStr value inside a model, recursively."""
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if secret:
            yield secret
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secrets(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _secrets(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secrets(item)


# Arrow conversion ------------------------------------------------------------------------


def unique_names(names: Sequence[str]) -> list[str]:
    """Column names made unique (`a`, `a_2`), since Parquet and DuckDB refuse duplicates."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        result.append(name if count == 1 else f"{name}_{count}")
    return result


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def to_array(values: list[Any]) -> pa.Array:
    """An Arrow array with the type Arrow infers; values it cannot type together become text."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError):
        return pa.array([_as_text(value) for value in values], pa.string())


def rows_to_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows (tuples in `columns` order) as an Arrow table."""
    import pyarrow as pa

    arrays = [to_array([row[index] for row in rows]) for index in range(len(columns))]
    return pa.Table.from_arrays(arrays, names=unique_names(list(columns)))


def concat_tables(tables: Sequence[pa.Table]) -> pa.Table:
    """Batches of one result as one table: types widened across batches (null → int → float);
    a column typed differently by two batches (numbers in one, text in another) becomes text."""
    import pyarrow as pa

    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        names = tables[0].column_names
        columns = []
        for index in range(len(names)):
            parts = [t.column(index) for t in tables]
            types = {part.type for part in parts if not pa.types.is_null(part.type)}
            if len(types) > 1:
                parts = [
                    pa.chunked_array([pa.array([_as_text(v) for v in part.to_pylist()], pa.string())]) for part in parts
                ]
            columns.append(_concat_column(parts))
        return pa.Table.from_arrays(columns, names=names)


def _concat_column(parts: list[Any]) -> Any:
    import pyarrow as pa

    typed = [p for p in parts if not pa.types.is_null(p.type)]
    target = typed[0].type if typed else pa.null()
    return pa.chunked_array([chunk for part in parts for chunk in part.cast(target).chunks], target)


def records_to_table(records: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Records (objects) as an Arrow table; its columns are every key met, in order of appearance."""
    columns: dict[str, None] = {}
    for record in records:
        for key in record:
            columns.setdefault(str(key), None)
    names = list(columns)
    return rows_to_table(names, [tuple(record.get(name) for name in names) for record in records])
