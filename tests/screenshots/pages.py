"""Test pages for the renderer: a story that becomes ready after a while, one that never
does, one without a story element; served by a small Starlette app in the test's thread."""

from __future__ import annotations

import asyncio
import threading

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

STYLE = "<style>body{margin:0;font-family:sans-serif;background:#fff}.bar{background:#2563eb;height:60px}</style>"

READY_AFTER = """<!doctype html><html><head>{style}</head><body data-render-complete="false">
<div class="tc-story"><h1>Ready soon</h1><div class="bar" style="width:{width}px"></div>
<div style="height:{height}px"></div><p id="end">The end</p></div>
<script>fetch('/hold').then(() => setTimeout(() => document.body.dataset.renderComplete = 'true', {after}));</script>
</body></html>"""

NEVER = """<!doctype html><html><head>{style}</head><body data-render-complete="false">
<div class="tc-story"><h1>Never ready</h1><div class="bar" style="width:600px"></div></div>
<script>console.error('chart 3 failed: boom'); fetch('/missing-data');</script>
</body></html>"""

# Reports what an earlier capture may have left (storage, cookies), then leaves some itself and
# keeps a script running (a tick every 50 ms) after it is ready.
LEFTOVERS = """<!doctype html><html><head>{style}</head><body data-render-complete="false">
<div class="tc-story"><h1>Leftovers</h1></div>
<script>
const found = {{local: localStorage.getItem('k'), session: sessionStorage.getItem('k'), cookie: document.cookie}};
fetch('/seen', {{method: 'POST', body: JSON.stringify(found)}}).then(() => {{
  localStorage.setItem('k', 'left'); sessionStorage.setItem('k', 'left'); document.cookie = 'k=left; path=/';
  setInterval(() => fetch('/tick', {{method: 'POST'}}), 50);
  document.body.dataset.renderComplete = 'true';
}});
</script></body></html>"""

NO_STORY = """<!doctype html><html><head>{style}</head><body>
<p role="alert">The backend cannot be reached.</p></body></html>"""


class Holds:
    """How many `/hold` requests are in flight, and the most seen at once."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self.lock = threading.Lock()


def pages_app(
    holds: Holds | None = None,
    hold_seconds: float = 0.0,
    capture: dict[str, str] | None = None,
    seen: list[str] | None = None,
) -> Starlette:
    """`capture["mode"]` says what the capture view's address shows: `never` (default) or `ready`;
    `seen` gets what each /leftovers page found, then `tick` for each of its ticks."""
    seen = seen if seen is not None else []
    holds = holds or Holds()
    capture = capture if capture is not None else {"mode": "never"}

    async def ready(request: Request) -> Response:
        q = request.query_params
        return HTMLResponse(
            READY_AFTER.format(
                style=STYLE, width=q.get("width", "800"), height=q.get("height", "100"), after=q.get("after", "0")
            )
        )

    async def never(_: Request) -> Response:
        return HTMLResponse(NEVER.format(style=STYLE))

    async def no_story(_: Request) -> Response:
        return HTMLResponse(NO_STORY.format(style=STYLE))

    async def hold(_: Request) -> Response:
        assert holds is not None
        with holds.lock:
            holds.now += 1
            holds.most = max(holds.most, holds.now)
        await asyncio.sleep(hold_seconds)
        with holds.lock:
            holds.now -= 1
        return Response("ok")

    async def capture_view(request: Request) -> Response:
        assert capture is not None
        if capture.get("mode") == "ready":
            return HTMLResponse(READY_AFTER.format(style=STYLE, width="800", height="100", after="0"))
        return await never(request)

    async def leftovers(_: Request) -> Response:
        return HTMLResponse(LEFTOVERS.format(style=STYLE))

    async def record(request: Request) -> Response:
        assert seen is not None
        seen.append((await request.body()).decode() if request.url.path == "/seen" else "tick")
        return Response("ok")

    async def missing(_: Request) -> Response:
        return Response("no such data", status_code=404)

    return Starlette(
        routes=[
            Route("/ready", ready),
            Route("/never", never),
            Route("/no-story", no_story),
            Route("/hold", hold),
            Route("/missing-data", missing),
            Route("/leftovers", leftovers),
            Route("/seen", record, methods=["POST"]),
            Route("/tick", record, methods=["POST"]),
            # The capture view's address, as a job's capture asks for it: never ready.
            Route("/capture/{rest:path}", capture_view),
        ]
    )
