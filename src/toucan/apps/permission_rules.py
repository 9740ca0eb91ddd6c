"""`DATA_PERMISSIONS` rules of an ETL config, as stored (toucan.data.permissions resolves them
for one user)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Scope(StrEnum):
    DEFAULT = "DEFAULT"
    ALL_USERS = "ALL_USERS"
    USER_GROUP = "USER_GROUP"


class Effect(StrEnum):
    SEE_ALL = "SEE_ALL"
    SEE_NOTHING = "SEE_NOTHING"
    CUSTOM = "CUSTOM"


class PermissionRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1)
    scope: Scope
    group: str | None = None
    effect: Effect
    condition: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PermissionRule:
        if (self.scope is Scope.USER_GROUP) != (self.group is not None):
            raise ValueError("'group' is required with scope USER_GROUP, and only there")
        if (self.effect is Effect.CUSTOM) != (self.condition is not None):
            raise ValueError("'condition' is required with effect CUSTOM, and only there")
        return self
