"""The pages a capture shows: an app's home or one story, at a stage, as the capture view of
the web app (`/capture/apps/:app[/stories/:story]`) reads them from `GET /{app}/capture`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from toucan.apps.configs import ConfigKind, Stage, read_config
from toucan.apps.viewer_requests import chart_request, page_charts, requesters_on
from toucan.db.models import SmallApp
from toucan.errors import NotFound, PermissionDenied, ValidationError

HOME = "home"
STORY_PREFIX = "story:"


def story_page(story_id: str) -> str:
    return f"{STORY_PREFIX}{story_id}"


def parse_page(page: str) -> str | None:
    """The story id of a `story:<id>` page, None for `home`; 400 for anything else."""
    if page == HOME:
        return None
    if page.startswith(STORY_PREFIX) and len(page) > len(STORY_PREFIX):
        return page[len(STORY_PREFIX) :]
    raise ValidationError(
        f"Unknown page {page!r}: a page is 'home' or 'story:<story id>'.", details={"field": "page", "value": page}
    )


def _slides(front: dict[str, Any]) -> list[dict[str, Any]]:
    slides = front.get("slides")
    return [s for s in slides if isinstance(s, dict)] if isinstance(slides, list) else []


def story_ids(session: Session, app_id: str, stage: Stage) -> list[str]:
    """The ids of the app's stories at `stage`, in their order."""
    front = read_config(session, app_id, stage, ConfigKind.FRONT)
    return [str(s["id"]) for s in _slides(front) if s.get("id")]


def find_story(front: dict[str, Any], story_id: str, app_id: str, stage: Stage) -> dict[str, Any]:
    for slide in _slides(front):
        if str(slide.get("id")) == story_id:
            return slide
    raise NotFound(
        f"App {app_id!r} has no story {story_id!r} at {stage.value}.",
        details={"app": app_id, "story": story_id, "stage": stage.value},
    )


def page_title(session: Session, app_id: str, stage: Stage, page: str) -> str:
    """What a page is called in a PDF's header: the story's title, or the home's."""
    front = read_config(session, app_id, stage, ConfigKind.FRONT)
    story = parse_page(page)
    app = session.get(SmallApp, app_id)
    name = app.name if app is not None else app_id
    if story is None:
        home = front.get("home")
        return str((home.get("title") if isinstance(home, dict) else None) or name)
    return str(find_story(front, story, app_id, stage).get("title") or story)


def capture_page(session: Session, app_id: str, stage: Stage, page: str) -> dict[str, Any]:
    """Everything the capture view draws for `page`: the app's name, the home or the story,
    and the filters (requesters) that apply to it."""
    front = read_config(session, app_id, stage, ConfigKind.FRONT)
    app = session.get(SmallApp, app_id)
    if app is None:
        raise NotFound(f"No app {app_id!r}.", details={"app": app_id})
    story_id = parse_page(page)
    answer: dict[str, Any] = {"app": {"id": app.id, "name": app.name}, "stage": stage.value, "page": page}
    slide: dict[str, Any] | None = None
    if story_id is None:
        answer["home"] = front.get("home") if isinstance(front.get("home"), dict) else {}
        answer["slides"] = _slides(front)
    else:
        slide = find_story(front, story_id, app_id, stage)
        answer["slide"] = slide
    # The filters shown on the page, by the web app's rule; every filter's variable is sent
    # (a request naming one it does not show still gets its starting value).
    answer["requesters"] = requesters_on(front, slide)
    answer["all_requesters"] = [r for r in front.get("requesters") or [] if isinstance(r, dict)]
    return answer


def _requesters(front: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in front.get("requesters") or [] if isinstance(r, dict) and r.get("id")]


def check_capture_data(
    front: dict[str, Any], app_id: str, stage: Stage, page: str, given: dict[str, Any], query: Any, variables: Any
) -> None:
    """Refuse (403) a capture token's data request that the captured page does not send.

    The page (frontend/src/views/CaptureView.vue) sends, for the capture's variables `given`:
    the value list of each filter it shows (its `query`, without variables), and each chart's
    (or home KPI's) request built by the viewer's rule (toucan.apps.viewer_requests): the
    chart's query with a filter step per shown filter, and every filter's variable, a given
    value where the filter applies to the chart. Anything else — another story's chart, an
    ad-hoc query, a chart's query with other filter values than given — is not the page's.
    """
    story = parse_page(page)
    try:
        slide = None if story is None else find_story(front, story, app_id, stage)
    except NotFound:
        slide = None
        charts = []
    else:
        charts = page_charts(front, slide)
    every = _requesters(front)
    shown = requesters_on({"requesters": every}, slide) if slide is not None or story is None else []
    if not isinstance(variables, dict):
        variables = {}
    if not variables and any(r.get("query") == query for r in shown if r.get("query")):
        return
    shown_ids = {r["id"] for r in shown}
    other_values: set[str] = set()
    for chart in charts:
        expected = chart_request(chart.query, every, shown, variables, chart.key)
        if expected.query != query or expected.variables != variables:
            continue
        pinned = {
            r["id"]
            for r in every
            if r["id"] in shown_ids
            and r["id"] in given
            and (r.get("charts") is None or chart.key in r["charts"])
            and variables.get(r["id"]) != given[r["id"]]
        }
        if not pinned:
            return
        other_values |= pinned
    if other_values:
        raise PermissionDenied(
            "This capture token was made for other filter values.", details={"variables": sorted(other_values)}
        )
    raise PermissionDenied(
        "A capture token only runs the data requests of the page it was made for.", details={"page": page}
    )
