"""`POST /{app}/charts/check`: a chart checked against its data request's columns on staging
(contributors), so that a chart naming a missing column is never saved."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from toucan.api.answers import Answer
from toucan.api.deps import ContextDep, IdentityDep
from toucan.apps.charts import missing_columns
from toucan.apps.configs import Stage
from toucan.auth.roles import AppPrivilege
from toucan.data.service import DataRequest
from toucan.errors import ValidationError

router = APIRouter(tags=["configs"])


class ChartCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chart: dict[str, Any] = Field(description="The chart spec (type, x, y, series, value, label, …)")
    query: Any = Field(description="Its data request: a pipeline (list of steps) or a Mongo-style query")
    variables: dict[str, Any] = Field(default_factory=dict)


class ChartChecked(Answer):
    columns: list[dict[str, str]] = Field(description="The data request's columns: name and type")


@router.post(
    "/{app}/charts/check",
    response_model=ChartChecked,
    summary="Check that a chart names only columns of its data request's answer on staging (contributors)",
    responses={400: {"description": "A column the data does not have: `details.errors` names each field"}},
)
async def check_chart(app: str, body: ChartCheck, ctx: ContextDep, identity: IdentityDep) -> dict[str, Any]:
    request = DataRequest(query=body.query, variables=body.variables, limit=1)
    payload = await ctx.data.query(app, Stage.STAGING, identity, request, privilege=AppPrivilege.CONTRIBUTE)
    columns: list[dict[str, str]] = orjson.loads(payload)["columns"]
    missing = missing_columns(body.chart, [c["name"] for c in columns])
    if missing:
        raise ValidationError(
            "The chart names "
            + ", ".join(f"{m['column']!r} ({m['path']})" for m in missing)
            + ": not a column of its data.",
            details={"errors": [{"path": m["path"], "message": m["message"]} for m in missing], "columns": columns},
        )
    return {"columns": columns}
