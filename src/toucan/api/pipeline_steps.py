"""`GET /pipeline-steps`: the step language, for the studio's forms, and
`POST /pipeline-steps/canonical`: a pipeline in its one canonical spelling (any logged-in user)."""

from __future__ import annotations

import functools
from typing import Any

import orjson
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from toucan.api.answers import CanonicalPipeline, PipelineStepsAnswer, raw
from toucan.api.deps import ContextDep, IdentityDep
from toucan.data.pipeline.reference import catalog
from toucan.data.pipeline.registry import canonical

router = APIRouter(tags=["data"])


@functools.cache
def _body() -> bytes:
    return orjson.dumps(catalog())


@router.get(
    "/pipeline-steps",
    summary="The pipeline steps: per step its family, description, example and JSON Schema",
    responses=raw(
        "`families` (menu order), `operators` (of conditions) and `steps`: `name`, `family`, `title`, "
        "`description`, `example`, `legacy` (older forms still accepted) and `schema` (every spelling of "
        'each field; other spellings are marked `"x-spelling-of"`).',
        PipelineStepsAnswer,
    ),
)
def pipeline_steps(_identity: IdentityDep) -> Response:
    return Response(_body(), media_type="application/json")


class PipelineBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pipeline: Any = Field(description="A pipeline: a list of steps, in either weaverbird spelling")


@router.post(
    "/pipeline-steps/canonical",
    response_model=CanonicalPipeline,
    summary="A pipeline written in its canonical form (snake_case fields, legacy forms rewritten)",
)
def canonical_pipeline(body: PipelineBody, ctx: ContextDep, _identity: IdentityDep) -> dict[str, Any]:
    return {"pipeline": canonical(body.pipeline, ctx.settings.max_nesting_depth)}
