"""App configs per stage: `GET/PUT /{app}/config`, `/{app}/config/etl`, operations."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from toucan.api.answers import TEXT, OperationsAnswer, StagingVersions, raw
from toucan.api.data_in import JobsDep, submit_preprocess
from toucan.api.deps import AppAccessDep, ContextDep, ContributorDep, IdentityDep
from toucan.apps import configs as domain
from toucan.apps.configs import ConfigKind, EtlConfig, FrontConfig, Stage
from toucan.auth.roles import AppPrivilege
from toucan.data import release
from toucan.errors import ErrorCode, ValidationError
from toucan.formats import dump_cson, parse_cson, parse_json

router = APIRouter(tags=["configs"])
STORED = (
    "The stored config, in the format sent; its version in X-Config-Version. Send the version read "
    "in `If-Match` (or `?version=`) to be refused with 409 `config_conflict` if staging changed meanwhile"
)


VersionQuery = Annotated[
    int | None,
    Query(
        ge=0,
        le=999_999_999,
        description="The X-Config-Version read (as If-Match does): 409 config_conflict if staging changed since",
    ),
]


class Format(StrEnum):
    JSON = "json"
    CSON = "cson"


def _read_privilege(stage: Stage, kind: ConfigKind) -> AppPrivilege:
    # ETL configs name connections: contributors only. Viewers see production only.
    if kind is ConfigKind.ETL:
        return AppPrivilege.CONTRIBUTE
    return AppPrivilege.VIEW if stage is Stage.PRODUCTION else AppPrivilege.VALIDATE


def _render(document: dict[str, Any], fmt: Format) -> Response:
    if fmt is Format.CSON:
        return Response(dump_cson(document), media_type="text/plain; charset=utf-8")
    return Response(json.dumps(document, ensure_ascii=False), media_type="application/json")


def _get(ctx: ContextDep, access: AppAccessDep, app: str, stage: Stage, kind: ConfigKind, fmt: Format) -> Response:
    access.require(_read_privilege(stage, kind))
    with ctx.db.readonly_session() as session:
        row = domain.get_config(session, app, stage, kind)
        response = _render(dict(row.content) if row is not None else {}, fmt)
        # The version to send back in If-Match when saving (0: never written).
        response.headers["X-Config-Version"] = str(row.version if row is not None else 0)
    return response


def expected_version(request: Request, version: int | None) -> int | None:
    """The version the writer read: `If-Match: <X-Config-Version>` (quotes and `W/` allowed)
    or `?version=`; None when neither is sent, or `If-Match: *` (the PUT then overwrites, as before)."""
    header = request.headers.get("if-match")
    if header is None:
        return version
    where, text = "If-Match header", header
    if text.strip() == "*":  # any version, as HTTP has it: an overwrite
        return None
    cleaned = text.strip().removeprefix("W/").strip('"')
    if not cleaned.isdigit() or len(cleaned) > 9:
        raise ValidationError(
            f"The {where} is {text!r}: send the X-Config-Version of the config you read (a number).",
            details={"field": "If-Match"},
            code=ErrorCode.BAD_REQUEST,
        )
    return int(cleaned)


async def _put(
    request: Request,
    ctx: ContextDep,
    identity: IdentityDep,
    app: str,
    stage: Stage,
    kind: ConfigKind,
    fmt: Format,
    version: int | None,
) -> Response:
    expected = expected_version(request, version)
    raw = await request.body()
    if fmt is Format.CSON:
        try:
            document = parse_cson(raw.decode(), ctx.settings.max_nesting_depth)
        except UnicodeDecodeError:
            raise ValidationError("The body is not UTF-8 text.", code=ErrorCode.INVALID_CSON) from None
    else:
        document = parse_json(raw, ctx.settings.max_nesting_depth)
    if stage is Stage.PRODUCTION:
        raise ValidationError(
            "Production is written by releasing staging: PUT the staging config, then "
            'POST /{app}/config/operations {"operations": ["release_design"]}.',
            details={"stage": stage.value},
        )
    with ctx.db.session() as session:
        row = domain.write_config(
            session, app, stage, kind, document, author=identity.username, expected_version=expected
        )
        response = _render(row.content, fmt)
    response.headers["X-Config-Version"] = str(row.version)
    return response


@router.get(
    "/{app}/config",
    summary="Front config (stories) of an app at a stage",
    responses=raw("The front config: JSON, or CSON text with format=cson", FrontConfig, {"text/plain": TEXT}),
)
def get_front_config(
    app: str,
    ctx: ContextDep,
    access: AppAccessDep,
    stage: Stage = Stage.PRODUCTION,
    format: Format = Format.JSON,
) -> Response:
    return _get(ctx, access, app, stage, ConfigKind.FRONT, format)


@router.put(
    "/{app}/config",
    summary="Replace the staging front config (JSON, or CSON with format=cson)",
    responses=raw(STORED, FrontConfig, {"text/plain": TEXT}),
)
async def put_front_config(
    app: str,
    request: Request,
    ctx: ContextDep,
    identity: ContributorDep,
    stage: Stage = Stage.STAGING,
    format: Format = Format.JSON,
    version: VersionQuery = None,
) -> Response:
    return await _put(request, ctx, identity, app, stage, ConfigKind.FRONT, format, version)


@router.get(
    "/{app}/config/etl",
    summary="ETL config (data sources, pipeline) of an app at a stage",
    responses=raw("The ETL config: JSON, or CSON text with format=cson", EtlConfig, {"text/plain": TEXT}),
)
def get_etl_config(
    app: str,
    ctx: ContextDep,
    access: AppAccessDep,
    stage: Stage = Stage.STAGING,
    format: Format = Format.JSON,
) -> Response:
    return _get(ctx, access, app, stage, ConfigKind.ETL, format)


@router.put(
    "/{app}/config/etl",
    summary="Replace the staging ETL config",
    responses=raw(STORED, EtlConfig, {"text/plain": TEXT}),
)
async def put_etl_config(
    app: str,
    request: Request,
    ctx: ContextDep,
    identity: ContributorDep,
    stage: Stage = Stage.STAGING,
    format: Format = Format.JSON,
    version: VersionQuery = None,
) -> Response:
    return await _put(request, ctx, identity, app, stage, ConfigKind.ETL, format, version)


class Operation(StrEnum):
    RELEASE_DESIGN = "release_design"
    PREPROCESS_DATA_SOURCES = "preprocess_data_sources"
    RELEASE_DATA = "release_data"


class OperationsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operations: list[Operation] = Field(min_length=1)
    staging_versions: StagingVersions | None = Field(
        default=None,
        description="The `staging_versions` of the release diff the builder confirmed: a release is refused "
        "(409 config_conflict) when staging changed since",
    )


@router.post(
    "/{app}/config/operations",
    response_model=OperationsAnswer,
    summary="Run operations in order: release_design, preprocess_data_sources (queues a job), release_data",
)
def run_operations(
    app: str, body: OperationsBody, ctx: ContextDep, identity: ContributorDep, jobs: JobsDep
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    versions = body.staging_versions
    expected = versions.model_dump(exclude_unset=True) if versions is not None else None
    ops = body.operations
    index = 0
    while index < len(ops):
        if ops[index] is Operation.PREPROCESS_DATA_SOURCES:
            results[ops[index].value] = submit_preprocess(jobs, app, Stage.STAGING, identity.username)
            index += 1
            continue
        # release_design next to release_data is one release: one transaction, one history row.
        together = {ops[index]}
        if index + 1 < len(ops) and ops[index + 1] not in together | {Operation.PREPROCESS_DATA_SOURCES}:
            together.add(ops[index + 1])
        index += len(together)
        done = release.release(
            ctx.db,
            ctx.data.store,
            app,
            design=Operation.RELEASE_DESIGN in together,
            data=Operation.RELEASE_DATA in together,
            author=identity.username,
            expected=expected,
        )
        if done.design is not None:
            results[Operation.RELEASE_DESIGN.value] = done.design
        if done.data is not None:
            results[Operation.RELEASE_DATA.value] = done.data
    return {"results": results}
