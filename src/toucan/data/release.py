"""Releasing an app: staging's design (front and ETL configs, augment.py) and data (domains)
become production's, and rolling production back to a past release. Called by the API
(`POST /{app}/config/operations`, `POST /{app}/data/release`, `/{app}/releases`) and by
`toucan-ctl release`.

Every release and rollback is one transaction that also writes a row of the app's release
history (who, when, what changed, production's state after it). The last `RELEASES_KEPT`
rows of an app keep that state: their config documents are stored in the row and their
domain versions are never garbage-collected, so production can be rolled back to any of
them. Older rows keep who, when and what only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from toucan.apps import configs
from toucan.apps.configs import ConfigKind, Stage
from toucan.data.domains import DomainStore
from toucan.data.release_diff import StageState, diff, stage_state
from toucan.db.domain_models import DomainVersion
from toucan.db.engine import Database
from toucan.db.release_models import Release
from toucan.errors import Conflict, ErrorCode, NotFound

# How many releases back production can be rolled back to. Each kept release holds its
# domain files on disk (shared with other versions when unchanged) and its config documents.
RELEASES_KEPT = 10


@dataclass(frozen=True)
class Released:
    """What a release or rollback did: its history row, the production config versions (when
    the design moved) and production's domains (when the data moved)."""

    release_id: int
    design: dict[str, int] | None
    data: dict[str, Any] | None


def release_diff(db: Database, store: DomainStore, app_id: str) -> dict[str, Any]:
    """What releasing staging would change in production, in design and in data."""
    with db.readonly_session() as session:
        production = stage_state(session, store, app_id, Stage.PRODUCTION)
        staging = stage_state(session, store, app_id, Stage.STAGING)
    return {
        **diff(production, staging),
        "staging_has_data": staging.domain_version is not None,
        "staging_versions": {"configs": staging.config_versions, "domain_version": staging.domain_version},
    }


def check_staging_versions(state: StageState, expected: dict[str, Any], *, design: bool, data: bool) -> None:
    """409 `config_conflict` when staging's configs (for a design release) or domain version
    (for a data release) are no longer those `expected` (a diff's `staging_versions`): the
    diff the builder confirmed is not what would be released."""
    changed: list[str] = []
    wanted = expected.get("configs") or {}
    if design:
        changed += [
            f"{kind} config" for kind, version in state.config_versions.items() if wanted.get(kind, version) != version
        ]
    if data and "domain_version" in expected and expected["domain_version"] != state.domain_version:
        changed.append("data")
    if changed:
        raise Conflict(
            f"Staging changed since the release's diff was read ({', '.join(changed)}): look at the new diff "
            "before releasing.",
            details={
                "changed": changed,
                "expected": expected,
                "current": {"configs": state.config_versions, "domain_version": state.domain_version},
            },
            code=ErrorCode.CONFIG_CONFLICT,
        )


def release(
    db: Database,
    store: DomainStore,
    app_id: str,
    *,
    design: bool,
    data: bool,
    author: str | None,
    expected: dict[str, Any] | None = None,
) -> Released:
    """Make staging's design and/or data production's and record it, in one transaction.
    With `expected` (the diff's `staging_versions`), refused when staging moved since."""
    if not (design or data):
        raise ValueError("release: say design, data or both")
    with db.session() as session:
        if expected is not None:
            staging = stage_state(session, store, app_id, Stage.STAGING)
            check_staging_versions(staging, expected, design=design, data=data)
        before = stage_state(session, store, app_id, Stage.PRODUCTION)
        versions = configs.release_design(session, app_id, author=author) if design else None
        released_data = None
        if data:
            snapshot = store.release_in(session, app_id)
            released_data = {"version": snapshot.version_id, "domains": sorted(snapshot.domains)}
        row = _record(session, store, app_id, before, author=author, design=design, data=data)
    store.collect_garbage(app_id)
    return Released(row.id, versions, released_data)


def release_design(db: Database, store: DomainStore, app_id: str, *, author: str | None) -> dict[str, int]:
    """Copy staging's configs to production (and record it); the new versions by kind."""
    versions = release(db, store, app_id, design=True, data=False, author=author).design
    assert versions is not None
    return versions


def release_data(db: Database, store: DomainStore, app_id: str, *, author: str | None) -> dict[str, Any]:
    """Point production at staging's domains (no data copied; recorded); its version and domains."""
    done = release(db, store, app_id, design=False, data=True, author=author)
    assert done.data is not None
    return {**done.data, "release": done.release_id}


