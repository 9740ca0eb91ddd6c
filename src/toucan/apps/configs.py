"""App configs per stage: the front config (stories) and the ETL config (data sources)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from toucan.apps.permission_rules import PermissionRule
from toucan.apps.secrets import check_secret_places
from toucan.db.models import AppConfig
from toucan.errors import Conflict, ErrorCode, ValidationError
from toucan.formats import raise_for_validation

# Like app ids, but upper case too (weaverbird's and Toucan's domains use it): never a path,
# a quote or a space, so a domain name is safe in a file name, a URL and SQL.
DOMAIN_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$"
DOMAIN_NAME_RULE = "1 to 100 letters, digits, '_' or '-', not starting with '-'"
DomainName = Annotated[str, Field(pattern=DOMAIN_NAME_PATTERN, description=f"A domain name: {DOMAIN_NAME_RULE}")]


class Stage(StrEnum):
    STAGING = "staging"
    PRODUCTION = "production"


class ConfigKind(StrEnum):
    FRONT = "front"
    ETL = "etl"
    AUGMENT = "augment"


# --- front config ----------------------------------------------------------------------

# A requester's id and a narrative value's name are variables in `{{ name }}` placeholders.
VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"
VARIABLE_RULE = "a letter or '_' then letters, digits or '_' (at most 100), as in {{ name }}"


def _variable_name(name: str) -> str:
    if not re.match(VARIABLE_PATTERN, name):
        raise ValueError(f"{name!r} is not a variable name: {VARIABLE_RULE}")
    return name


VariableName = Annotated[str, AfterValidator(_variable_name), Field(description=f"A variable name: {VARIABLE_RULE}")]
Scalar = str | int | float | bool


class NumberFormat(BaseModel):
    """How a number is shown: `decimals`, `unit`, `prefix`, `compact`, `percent`."""

    model_config = ConfigDict(extra="allow")

    decimals: int | None = Field(default=None, ge=0, le=10)
    unit: str | None = None
    prefix: str | None = None
    compact: bool | None = None
    percent: bool | None = None


class NarrativeValue(BaseModel):
    """A named value of a narrative: `{{ name }}` shows `column` of the first row of `query`."""

    model_config = ConfigDict(extra="allow")

    name: VariableName
    query: Any = Field(description="A data request (see data-requests.md).")
    column: str = Field(min_length=1)
    format: NumberFormat | None = None

    @model_validator(mode="after")
    def _has_query(self) -> NarrativeValue:
        if self.query in (None, [], {}, ""):
            raise ValueError("a narrative value needs a data request in 'query'")
        return self


class ChartBlock(BaseModel):
    """One chart of a slide's `charts` grid (its spec and data request are the chart editor's)."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(default=None, min_length=1, max_length=100)
    title: str | None = None
    width: str | None = None


class Slide(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=255)
    level: int = Field(default=1, ge=1, le=10)
    parent_id: str | None = None
    title: str = ""
    narrative: str | None = None
    narrative_values: list[NarrativeValue] = Field(default_factory=list)
    charts: list[ChartBlock] | None = None
    requesters: list[str] | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Slide:
        names = [v.name for v in self.narrative_values]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f"narrative_values[{index}].name: {name!r} is declared twice")
        return self


class RequesterType(StrEnum):
    DROPDOWN = "dropdown"
    MULTISELECT = "multiselect"
    DATE = "date"
    DATERANGE = "daterange"
    SEARCH = "search"


class DateRange(BaseModel):
    """A date-range requester's value: `{{ id.start }}` and `{{ id.end }}` (either may be empty)."""

    model_config = ConfigDict(extra="forbid")

    start: str | None = None
    end: str | None = None


class Requester(BaseModel):
    """A filter shown above stories; its value is the variable named after its `id`."""

    model_config = ConfigDict(extra="allow")

    id: VariableName
    label: str = ""
    type: RequesterType = RequesterType.DROPDOWN
    query: Any = Field(default=None, description="The data request giving the values (with `column`).")
    column: str | None = Field(default=None, min_length=1, description="The column of `query` listing the values.")
    options: list[Scalar] | None = Field(default=None, description="A fixed list of values, instead of `query`.")
    default: Any = None
    filter_column: str | None = Field(
        default=None, min_length=1, description="The column filtered in the charts it applies to (optional)."
    )
    stories: list[str] | None = Field(default=None, description="The stories it shows on; all when absent.")
    charts: list[str] | None = Field(
        default=None, description="The charts it filters; all of its stories' when absent."
    )

    @model_validator(mode="after")
    def _check_type(self) -> Requester:
        listed = self.type in (RequesterType.DROPDOWN, RequesterType.MULTISELECT)
        if listed and self.options is None and (self.query is None or not self.column):
            raise ValueError(f"a {self.type.value} needs its values: 'options', or 'query' and 'column'")
        if self.query is not None and not self.column:
            raise ValueError("'column' names the column of 'query' that lists the values")
        default = self.default
        if default is None:
            return self
        if self.type is RequesterType.MULTISELECT:
            if not isinstance(default, list) or not all(isinstance(v, Scalar) for v in default):
                raise ValueError("default: a multiselect's default is a list of values")
        elif self.type is RequesterType.DATERANGE:
            try:
                DateRange.model_validate(default)
            except PydanticValidationError:
                raise ValueError("default: a daterange's default is {'start': date, 'end': date}") from None
        elif not isinstance(default, Scalar):
            raise ValueError(f"default: a {self.type.value}'s default is one value, not {type(default).__name__}")
        return self


