"""Data permissions: per-domain row rules (toucan.apps.permission_rules), resolved for one user.

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
from typing import Any

from toucan.apps.permission_rules import Effect, PermissionRule, Scope
from toucan.auth.identity import Identity

__all__ = ["SEE_ALL", "SEE_NOTHING", "PermissionRule", "RowFilter", "row_filter"]


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
