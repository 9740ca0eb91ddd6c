"""The deployment files are valid: compose config resolves, the images' files exist."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def _compose() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_compose_file_is_valid() -> None:
    compose = _compose()
    if compose is None:
        pytest.skip("no docker-compose nor docker compose plugin here (.ci/run installs it)")
    env = {
        "POSTGRES_PASSWORD": "pw",
        "TOUCAN_SECRET_KEY": "key",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    result = subprocess.run(
        [*compose, "-f", str(DEPLOY / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=DEPLOY,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "postgresql+psycopg://toucan:pw@postgres/toucan" in result.stdout
    # Two domains: the API lets the web app's origin call it (else no browser can log in).
    two_domains = subprocess.run(
        [*compose, "-f", str(DEPLOY / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={**env, "FRONTEND_DNS": "dataviz.example.org"},
        cwd=DEPLOY,
        check=False,
    )
    assert """TOUCAN_CORS_ORIGINS: '["https://dataviz.example.org"]'""" in two_domains.stdout
    # Without the required secrets, compose refuses to render.
    missing = subprocess.run(
        [*compose, "-f", str(DEPLOY / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env={"PATH": env["PATH"]},
        cwd=DEPLOY,
        check=False,
    )
    assert missing.returncode != 0


def test_dockerfiles_copy_files_that_exist() -> None:
    for dockerfile in DEPLOY.glob("Dockerfile.*"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY") and "--from" not in line:
                for source in [word for word in line.split()[1:-1] if not word.startswith("--")]:
                    if source.startswith("frontend"):
                        continue  # built by the frontend image
                    assert (ROOT / source).exists(), f"{dockerfile.name}: {source} missing"


@pytest.mark.parametrize(
    ("frame_ancestors", "api_baseroute"),
    [("", "/_api"), ("'none'", "https://api-toucan.example.com/"), ("'self' https://intranet.example.com", "/_api")],
)
def test_the_frontend_image_sends_the_embedded_stack_s_security_headers(
    tmp_path: Path, frame_ancestors: str, api_baseroute: str
) -> None:
    from toucan.security_headers import web_app_headers

    (tmp_path / "scripts").mkdir()
    conf = tmp_path / "headers.conf"
    env = {
        "PATH": "/usr/bin:/bin",
        "API_BASEROUTE": api_baseroute,
        "MIXPANEL_ANALYTICS_ID": "",
        "FRAME_ANCESTORS": frame_ancestors,
        "TOUCAN_DOCROOT": str(tmp_path),
        "TOUCAN_NGINX_HEADERS": str(conf),
    }
    subprocess.run(["sh", str(DEPLOY / "frontend-entrypoint.sh")], env=env, check=True)
    written = {}
    for line in conf.read_text().splitlines():
        name, value = line.removeprefix("add_header ").removesuffix(" always;").split(" ", 1)
        written[name.lower()] = value.strip('"')
    expected = web_app_headers(frame_ancestors or "'self'", api_baseroute)
    assert written == {name.decode(): value.decode() for name, value in expected}
    # Every location of the nginx template sends them (a location's add_header hides the server's).
    lines = [line.strip() for line in (DEPLOY / "nginx-frontend.conf.template").read_text().splitlines()]
    locations = sum(line.startswith("location ") for line in lines)
    assert locations == lines.count("include /etc/nginx/toucan-headers.conf;") == 3


def test_the_frontend_image_refuses_a_frame_ancestors_value_that_would_break_the_header(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "API_BASEROUTE": "/_api",
        "MIXPANEL_ANALYTICS_ID": "",
        "FRAME_ANCESTORS": "https://a.example; script-src *",
        "TOUCAN_DOCROOT": str(tmp_path),
        "TOUCAN_NGINX_HEADERS": str(tmp_path / "headers.conf"),
    }
    result = subprocess.run(["sh", str(DEPLOY / "frontend-entrypoint.sh")], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "FRAME_ANCESTORS" in result.stderr
    assert not (tmp_path / "headers.conf").exists()
