"""The shapes of the API's answers, declared for the OpenAPI document (and checked by FastAPI
on the way out). Every model keeps fields it does not declare (`extra="allow"`): a field added
by a newer version reaches clients, and what is declared here is the contract."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- the API ---------------------------------------------------------------------------------


class Build(Answer):
    commit: str | None = None
    python: str


class VersionInfo(Answer):
    name: str
    version: str
    api_version: str | int
    build: Build


class Health(Answer):
    status: str


class Readiness(Answer):
    status: str = Field(description="`ready`, or `not_ready` (answered with 503)")
    checks: dict[str, Any]


# --- logins and people -----------------------------------------------------------------------

Privileges = dict[str, list[str]]


class Me(Answer):
    username: str
    role: str
    groups: list[str]
    privileges: Privileges = Field(description="Effective privileges by app id")
    attributes: dict[str, Any]
    locale: str | None = Field(description="The interface language the user chose (`en`, `fr`); null: the browser's")


class LoginAnswer(Answer):
    token: str
    user: Me


class LogoutAnswer(Answer):
    revoked: bool


class ProviderSummary(Answer):
    id: str
    type: str
    name: str
    icon: str | None = None
    discrete: bool = False
    login_url: str


class UserAnswer(Answer):
    username: str
    role: str
    groups: list[str]
    privileges: Privileges
    disabled: bool
    expirationDate: str | None = None
    attributes: dict[str, Any]
    provider: str | None = None
    createdAt: str
    updatedAt: str


class GroupAnswer(Answer):
    name: str
    privileges: Privileges
    members: list[str]


class SmallAppAnswer(Answer):
    id: str
    name: str
    description: str | None = None
    created_at: str
    updated_at: str


# --- data ------------------------------------------------------------------------------------


class Column(Answer):
    name: str
    type: str


class DomainMetadata(Answer):
    name: str
    rows: int
    columns: list[Column]


class Metadata(Answer):
    stage: str
    version: str | None = None
    domains: list[DomainMetadata]


class DomainWritten(Answer):
    domain: str
    stage: str
    version: str | None = None
    rows: int
    columns: list[Column]


class DataReleased(Answer):
    stage: str
    version: str | None = None
    domains: list[str]
    release: int | None = Field(default=None, description="The release history row it wrote")


class OperationsAnswer(Answer):
    results: dict[str, Any] = Field(description="Each operation's result, by operation name")


# --- releases ---------------------------------------------------------------------------------


class StoryRef(Answer):
    id: str
    title: str
    title_before: str | None = Field(default=None, description="The old title, when it changed")


class StoryChanges(Answer):
    added: list[StoryRef]
    removed: list[StoryRef]
    changed: list[StoryRef]
    reordered: bool = Field(description="Stories kept on both sides are in another order")


class ConfigChange(Answer):
    kind: str = Field(description="front, etl or augment")
    changed: bool


class DesignChanges(Answer):
    changed: bool = Field(description="Any config document differs")
    stories: StoryChanges
    home_changed: bool
    requesters_changed: bool
    configs: list[ConfigChange]


class DomainChange(Answer):
    name: str
    change: str = Field(description="added, removed, changed (other rows) or unchanged")
    rows_before: int | None = None
    rows_after: int | None = None


class DataChanges(Answer):
    changed: bool
    version_before: str | None = None
    version_after: str | None = None
    domains: list[DomainChange]


class StagingVersions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configs: dict[str, int] = Field(default_factory=dict, description="Config versions by kind (front, etl, augment)")
    domain_version: str | None = Field(default=None, description="Staging's domain version (null: no data)")


class ReleaseDiff(Answer):
    design: DesignChanges = Field(description="Production's design compared with staging's")
    data: DataChanges = Field(description="Production's domains compared with staging's")
    staging_has_data: bool = Field(description="Staging has domains: its data can be released")
    staging_versions: StagingVersions = Field(
        description="Staging's config versions and domain version this diff was computed from: send them back "
        "as the release's `staging_versions` to be refused (409 config_conflict) if staging moved since"
    )


class ReleaseAnswer(Answer):
    id: int
    created_at: str
    created_by: str | None = None
    design: bool = Field(description="The release moved staging's design")
    data: bool = Field(description="The release moved staging's data")
    rollback_of: int | None = Field(default=None, description="A rollback: the release it brought back")
    config_versions: dict[str, int] = Field(description="Production's config versions after it, by kind")
    domain_version: str | None = Field(default=None, description="Production's domain version after it")
    changes: dict[str, Any] = Field(description="What it changed in production: `design` and `data`, as the diff")
    can_roll_back: bool
    rollback_refused: str | None = Field(default=None, description="Why production cannot go back to it")


class ReleaseList(Answer):
    releases: list[ReleaseAnswer] = Field(description="Newest first")
    kept: int = Field(description="How many of the newest releases production can be rolled back to")


class RolledBack(Answer):
    release: int = Field(description="The new release that records the rollback")
    rollback_of: int
    config_versions: dict[str, int]
    version: str | None = Field(default=None, description="Production's domain version now")
    domains: list[str]


class SourceFile(Answer):
    filename: str
    size: int
    sha256: str | None = None
    uploaded_at: str
    uploaded_by: str | None = None
    rows: int | None = None


class SourceFileList(Answer):
    sources: list[SourceFile]


class JobAnswer(Answer):
    id: str
    app: str | None = None
    stage: str | None = None
    kind: str
    state: str = Field(description="queued, running, succeeded or failed")
    progress: float | int | None = None
    created_by: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None


class UploadState(Answer):
    id: str
    filename: str
    size: int
    offset: int = Field(description="How many bytes arrived: the next chunk starts here")


class JobQueued(Answer):
    id: str
    kind: str
    state: str
    stage: str


class JobList(Answer):
    jobs: list[JobAnswer]


class AugmentSaved(Answer):
    stage: str
    version: int
    functions: list[str]


class CheckStep(Answer):
    name: str
    ok: bool | None = Field(description="None: not run, an earlier step failed")
    detail: str = ""


class ProviderStatus(Answer):
    provider: str
    type: str
    ok: bool
    steps: list[CheckStep]


class SecretInfo(Answer):
    name: str
    updated_at: str | None = None
    updated_by: str | None = None


class SecretNames(Answer):
    secrets: list[SecretInfo] = Field(description="Names and when they were set; never the values")


class RestoreContents(Answer):
    configs: list[str] = Field(default_factory=list, description="`stage kind` of each config")
    domains: dict[str, list[str]] = Field(default_factory=dict, description="Domain names by stage")
    source_files: list[str] = Field(default_factory=list)


class RestoreReportAnswer(Answer):
    app: str = Field(description="The small app restored (or that would be)")
    source_app: str = Field(description="The small app the backup was made of")
    source_version: str = Field(description="The version of the stack that made the backup")
    name: str
    dry_run: bool
    upload: str | None = Field(
        default=None, description="A dry run's: restores this checked backup with POST /restore?upload=<id>, no body"
    )
    replaced: bool = Field(description="An app of this id exists and is replaced")
    replaced_before: RestoreContents | dict[str, Any] = Field(description="What the replaced app holds now")
    configs: list[str]
    domains: dict[str, list[str]]
    source_files: list[str]
    storage_bytes: int
    privileges: list[str] = Field(description="`user NAME: privilege` or `group NAME: privilege` restored")
    privileges_skipped: list[str] = Field(description="Privileges of users or groups this stack lacks: not restored")
    secrets_to_recreate: list[str] = Field(description="Secrets the configs use and the app lacks here")
    release: int | None = Field(
        default=None, description="The release of the app's history that records the restore (none in a dry run)"
    )


class InstanceRestoreReportAnswer(Answer):
    dry_run: bool
    upload: str | None = Field(
        default=None, description="A dry run's: restores this checked backup with POST /restore?upload=<id>, no body"
    )
    source_version: str = Field(description="The version of the stack that made the backup")
    users_created: list[str]
    users_kept: list[str] = Field(description="Users that exist here already: kept as they are")
    users_without_password: list[str] = Field(description="Local users created without a password: set one")
    groups_created: list[str]
    settings: str = Field(description="Whether the instance settings were restored, or why not")
    apps: list[RestoreReportAnswer]


# --- instance settings -----------------------------------------------------------------------


class InstanceSettingsSaved(Answer):
    version: int
    warnings: list[str]
    settings: dict[str, Any] = Field(description="The saved settings, secrets masked")


class InstanceSettingsVersion(Answer):
    version: int
    createdAt: str
    createdBy: str | None = None


# --- answers written as bytes by the route ---------------------------------------------------
# These routes answer bytes they made themselves (a cached JSON answer, a stored document, a
# file): the models below describe them in the OpenAPI document (`responses=`) without FastAPI
# parsing them again on the way out.


class DataAnswer(Answer):
    data: list[dict[str, Any]] = Field(description="The rows of this page, one object per row")
    columns: list[Column] = Field(description="The answer's columns in order, with their types")
    total: int = Field(description="Rows of the whole answer, all pages")
    truncated: bool = Field(description="More rows follow this page (`offset` + `limit`)")


class StepFamily(Answer):
    name: str
    title: str


class StepInfo(Answer):
    name: str
    family: str
    title: str
    description: str
    example: dict[str, Any]
    legacy: str | None = Field(description="Older forms of the step still accepted, in words")
    schema_: dict[str, Any] = Field(alias="schema", description="The step's JSON Schema, every spelling")


class PipelineStepsAnswer(Answer):
    families: list[StepFamily] = Field(description="In the studio's menu order")
    operators: list[str] = Field(description="The operators of conditions")
    steps: list[StepInfo]


class CanonicalPipeline(Answer):
    pipeline: list[dict[str, Any]] = Field(description="The steps, each in its canonical spelling")


class OidcRegistration(Answer):
    redirect_uris: list[str]
    client_id: str
    token_endpoint_auth_method: str
    scopes: list[str]


def raw(
    description: str, model: type[BaseModel] | None = None, content: dict[str, dict[str, Any]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route answering 200 with bytes it made: `model` as its JSON, other
    media types in `content` (media type → schema)."""
    answer: dict[str, Any] = {"description": description}
    if model is not None:
        answer["model"] = model
    if content:
        answer["content"] = {media: {"schema": schema} for media, schema in content.items()}
    return {200: answer}


TEXT = {"type": "string"}
BINARY = {"type": "string", "format": "binary"}
ROWS = {"type": "array", "items": {"type": "object"}}
