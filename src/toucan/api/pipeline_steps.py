"""`GET /pipeline-steps`: the step language, for the studio's forms (any logged-in user)."""

from __future__ import annotations

import functools

import orjson
from fastapi import APIRouter, Response

from toucan.api.answers import PipelineStepsAnswer, raw
from toucan.api.deps import IdentityDep
from toucan.data.pipeline.reference import catalog

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
