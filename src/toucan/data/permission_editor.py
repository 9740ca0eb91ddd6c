"""Data permissions edited on their own (the admin screen's *Data permissions*): the rules of a
stage read with the domains they can name, checked against those domains' columns, saved in the
staging ETL config, and previewed as one user would see a domain with them.

The rules themselves are `DATA_PERMISSIONS` (toucan.apps.permission_rules); what a user sees is
decided by toucan.data.permissions, the same code every data request runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from toucan.apps.configs import ConfigKind, Stage, get_config, parse_etl, read_config, write_config
from toucan.apps.permission_rules import Effect, PermissionRule, Scope
from toucan.auth.identity import Identity, load_identity
from toucan.auth.roles import AppPrivilege
from toucan.data import permissions
from toucan.data.domains import DomainStore, Snapshot, sql_string
from toucan.data.engine import QueryEngine, Reach, fetch_page
from toucan.data.pipeline.conditions import And, Condition, Or, parse_condition
from toucan.data.query import compile_request
from toucan.db.engine import Database
from toucan.db.models import SmallApp, User
from toucan.errors import ErrorCode, NotFound, ToucanError, ValidationError
from toucan.templating import render

PREVIEW_ROWS_MAX = 200


def _require_app(session: Session, app_id: str) -> None:
    if session.get(SmallApp, app_id) is None:
        raise NotFound(f"Small app {app_id!r} does not exist.", details={"app": app_id})


def _domains(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [{"name": i.name, "rows": i.rows, "columns": i.columns} for i in snapshot.domains.values()]


def read_rules(db: Database, store: DomainStore, app_id: str, stage: Stage) -> dict[str, Any]:
    """The stage's rules as stored, with the domains (and their columns) the form offers."""
    with db.readonly_session() as session:
        _require_app(session, app_id)
        row = get_config(session, app_id, stage, ConfigKind.ETL)
        etl = parse_etl(dict(row.content) if row is not None else {})
        version = row.version if row is not None else 0
    rules = [r.model_dump(exclude_none=True, mode="json") for r in etl.DATA_PERMISSIONS]
    return {
        "stage": stage.value,
        "rules": rules,
        "domains": _domains(store.snapshot(app_id, stage)),
        "version": version,
    }


# --- checking -----------------------------------------------------------------------------------


def _columns_of(condition: Condition) -> list[str]:
    if isinstance(condition, And):
        return [c for part in condition.and_ for c in _columns_of(part)]
    if isinstance(condition, Or):
        return [c for part in condition.or_ for c in _columns_of(part)]
    return [condition.column]


def check_rules(rules: list[PermissionRule], snapshot: Snapshot, *, only_domain: str | None = None) -> None:
    """Every rule names a loaded domain and, when custom, a valid condition on its columns;
    a 400 listing each problem with its path (`rules[2].condition`), the first in the message.
    With `only_domain`, the rules of other domains are not checked."""
    errors: list[dict[str, str]] = []
    for index, rule in enumerate(rules):
        if only_domain is not None and rule.domain != only_domain:
            continue
        where = f"rules[{index}]"
        info = snapshot.domains.get(rule.domain)
        if info is None:
            known = ", ".join(sorted(snapshot.domains)) or "none: load data first"
            errors.append(
                {"path": f"{where}.domain", "message": f"no domain {rule.domain!r} in this stage (domains: {known})"}
            )
            continue
        if rule.effect is not Effect.CUSTOM or rule.condition is None:
            continue
        try:
            condition = parse_condition(rule.condition, {"rule": index})
        except ToucanError as exc:
            errors.append({"path": f"{where}.condition", "message": exc.message})
            continue
        names = {c["name"] for c in info.columns}
        for column in _columns_of(condition):
            if column not in names:
                errors.append(
                    {
                        "path": f"{where}.condition.column",
                        "message": f"the domain {rule.domain!r} has no column {column!r} "
                        f"(columns: {', '.join(sorted(names))})",
                    }
                )
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationError(
            f"Invalid data permission at {errors[0]['path']}: {errors[0]['message']}{more}",
            details={"errors": errors},
        )


