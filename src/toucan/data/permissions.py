"""Data permissions: per-domain row rules, resolved for one user.

Rules live in the app's ETL config under `DATA_PERMISSIONS`:

    DATA_PERMISSIONS: [
      {domain: 'sales', scope: 'ALL_USERS',  effect: 'CUSTOM',
       condition: {column: 'country', operator: 'eq', value: '{{ user.attributes.country }}'}}
      {domain: 'sales', scope: 'USER_GROUP', group: 'managers', effect: 'SEE_ALL'}
      {domain: 'sales', scope: 'DEFAULT',    effect: 'SEE_NOTHING'}
    ]

For a domain, the matching `ALL_USERS` and `USER_GROUP` rules are OR-ed; `DEFAULT` applies
only when none match; a domain without rules is open. Administrators see everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from toucan.auth.identity import Identity


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


@dataclass(frozen=True)
class RowFilter:
    """What one user may see of one domain: every row, or rows matching any condition.

    `conditions` empty and `see_all` false means no row at all.
    """

    see_all: bool
    conditions: tuple[dict[str, Any], ...] = ()

    @property
    def see_nothing(self) -> bool:
        return not self.see_all and not self.conditions


SEE_ALL = RowFilter(see_all=True)
SEE_NOTHING = RowFilter(see_all=False)


def parse_rules(etl_config: dict[str, Any]) -> list[PermissionRule]:
    return [PermissionRule.model_validate(r) for r in etl_config.get("DATA_PERMISSIONS") or []]


def _effect(rule: PermissionRule) -> RowFilter:
    if rule.effect is Effect.SEE_ALL:
        return SEE_ALL
    if rule.effect is Effect.SEE_NOTHING:
        return SEE_NOTHING
    assert rule.condition is not None
    return RowFilter(see_all=False, conditions=(rule.condition,))


def _combine(filters: list[RowFilter]) -> RowFilter:
    if any(f.see_all for f in filters):
        return SEE_ALL
    return RowFilter(see_all=False, conditions=tuple(c for f in filters for c in f.conditions))


def row_filter(rules: list[PermissionRule], domain: str, identity: Identity) -> RowFilter:
    """The rows of `domain` that `identity` may see."""
    if identity.is_admin:
        return SEE_ALL
    mine = [r for r in rules if r.domain == domain]
    if not mine:
        return SEE_ALL
    matching = [
        _effect(r)
        for r in mine
        if r.scope is Scope.ALL_USERS or (r.scope is Scope.USER_GROUP and r.group in identity.groups)
    ]
    if matching:
        return _combine(matching)
    defaults = [_effect(r) for r in mine if r.scope is Scope.DEFAULT]
    return _combine(defaults) if defaults else SEE_ALL