class HomeKpi(BaseModel):
    """A KPI tile of the home page: `value` (a column) of the first row of `query`."""

    model_config = ConfigDict(extra="allow")

    title: str = ""
    query: Any = None
    value: str = Field(min_length=1)
    format: NumberFormat | None = None


class HomeStory(BaseModel):
    """A story tile of the home page."""

    model_config = ConfigDict(extra="allow")

    story: str = Field(min_length=1)
    title: str | None = None
    description: str | None = None


class Home(BaseModel):
    model_config = ConfigDict(extra="allow")

    title: str | None = None
    description: str | None = None
    kpis: list[HomeKpi] = Field(default_factory=list)
    stories: list[HomeStory] | None = Field(
        default=None, description="The story tiles; every story with a chart when absent."
    )


class FrontConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    slides: list[Slide] = Field(default_factory=list)
    home: Home = Field(default_factory=Home)
    requesters: list[Requester] = Field(default_factory=list)
    datasets: dict[str, Any] | list[Any] = Field(default_factory=dict)
    format: NumberFormat | None = Field(default=None, description="The app's number format (narrative values).")

    @model_validator(mode="after")
    def _check_references(self) -> FrontConfig:
        seen: set[str] = set()
        for index, slide in enumerate(self.slides):
            if slide.id in seen:
                raise ValueError(f"slides[{index}].id: duplicate slide id {slide.id!r}")
            seen.add(slide.id)
        for index, slide in enumerate(self.slides):
            if slide.parent_id is not None and slide.parent_id not in seen:
                raise ValueError(f"slides[{index}].parent_id: no slide has the id {slide.parent_id!r}")
        requester_ids: set[str] = set()
        for index, requester in enumerate(self.requesters):
            if requester.id in requester_ids:
                raise ValueError(f"requesters[{index}].id: duplicate requester id {requester.id!r}")
            requester_ids.add(requester.id)
            for place, story in enumerate(requester.stories or []):
                if story not in seen:
                    raise ValueError(f"requesters[{index}].stories[{place}]: no slide has the id {story!r}")
        for index, slide in enumerate(self.slides):
            for place, named in enumerate(slide.narrative_values):
                if named.name in requester_ids:
                    raise ValueError(
                        f"slides[{index}].narrative_values[{place}].name: {named.name!r} is already a requester's id"
                    )
        for index, tile in enumerate(self.home.stories or []):
            if tile.story not in seen:
                raise ValueError(f"home.stories[{index}].story: no slide has the id {tile.story!r}")
        return self


# --- ETL config --------------------------------------------------------------------------


class DataSource(BaseModel):
    model_config = ConfigDict(extra="allow")

    domain: DomainName
    name: str | None = None
    type: str | None = None
    file: str | None = None
    load: bool = True
    live_data: bool = False
    cache_ttl: int | None = Field(default=None, ge=0)
    parameters: dict[str, Any] = Field(default_factory=dict)
    url: str | None = None
    validation: list[ColumnCheck] = Field(default_factory=list)


class DataProvider(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    type: str = Field(min_length=1)


class ColumnCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern="^(columns|dtypes|rows|not_null|unique_values)$")
    expected: Any = None


class PipelineEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    input_domains: list[DomainName] = Field(default_factory=list)
    pipeline: list[dict[str, Any]] | None = None
    function_name: str | None = None
    output_domain: DomainName
    load: bool = True

    @model_validator(mode="after")
    def _one_way(self) -> PipelineEntry:
        if (self.pipeline is None) == (self.function_name is None):
            raise ValueError("give exactly one of 'pipeline' or 'function_name'")
        return self


class EtlConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    DATA_SOURCES: list[DataSource] = Field(default_factory=list)
    DATA_PROVIDERS: list[DataProvider] = Field(default_factory=list)
    PIPELINE: list[PipelineEntry] = Field(default_factory=list)
    DATA_PERMISSIONS: list[PermissionRule] = Field(default_factory=list)


class AugmentConfig(BaseModel):
    """The app's augment.py, stored as text (checked for syntax and the whitelist by the etl package)."""

    model_config = ConfigDict(extra="forbid")

    code: str = ""


_MODELS: dict[ConfigKind, type[BaseModel]] = {
    ConfigKind.FRONT: FrontConfig,
    ConfigKind.ETL: EtlConfig,
    ConfigKind.AUGMENT: AugmentConfig,
}


def parse_etl(document: Any, where: str = "etl config") -> EtlConfig:
    """The typed ETL config that live data, permissions and preprocess all read (a stored one
    was validated when it was written); a bad one is a 400 naming the field."""
    try:
        return EtlConfig.model_validate(document or {})
    except PydanticValidationError as exc:
        raise_for_validation(exc, where)
        raise  # unreachable: raise_for_validation always raises