def rollback(db: Database, store: DomainStore, app_id: str, release_id: int, *, author: str | None) -> Released:
    """Make production's design and data those of a kept past release again, in one
    transaction, recorded as a new release. 404 for an id of no release of this app; 409
    when the release is no longer kept or its data was collected."""
    with db.session() as session:
        target = session.get(Release, release_id)
        if target is None or target.app_id != app_id:
            raise NotFound(f"Release {release_id} of {app_id!r} does not exist.", details={"release": release_id})
        reason = _why_not_rollback(target, _stored_versions(session, app_id))
        if reason is not None:
            raise Conflict(reason, details={"release": release_id}, code=ErrorCode.RELEASE_NOT_KEPT)
        before = stage_state(session, store, app_id, Stage.PRODUCTION)
        documents = target.configs or {}
        versions = {
            kind.value: configs.write_config(
                session, app_id, Stage.PRODUCTION, kind, documents.get(kind.value, {}), author=author
            ).version
            for kind in ConfigKind
        }
        store.point_in(session, app_id, Stage.PRODUCTION, target.domain_version)
        snapshot = store.snapshot_in(session, app_id, Stage.PRODUCTION)
        row = _record(session, store, app_id, before, author=author, design=True, data=True, rollback_of=target.id)
    store.collect_garbage(app_id)
    return Released(row.id, versions, {"version": snapshot.version_id, "domains": sorted(snapshot.domains)})


def history(db: Database, app_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The app's releases, newest first: who, when, what changed, and whether production can
    be rolled back to each (`rollback_refused` says why not)."""
    with db.readonly_session() as session:
        rows = session.scalars(
            select(Release).where(Release.app_id == app_id).order_by(Release.id.desc()).limit(limit)
        ).all()
        stored = _stored_versions(session, app_id)
        return [_row_dict(row, _why_not_rollback(row, stored)) for row in rows]


# --- the history rows ---------------------------------------------------------------------


def record_in(session: Session, store: DomainStore, app_id: str, before: StageState, *, author: str | None) -> int:
    """Record, in the caller's transaction, a change of production's design and data made
    elsewhere (a restore from a backup), so that it can be rolled back too; the release's id."""
    return _record(session, store, app_id, before, author=author, design=True, data=True).id


def _record(
    session: Session,
    store: DomainStore,
    app_id: str,
    before: StageState,
    *,
    author: str | None,
    design: bool,
    data: bool,
    rollback_of: int | None = None,
) -> Release:
    after = stage_state(session, store, app_id, Stage.PRODUCTION)
    row = Release(
        app_id=app_id,
        created_by=author,
        design=design,
        data=data,
        rollback_of=rollback_of,
        config_versions=after.config_versions,
        domain_version=after.domain_version,
        changes=diff(before, after),
        kept=True,
        configs=after.configs,
    )
    session.add(row)
    session.flush()
    newest = session.scalars(
        select(Release.id).where(Release.app_id == app_id).order_by(Release.id.desc()).limit(RELEASES_KEPT)
    ).all()
    session.execute(
        update(Release)
        .where(Release.app_id == app_id, Release.kept.is_(True), Release.id.not_in(newest))
        .values(kept=False, configs=None)
    )
    return row


def _stored_versions(session: Session, app_id: str) -> set[str]:
    return set(session.scalars(select(DomainVersion.id).where(DomainVersion.app_id == app_id)))


def _why_not_rollback(row: Release, stored: set[str]) -> str | None:
    if not row.kept or row.configs is None:
        return (
            f"Release {row.id} is older than the last {RELEASES_KEPT} releases of this app: its design "
            "and data are no longer kept, so production cannot be rolled back to it."
        )
    if row.domain_version is not None and row.domain_version not in stored:
        return (
            f"The data of release {row.id} was garbage-collected (domain version {row.domain_version}): "
            "production cannot be rolled back to it."
        )
    return None


def _row_dict(row: Release, refused: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "design": row.design,
        "data": row.data,
        "rollback_of": row.rollback_of,
        "config_versions": row.config_versions,
        "domain_version": row.domain_version,
        "changes": row.changes,
        "can_roll_back": refused is None,
        "rollback_refused": refused,
    }
