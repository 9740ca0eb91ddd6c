"""Releases of an app: what releasing staging would change, the history, and rollback.

The releases themselves are `POST /{app}/config/operations` and `POST /{app}/data/release`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as FastApiPath

from toucan.api.answers import ReleaseDiff, ReleaseList, RolledBack
from toucan.api.deps import ContextDep, ContributorDep
from toucan.data import release

router = APIRouter(tags=["releases"])


@router.get(
    "/{app}/release/diff",
    response_model=ReleaseDiff,
    summary="What releasing staging would change in production: stories, configs, domains (contributors)",
)
def release_diff(app: str, ctx: ContextDep, identity: ContributorDep) -> dict[str, Any]:
    return release.release_diff(ctx.db, ctx.data.store, app)


@router.get("/{app}/releases", response_model=ReleaseList, summary="The app's release history, newest first")
def releases(
    app: str,
    ctx: ContextDep,
    identity: ContributorDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    return {"releases": release.history(ctx.db, app, limit=limit), "kept": release.RELEASES_KEPT}


@router.post(
    "/{app}/releases/{release_id}/rollback",
    response_model=RolledBack,
    summary="Make production's design and data those of a past release again (contributors)",
)
def rollback(
    app: str,
    ctx: ContextDep,
    identity: ContributorDep,
    # The id column is a 32-bit integer: a larger id names no release (and PostgreSQL refuses it).
    release_id: int = FastApiPath(ge=1, le=2**31 - 1, description="A release of the app's history"),
) -> dict[str, Any]:
    done = release.rollback(ctx.db, ctx.data.store, app, release_id, author=identity.username)
    assert done.design is not None and done.data is not None
    return {
        "release": done.release_id,
        "rollback_of": release_id,
        "config_versions": done.design,
        "version": done.data["version"],
        "domains": done.data["domains"],
    }
