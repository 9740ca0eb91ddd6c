"""The frontend's run-time configuration files (FAQ: scripts/tc-params.js, embed-params.json)."""

from __future__ import annotations

import json
from pathlib import Path


def tc_params_js(api_baseroute: str, mixpanel_id: str = "") -> str:
    params = {"API_BASEROUTE": api_baseroute, "MIXPANEL_ANALYTICS_ID": mixpanel_id}
    return f"window.TC_PARAMS = {json.dumps(params, indent=2)};\n"


def write_params(directory: Path, api_baseroute: str, mixpanel_id: str = "") -> list[Path]:
    """Write both files into a frontend docroot; the embed file keeps its other keys."""
    scripts = directory / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    tc_params = scripts / "tc-params.js"
    tc_params.write_text(tc_params_js(api_baseroute, mixpanel_id))
    embed = directory / "embed-params.json"
    current = json.loads(embed.read_text()) if embed.exists() else {}
    current["API_BASEROUTE"] = api_baseroute
    embed.write_text(json.dumps(current, indent=2) + "\n")
    return [tc_params, embed]
