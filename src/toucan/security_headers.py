"""Security headers of the API's answers and of the web app's pages.

The API answers JSON only: its Content-Security-Policy allows nothing, so a browser that
opens an answer as a page runs nothing in it and never shows it in a frame. The web app's
policy allows scripts from its own origin only (no inline script, no eval); styles may also
be set in `style` attributes, which ECharts writes into its tooltips. Who may frame the app
follows TOUCAN_FRAME_ANCESTORS (embedding in other sites).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

Headers = list[tuple[bytes, bytes]]

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# FastAPI's /docs page loads Swagger UI from a CDN with an inline script: no script policy
# there, but it is never framed either.
DOCS_CSP = "frame-ancestors 'none'"
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})

_SOURCE = re.compile(
    r"""^(?:
        \*
      | [a-zA-Z][a-zA-Z0-9+.-]*:                                   # a scheme: https:
      | (?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:\*\.)?[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*
        (?::(?:[0-9]{1,5}|\*))?(?:/[^\s;,'"]*)?                    # a host, port and path
    )$""",
    re.VERBOSE,
)


def check_frame_ancestors(value: str) -> str:
    """`value` normalised (single spaces), or ValueError naming the bad source."""
    sources = value.split()
    if not sources:
        raise ValueError("an empty list: use 'none' to forbid every frame, 'self' for the app's own pages")
    if "'none'" in sources and len(sources) > 1:
        raise ValueError("'none' cannot be combined with other sources")
    for source in sources:
        if source not in ("'self'", "'none'") and not _SOURCE.match(source):
            raise ValueError(
                f"{source!r} is not a CSP source: use 'self', 'none', a scheme (https:) or an origin "
                "(https://intranet.example.com, https://*.example.com), separated by spaces"
            )
    return " ".join(sources)


def api_headers(path: str) -> Headers:
    """Headers of every API answer; `path` is the route's, below any mount or proxy prefix."""
    csp = DOCS_CSP if path in DOCS_PATHS else API_CSP
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    ]


def api_origin(api_baseroute: str) -> str | None:
    """The origin of the API when the web app calls another one than its own, else None."""
    parts = urlsplit(api_baseroute)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def web_app_csp(frame_ancestors: str, api_baseroute: str = "") -> str:
    """The web app's Content-Security-Policy. `api_baseroute`: API_BASEROUTE of tc-params.js."""
    connect = " ".join(filter(None, ["'self'", api_origin(api_baseroute)]))
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",  # browsers without the two directives below
            "style-src-elem 'self'",
            "style-src-attr 'unsafe-inline'",  # ECharts' tooltips and Vue's :style bindings
            "img-src 'self'",
            "font-src 'self'",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def web_app_headers(frame_ancestors: str, api_baseroute: str = "") -> Headers:
    """Headers of the web app's files (index.html, scripts, styles)."""
    headers: Headers = [
        (b"content-security-policy", web_app_csp(frame_ancestors, api_baseroute).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]
    # For browsers without frame-ancestors; it cannot name other sites, so it is left out then.
    legacy = {"'self'": b"SAMEORIGIN", "'none'": b"DENY"}.get(frame_ancestors)
    if legacy:
        headers.append((b"x-frame-options", legacy))
    return headers
