"""What a release changes: two states of an app (staging and production, or production and a
past release) compared story by story and domain by domain.

Pure functions over `StageState`s, read in the caller's transaction, so the summary a release
records is what it really changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from toucan.apps import configs
from toucan.apps.configs import ConfigKind, Stage
from toucan.data.domains import DomainStore


@dataclass(frozen=True)
class Domain:
    file: str
    rows: int


@dataclass(frozen=True)
class StageState:
    """An app's design and data at one moment: config documents and versions by kind, and
    the domains of one domain version."""

    configs: dict[str, dict[str, Any]]
    config_versions: dict[str, int]
    domain_version: str | None
    domains: dict[str, Domain]


def stage_state(session: Session, store: DomainStore, app_id: str, stage: Stage) -> StageState:
    """The stage's configs (`{}` and version 0 for a kind never written) and domains now."""
    documents: dict[str, dict[str, Any]] = {}
    versions: dict[str, int] = {}
    for kind in ConfigKind:
        row = configs.get_config(session, app_id, stage, kind)
        documents[kind.value] = dict(row.content) if row is not None else {}
        versions[kind.value] = row.version if row is not None else 0
    snapshot = store.snapshot_in(session, app_id, stage)
    domains = {name: Domain(info.path.name, info.rows) for name, info in snapshot.domains.items()}
    return StageState(documents, versions, snapshot.version_id, domains)


def _story(slide: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(slide.get("id")), "title": str(slide.get("title") or "")}


def _slides(front: dict[str, Any]) -> dict[str, dict[str, Any]]:
    slides = front.get("slides")
    if not isinstance(slides, list):
        return {}
    return {str(s["id"]): s for s in slides if isinstance(s, dict) and "id" in s}


def diff_design(before: StageState, after: StageState) -> dict[str, Any]:
    """Stories added, removed and changed (by id and title), home and filters, and which
    config kinds differ."""
    old, new = before.configs.get("front", {}), after.configs.get("front", {})
    old_slides, new_slides = _slides(old), _slides(new)
    changed = []
    for slide_id, slide in new_slides.items():
        previous = old_slides.get(slide_id)
        if previous is not None and previous != slide:
            story = _story(slide)
            if str(previous.get("title") or "") != story["title"]:
                story["title_before"] = str(previous.get("title") or "")
            changed.append(story)
    common_old = [i for i in old_slides if i in new_slides]
    common_new = [i for i in new_slides if i in old_slides]
    kinds = [
        {"kind": kind.value, "changed": before.configs.get(kind.value, {}) != after.configs.get(kind.value, {})}
        for kind in ConfigKind
    ]
    return {
        "changed": any(k["changed"] for k in kinds),
        "stories": {
            "added": [_story(s) for i, s in new_slides.items() if i not in old_slides],
            "removed": [_story(s) for i, s in old_slides.items() if i not in new_slides],
            "changed": changed,
            "reordered": common_old != common_new,
        },
        "home_changed": old.get("home", {}) != new.get("home", {}),
        "requesters_changed": old.get("requesters", []) != new.get("requesters", []),
        "configs": kinds,
    }


def diff_data(before: StageState, after: StageState) -> dict[str, Any]:
    """Each domain of either state: added, removed, changed (another file) or unchanged,
    with its row counts before and after."""
    domains = []
    for name in sorted(set(before.domains) | set(after.domains)):
        old, new = before.domains.get(name), after.domains.get(name)
        if old is None:
            change = "added"
        elif new is None:
            change = "removed"
        else:
            change = "unchanged" if old.file == new.file else "changed"
        domains.append(
            {
                "name": name,
                "change": change,
                "rows_before": old.rows if old else None,
                "rows_after": new.rows if new else None,
            }
        )
    return {
        "changed": before.domain_version != after.domain_version and any(d["change"] != "unchanged" for d in domains),
        "version_before": before.domain_version,
        "version_after": after.domain_version,
        "domains": domains,
    }


def diff(before: StageState, after: StageState) -> dict[str, Any]:
    """What going from `before` to `after` changes, in design and in data."""
    return {"design": diff_design(before, after), "data": diff_data(before, after)}