def save_rules(
    db: Database,
    store: DomainStore,
    app_id: str,
    rules: list[PermissionRule],
    *,
    author: str | None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Check the rules against staging's domains and make them the staging ETL config's
    `DATA_PERMISSIONS` (the rest of the config kept); production gets them at the next release.
    With `expected_version` (the staging ETL config's version the editor read), a config saved
    meanwhile is a 409 `config_conflict`, as for the ETL config itself."""
    snapshot = store.snapshot(app_id, Stage.STAGING)
    check_rules(rules, snapshot)
    with db.session() as session:
        _require_app(session, app_id)
        document = read_config(session, app_id, Stage.STAGING, ConfigKind.ETL)
        document["DATA_PERMISSIONS"] = [r.model_dump(exclude_none=True, mode="json") for r in rules]
        row = write_config(
            session, app_id, Stage.STAGING, ConfigKind.ETL, document, author=author, expected_version=expected_version
        )
        version = row.version
    return {"stage": Stage.STAGING.value, "version": version, "rules": document["DATA_PERMISSIONS"]}


# --- previewing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewAs:
    """Who the preview is for: a user's identity (their groups and attributes)."""

    identity: Identity
    disabled: bool


def identity_of(db: Database, username: str) -> PreviewAs:
    with db.readonly_session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"No user {username!r}.", details={"username": username})
        return PreviewAs(load_identity(session, user), bool(user.disabled))


def _applied(rules: list[PermissionRule], domain: str, identity: Identity) -> list[int]:
    """The indexes of the rules that decide what `identity` sees of `domain`."""
    if identity.is_admin:
        return []
    mine = [(i, r) for i, r in enumerate(rules) if r.domain == domain]
    matching = [
        i for i, r in mine if r.scope is Scope.ALL_USERS or (r.scope is Scope.USER_GROUP and r.group in identity.groups)
    ]
    return matching or [i for i, r in mine if r.scope is Scope.DEFAULT]


def preview(
    app_id: str,
    engine: QueryEngine,
    snapshot: Snapshot,
    rules: list[PermissionRule],
    domain: str,
    who: PreviewAs,
    *,
    limit: int,
) -> dict[str, Any]:
    """The rows of `domain` that `who` would see under `rules`, with why: the rules applied
    and their conditions as rendered for that user."""
    info = snapshot.domains.get(domain)
    if info is None:
        raise NotFound(f"No domain {domain!r} in this stage.", details={"domain": domain})
    check_rules(rules, snapshot, only_domain=domain)
    identity = who.identity
    rf = permissions.row_filter(rules, domain, identity)
    user_vars = identity.template_variables()
    if rf.conditions:
        try:
            rendered = render(list(rf.conditions), {"user": user_vars})
            rf = permissions.RowFilter(see_all=False, conditions=tuple(rendered))
        except ValidationError as exc:
            if exc.code != ErrorCode.MISSING_VARIABLE:
                raise
            variable = (exc.details or {}).get("variable", "")
            raise ValidationError(
                f"A rule for {domain!r} uses {{{{ {variable} }}}}, which {identity.username!r} does not have: "
                f"give the user that attribute (Users, Edit), or the rule refuses this user's data requests.",
                details={"variable": variable, "username": identity.username},
                code=ErrorCode.MISSING_VARIABLE,
            ) from None
    compiled = compile_request(
        [{"name": "domain", "domain": domain}],
        resolve_domain=lambda name: f"read_parquet({sql_string(str(snapshot.get(name).path))})",
        row_filters={domain: rf},
    )
    result = engine.run_sync(
        lambda cursor: fetch_page(cursor, compiled.sql, compiled.params, limit, 0), Reach.of([info.path])
    )
    return {
        "domain": domain,
        "user": {
            "username": identity.username,
            "role": identity.role.value,
            "groups": list(identity.groups),
            "attributes": dict(identity.attributes),
            "disabled": who.disabled,
        },
        "admin": identity.is_admin,
        "can_view": identity.can(app_id, AppPrivilege.VIEW),
        "applied_rules": _applied(rules, domain, identity),
        "see_all": rf.see_all,
        "conditions": list(rf.conditions),
        "rows_total": info.rows,
        "rows_visible": result.total,
        "columns": result.columns,
        "data": result.table.to_pylist(),
    }


def preview_as(
    db: Database,
    store: DomainStore,
    engine: QueryEngine,
    app_id: str,
    stage: Stage,
    username: str,
    domain: str,
    rules: list[PermissionRule] | None,
    *,
    limit: int,
) -> dict[str, Any]:
    """`preview` of the stage's domain for the user named, under `rules` (the stage's saved
    rules when None)."""
    with db.readonly_session() as session:
        _require_app(session, app_id)
        if rules is None:
            rules = list(parse_etl(read_config(session, app_id, stage, ConfigKind.ETL)).DATA_PERMISSIONS)
    who = identity_of(db, username)
    return preview(app_id, engine, store.snapshot(app_id, stage), rules, domain, who, limit=limit)