def validate_config(kind: ConfigKind, document: Any) -> dict[str, Any]:
    """Check a config document; errors give the path of the bad field."""
    if not isinstance(document, dict):
        raise ValidationError(
            f"A {kind.value} config is an object, not {type(document).__name__}.",
            details={"errors": [{"path": "(root)", "message": "expected an object"}]},
        )
    # A secret where it has no place is named first: the shape checks below could refuse the
    # same field for another reason (a `{{ secrets.x }}` domain name is not a valid name).
    if kind is not ConfigKind.AUGMENT:  # augment.py is code: a `{{ }}` in it is never rendered
        check_secret_places(document, "etl_config" if kind is ConfigKind.ETL else f"{kind.value} config")
    try:
        _MODELS[kind].model_validate(document)
    except PydanticValidationError as exc:
        raise_for_validation(exc, f"{kind.value} config")
    # Stored as given (validated, not normalised) so builders get back what they wrote.
    return document


def get_config(session: Session, app_id: str, stage: Stage, kind: ConfigKind) -> AppConfig | None:
    return session.scalar(
        select(AppConfig).where(
            AppConfig.app_id == app_id, AppConfig.stage == stage.value, AppConfig.kind == kind.value
        )
    )


def read_config(session: Session, app_id: str, stage: Stage, kind: ConfigKind) -> dict[str, Any]:
    """The config document, `{}` when none was stored yet."""
    row = get_config(session, app_id, stage, kind)
    return dict(row.content) if row is not None else {}


def write_config(
    session: Session,
    app_id: str,
    stage: Stage,
    kind: ConfigKind,
    document: Any,
    *,
    author: str | None,
    expected_version: int | None = None,
) -> AppConfig:
    """Validate and store a config document, bumping its version. With `expected_version`
    (the version the writer read, 0 for none yet), a config written meanwhile by someone
    else is a 409 `config_conflict` naming what differs, who wrote it and when."""
    content = validate_config(kind, document)
    row = get_config(session, app_id, stage, kind)
    current = row.version if row is not None else 0
    if expected_version is not None and expected_version != current:
        by = f" by {row.updated_by}" if row is not None and row.updated_by else ""
        raise Conflict(
            f"The {stage.value} {kind.value} config was saved{by} since you read it (version {current}, "
            f"yours was {expected_version}): reload it to get those changes, or overwrite them.",
            details=conflict_details(kind, expected_version, row, content),
            code=ErrorCode.CONFIG_CONFLICT,
        )
    if row is None:
        row = AppConfig(app_id=app_id, stage=stage.value, kind=kind.value, content=content, version=1)
        session.add(row)
    else:
        row.content = content
        row.version += 1
    row.updated_by = author
    session.flush()
    return row


def _slide_map(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    slides = document.get("slides")
    if not isinstance(slides, list):
        return {}
    return {str(s["id"]): s for s in slides if isinstance(s, dict) and "id" in s}


def _story(slide: dict[str, Any]) -> dict[str, str]:
    return {"id": str(slide.get("id")), "title": str(slide.get("title") or "")}


def config_changes(kind: ConfigKind, yours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """What the stored config (`theirs`) has that the document being saved (`yours`) has not:
    for a front config the stories added (only in theirs), removed (only in yours) and changed,
    and whether the home and the filters differ; for any kind, the top-level keys that differ."""
    keys = sorted(k for k in set(yours) | set(theirs) if yours.get(k) != theirs.get(k))
    changes: dict[str, Any] = {"keys": keys}
    if kind is ConfigKind.FRONT:
        mine, stored = _slide_map(yours), _slide_map(theirs)
        changes["stories"] = {
            "added": [_story(s) for i, s in stored.items() if i not in mine],
            "removed": [_story(s) for i, s in mine.items() if i not in stored],
            "changed": [_story(s) for i, s in stored.items() if i in mine and mine[i] != s],
        }
        changes["home_changed"] = yours.get("home", {}) != theirs.get("home", {})
        changes["requesters_changed"] = yours.get("requesters", []) != theirs.get("requesters", [])
    return changes


def conflict_details(kind: ConfigKind, expected: int, row: AppConfig | None, yours: dict[str, Any]) -> dict[str, Any]:
    """The details of a `config_conflict`: versions, who saved the stored config and when,
    and what it changes compared with the document being saved."""
    return {
        "kind": kind.value,
        "expected_version": expected,
        "current_version": row.version if row is not None else 0,
        "updated_by": row.updated_by if row is not None else None,
        "updated_at": row.updated_at.isoformat() if row is not None and row.updated_at else None,
        "changes": config_changes(kind, yours, dict(row.content) if row is not None else {}),
    }


def release_design(session: Session, app_id: str, *, author: str | None) -> dict[str, int]:
    """Copy the staging front and ETL configs to production; returns the new versions."""
    versions = {}
    for kind in ConfigKind:
        staged = read_config(session, app_id, Stage.STAGING, kind)
        versions[kind.value] = write_config(session, app_id, Stage.PRODUCTION, kind, staged, author=author).version
    return versions
