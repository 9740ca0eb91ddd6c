"""Checks of what this host gives the stack: Chromium and fonts (screenshots and exports), the
builder-code sandbox, and the connector extras TOUCAN_EXTRA_CONNECTORS asks for."""

from __future__ import annotations

import shutil
import subprocess

from toucan.doctor.findings import Finding, fail, ok, warn
from toucan.settings import Settings

CHROMIUM_NAMES = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Families that cover Latin, Greek and Cyrillic text and the symbols charts use.
BROAD_FONTS = ("DejaVu Sans", "Liberation Sans", "Noto Sans", "Roboto", "Open Sans")
RUN_TIMEOUT = 20.0


def find_chromium(path: str | None = None) -> str | None:
    """The first Chromium-like program on `path` (default: PATH)."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name, path=path)
        if found:
            return found
    return None


def check_chromium(path: str | None = None) -> Finding:
    """Chromium is installed and starts (`--version`)."""
    program = find_chromium(path)
    if program is None:
        return warn(
            "chromium",
            f"none of {', '.join(CHROMIUM_NAMES)} is on PATH: screenshots and PDF exports cannot be made",
            "install it (`apt-get install -y chromium-headless-shell`, or `chromium`) on the hosts that render "
            "screenshots",
        )
    try:
        run = subprocess.run(
            [program, "--headless", "--no-sandbox", "--version"],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return fail("chromium", f"{program} does not start: {exc}", "reinstall it (`apt-get install -y chromium`)")
    if run.returncode != 0:
        tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
        return fail(
            "chromium",
            f"{program} --version exits {run.returncode}: {tail[0][:200]}",
            "reinstall it with its libraries (`apt-get install -y chromium`)",
        )
    return ok("chromium", f"{run.stdout.strip()} ({program})")


def check_fonts(path: str | None = None) -> Finding:
    """Fontconfig lists fonts, among them a family that covers the usual scripts."""
    fc_list = shutil.which("fc-list", path=path)
    if fc_list is None:
        return warn(
            "fonts",
            "fc-list is not installed: fontconfig is missing, screenshots show no text",
            "install fontconfig and fonts (`apt-get install -y fontconfig fonts-dejavu-core fonts-liberation`)",
        )
    try:
        run = subprocess.run([fc_list, ":", "family"], capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return warn("fonts", f"fc-list failed: {exc}", "reinstall fontconfig (`apt-get install -y fontconfig`)")
    families = {name.strip() for line in run.stdout.splitlines() for name in line.split(",") if name.strip()}
    if not families:
        return warn(
            "fonts",
            "no font is installed: screenshots show boxes instead of text",
            "install fonts (`apt-get install -y fonts-dejavu-core fonts-liberation`)",
        )
    broad = [name for name in BROAD_FONTS if name in families]
    if not broad:
        return warn(
            "fonts",
            f"{len(families)} font families, none of {', '.join(BROAD_FONTS)}: some characters may show as boxes",
            "install `fonts-dejavu-core` or `fonts-noto-core`",
        )
    return ok("fonts", f"{len(families)} font families, including {', '.join(broad)}")


def check_sandbox(settings: Settings) -> Finding:
    """The builder-code sandbox can be made and holds (the short form of `toucan-ctl doctor sandbox`)."""
    from toucan.sandbox.doctor import check

    holds, lines = check(settings)
    failed = [line.text for line in lines if not line.ok]
    if settings.builder_code_sandbox == "none":
        return warn(
            "sandbox",
            "TOUCAN_BUILDER_CODE_SANDBOX=none: `augment.py` code runs unconfined, as the worker",
            "unset TOUCAN_BUILDER_CODE_SANDBOX (install bubblewrap: `apt-get install -y bubblewrap`) unless every "
            "builder is trusted",
        )
    if not holds:
        return fail(
            "sandbox",
            f"{len(failed)} problem(s), first: {failed[0]}",
            "run `toucan-ctl doctor sandbox` on the worker host for the whole report; install bubblewrap "
            "(`apt-get install -y bubblewrap`, TOUCAN_BUILDER_CODE_BWRAP) and allow unprivileged user namespaces; "
            "see docs/security.md",
        )
    return ok("sandbox", f"bubblewrap sandbox holds ({len(lines)} checks)")


def check_extras(settings: Settings) -> Finding:
    """Every extra TOUCAN_EXTRA_CONNECTORS names is installed."""
    from toucan.connectors.extras import EXTRAS, missing_extras
    from toucan.errors import ToucanError

    if not settings.extra_connectors:
        return ok("connector-extras", "TOUCAN_EXTRA_CONNECTORS is empty: built-in connectors only")
    try:
        missing = missing_extras(settings.extra_connectors)
    except ToucanError as exc:
        return fail("connector-extras", exc.message, f"keep only known extras: {', '.join(sorted(EXTRAS))}")
    if missing:
        return fail(
            "connector-extras",
            f"TOUCAN_EXTRA_CONNECTORS asks for {', '.join(missing)}, not installed",
            f"run `toucan-ctl install_connectors {' '.join(missing)}` (or restart: the backend installs them at "
            "start when it can reach the package index)",
        )
    return ok("connector-extras", f"installed: {', '.join(settings.extra_connectors)}")
