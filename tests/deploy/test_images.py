"""The images, built with podman and run as the compose topology: two backends behind a load
balancer, a job worker, the scheduler and the frontend, with PostgreSQL and Redis from the host.
A person logs in through the frontend container, uploads a file, preprocesses it (with builder
code, in the worker's sandbox), releases it and reads a story. `make test-deploy` runs this file
(docs/deployment.md, "Images"); `make test` does not (the `deploy` marker)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from tests.helpers import ROOT, free_port
from tests.helpers.browser import SCREENSHOTS, record_errors, shot
from tests.helpers.podman import (
    BACKEND_IMAGE,
    CA_BUNDLE,
    FRONTEND_IMAGE,
    Containers,
    build_images,
    containers,
    podman,
    wait_for_http,
)

pytestmark = [pytest.mark.deploy, pytest.mark.browser]

ADMIN_PASSWORD = "deploy-admin-pw"
APP = "deployed"
READY = "body[data-render-complete='true']"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# A Redis database of its own: the stack's queues and caches of this run only.
REDIS_DB = int(os.environ.get("TOUCAN_DEPLOY_REDIS_DB", "9"))
# Small and pure Python: installed from PyPI at each container's start.
EXTRA = "mysql"

SALES = "country,revenue\nFrance,10\nSpain,20\nFrance,5\n"
AUGMENT = """
def add_tax(sales):
    sales["with_tax"] = sales["revenue"] * 1.2
    return sales
"""
ETL = {
    "DATA_SOURCES": [{"domain": "sales", "file": "sales.csv"}],
    "PIPELINE": [
        {"input_domains": ["sales"], "function_name": "add_tax", "output_domain": "taxed"},
        {
            "input_domains": ["taxed"],
            "output_domain": "by_country",
            "pipeline": [
                {"name": "domain", "domain": "taxed"},
                {
                    "name": "aggregate",
                    "on": ["country"],
                    "aggregations": [
                        {
                            "aggfunction": "sum",
                            "columns": ["revenue", "with_tax"],
                            "newcolumns": ["revenue", "with_tax"],
                        }
                    ],
                },
                {"name": "sort", "columns": [{"column": "country", "order": "asc"}]},
            ],
        },
    ],
}
FRONT = {
    "home": {"title": "Deployed", "description": "Built and run with podman.", "kpis": []},
    "requesters": [],
    "slides": [
        {
            "id": "revenue",
            "level": 1,
            "title": "Revenue by country",
            "narrative": "Two countries, taxes included.",
            "chart": {"type": "bar", "x": "country", "y": ["with_tax"]},
            "query": [{"name": "domain", "domain": "by_country"}],
        }
    ],
}


@dataclass(frozen=True)
class Stack:
    api: str  # the load balancer in front of both backends
    frontend: str
    backends: tuple[str, str]
    containers: Containers
    storage: Path


def _lb_conf(port: int, backends: tuple[int, int]) -> str:
    # A load balancer like the proxy of the compose file, round-robin over both backends; it says
    # which one answered (X-Upstream) so the test can see both serve.
    return f"""
pid /tmp/toucan-lb.pid;
events {{}}
http {{
  access_log off;
  error_log stderr;
  upstream backends {{ server 127.0.0.1:{backends[0]}; server 127.0.0.1:{backends[1]}; }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 50m;
    location / {{
      proxy_pass http://backends;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      add_header X-Upstream $upstream_addr always;
    }}
  }}
}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    build_images()
    database = f"toucan_deploy_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    import redis

    broker = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    broker.flushdb()
    storage = tmp_path_factory.mktemp("storage")
    uid = podman("run", "--rm", "--ulimit", "host", "--no-healthcheck", BACKEND_IMAGE, "id", "-u").stdout.strip()
    os.chown(storage, int(uid), int(uid))
    ports = {name: free_port() for name in ("backend1", "backend2", "lb", "frontend")}
    api = f"http://127.0.0.1:{ports['lb']}"
    frontend = f"http://127.0.0.1:{ports['frontend']}"
    lb_conf = tmp_path_factory.mktemp("lb") / "lb.conf"
    lb_conf.write_text(_lb_conf(ports["lb"], (ports["backend1"], ports["backend2"])))
    lb_conf.chmod(0o644)
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    services = compose["services"]
    # What the compose file gives every backend container (x-toucan-environment), on this host.
    env = {
        "TOUCAN_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
        "TOUCAN_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "TOUCAN_SECRET_KEY": "deploy-test-secret-key",
        "TOUCAN_EXTRA_CONNECTORS": json.dumps([EXTRA]),
    }
    assert set(env) == set(compose["x-toucan-environment"]), "the compose file's environment changed"
    volumes = [f"{storage}:/storage"]
    if CA_BUNDLE.exists():  # a TLS-inspecting proxy's CA (this machine's), for the installs at start
        volumes.append(f"{CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro")
    # The worker runs builder code in bubblewrap, with the compose file's security options.
    sandbox = [word for option in services["worker"]["security_opt"] for word in ("--security-opt", option)]
    with containers() as group:
        try:
            for name in ("backend1", "backend2"):
                group.run(
                    name,
                    BACKEND_IMAGE,
                    env={
                        **env,
                        "TOUCAN_HOST": "127.0.0.1",
                        "TOUCAN_PORT": str(ports[name]),
                        "TOUCAN_GUNICORN_WORKERS": "2",
                        "TOUCAN_SUPER_ADMIN_PASSWORD": ADMIN_PASSWORD,
                        "TOUCAN_CORS_ORIGINS": json.dumps([frontend]),
                    },
                    volumes=volumes,
                )
            group.run("worker", BACKEND_IMAGE, services["worker"]["command"], env=env,
                      volumes=volumes, options=sandbox)  # fmt: skip
            group.run("scheduler", BACKEND_IMAGE, services["scheduler"]["command"], env=env, volumes=volumes)
            group.run("lb", FRONTEND_IMAGE, ["nginx", "-c", "/etc/nginx/lb.conf", "-g", "daemon off;"],
                      volumes=[f"{lb_conf}:/etc/nginx/lb.conf:ro"])  # fmt: skip
            group.run("frontend", FRONTEND_IMAGE, env={"API_BASEROUTE": api, "LISTEN_PORT": str(ports["frontend"])})
            for name in ("backend1", "backend2"):
                wait_for_http(f"http://127.0.0.1:{ports[name]}/ready", timeout=180, what=name, logs=group.all_logs)
            wait_for_http(f"{api}/ready", timeout=30, what="the load balancer", logs=group.all_logs)
            wait_for_http(f"{frontend}/login", timeout=30, what="the frontend", logs=group.all_logs)
            yield Stack(
                api=api,
                frontend=frontend,
                backends=(f"http://127.0.0.1:{ports['backend1']}", f"http://127.0.0.1:{ports['backend2']}"),
                containers=group,
                storage=storage,
            )
        except BaseException:
            print(group.all_logs())
            raise
        finally:
            broker.flushdb()
            with psycopg.connect(PG_SERVER, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def admin(stack: Stack) -> dict[str, str]:
    response = httpx.post(f"{stack.api}/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.helpers import chromium

    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = record_errors(context.new_page())
    yield page
    context.close()


def test_both_backends_serve_behind_the_load_balancer(stack: Stack, admin: dict[str, str]) -> None:
    served = set()
    for _ in range(6):
        response = httpx.get(f"{stack.api}/me", headers=admin)
        assert response.status_code == 200, response.text
        served.add(response.headers["x-upstream"])
    assert served == {backend.removeprefix("http://") for backend in stack.backends}
    # A token one backend made is good on the other (the same secret key and database).
    for backend in stack.backends:
        assert httpx.get(f"{backend}/me", headers=admin).json()["username"] == "admin"


def test_the_api_answers_the_frontend_s_origin_only(stack: Stack) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = httpx.options(f"{stack.api}/login", headers={"Origin": stack.frontend, **preflight})
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == stack.frontend
    other = httpx.options(f"{stack.api}/login", headers={"Origin": "http://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
    # The data page sends file chunks with an Upload-Offset header: allowed too.
    chunk = {"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "authorization,upload-offset"}
    upload = httpx.options(f"{stack.api}/{APP}/data/sources/uploads/x", headers={"Origin": stack.frontend, **chunk})
    assert upload.status_code == 200, upload.text


def test_a_builder_logs_in_uploads_preprocesses_releases_and_reads_the_story(
    stack: Stack, admin: dict[str, str], page: Any, tmp_path: Path
) -> None:
    api, front = stack.api, stack.frontend
    assert httpx.post(f"{api}/small-apps", json={"id": APP, "name": "Deployed"}, headers=admin).status_code == 201
    assert httpx.put(f"{api}/{APP}/config", json=FRONT, headers=admin).status_code == 200
    saved = httpx.put(f"{api}/{APP}/config/augment", content=AUGMENT, headers=admin)
    assert saved.status_code == 200, saved.text

    # Log in through the frontend container: the web app calls the API on its other origin.
    # Staging's home draws its story tile's thumbnail before any data exists: that request is a
    # 404 the browser logs (the tile shows no data). Every 404 is recorded to check it is only that.
    not_found: list[str] = []
    page.on("response", lambda r: not_found.append(r.url) if r.status == 404 else None)
    page.goto(f"{front}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{front}/")
    page.goto(f"{front}/apps/{APP}")
    page.click(".stage-switch button:has-text('Staging')")
    page.click("[data-action=open-data]")
    page.wait_for_url(f"{front}/apps/{APP}/data")

    # Upload, the ETL config, preprocess (on the worker container, builder code in its sandbox).
    sales = tmp_path / "sales.csv"
    sales.write_text(SALES)
    page.set_input_files("input[name=source-file]", str(sales))
    page.locator("[data-upload='sales.csv'][data-state=done]").wait_for()
    page.click("[data-etl-tab=json]")  # the ETL config as JSON: the Advanced tab beside the forms
    page.fill("textarea[name=etl-config]", json.dumps(ETL))
    page.click("[data-action=save-etl]")
    page.get_by_text("Saved to staging.").wait_for()
    page.click("[data-action=preprocess]")
    page.locator(
        "[data-panel=preprocess] .job[data-state=succeeded], [data-panel=preprocess] .job[data-state=failed]"
    ).wait_for(timeout=120_000)
    job_log = page.locator("[data-panel=preprocess] .job").inner_text()
    assert page.locator("[data-panel=preprocess] .job[data-state=succeeded]").count() == 1, (
        job_log + stack.containers.logs("worker")[-3000:]
    )
    domains = page.locator("[data-table=domains]")
    assert domains.locator("[data-domain=by_country] [data-rows]").inner_text() == "2"
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "deploy-preprocessed")

    # Release: production serves the data, then the design (the story).
    page.click("[data-action=release-data]")
    page.locator("[data-dialog=release] [data-action=confirm-release]").click()  # after the diff
    page.get_by_text("Released: production now serves 3 domains.").wait_for()
    released = httpx.post(f"{api}/{APP}/config/operations", json={"operations": ["release_design"]}, headers=admin)
    assert released.status_code == 200, released.text
    rows = httpx.post(
        f"{api}/{APP}/data?stage=production",
        json={"query": [{"name": "domain", "domain": "by_country"}]},
        headers=admin,
    ).json()["data"]
    assert rows == [
        {"country": "France", "revenue": 15, "with_tax": pytest.approx(18.0)},
        {"country": "Spain", "revenue": 20, "with_tax": pytest.approx(24.0)},
    ]

    # The story, in production, through the frontend.
    page.goto(f"{front}/apps/{APP}/stories/revenue")
    page.wait_for_selector(READY)
    page.wait_for_selector(".chart[data-chart-type=bar][data-state=ready]")
    assert "Revenue by country" in page.locator("body").inner_text()
    shot(page, "deploy-story")
    assert [e for e in page.console_errors if "status of 404" not in e] == []
    assert len([e for e in page.console_errors if "status of 404" in e]) == len(not_found)
    assert all(url.endswith(f"/{APP}/data?stage=staging") for url in not_found), not_found


def test_the_backend_image_has_its_own_ca_bundle(stack: Stack) -> None:
    """SSL_CERT_FILE names the image's bundle, and it is there without any volume: HTTPS from
    the backend (OIDC discovery, connectors, the backup tools) verifies certificates."""
    check = (
        "import os, ssl; path = os.environ['SSL_CERT_FILE']; "
        "context = ssl.create_default_context(cafile=path); "
        "print(path, os.path.getsize(path), len(context.get_ca_certs()))"
    )
    result = podman("run", "--rm", "--ulimit", "host", "--no-healthcheck", BACKEND_IMAGE, "python", "-c", check)
    path, size, certificates = result.stdout.split()
    assert path == "/etc/ssl/certs/ca-certificates.crt" and int(size) > 100_000 and int(certificates) > 100


def test_the_faqs_toolbox_commands_move_the_app_in_the_image(
    stack: Stack, admin: dict[str, str], tmp_path: Path
) -> None:
    """`toucan_backup` then `toucan_restore`, run in the backend image as the FAQ runs them
    (`-v …:/tmp`, the storage on /storage), restore the app built above under a new name."""
    out = tmp_path / "backups"
    out.mkdir()
    uid = podman("run", "--rm", "--ulimit", "host", "--no-healthcheck", BACKEND_IMAGE, "id", "-u").stdout.strip()
    os.chown(out, int(uid), int(uid))
    database_url = podman(
        "exec", stack.containers.name("backend1"), "printenv", "TOUCAN_DATABASE_URL", check=False
    ).stdout.strip()
    common = [
        "run",
        "--rm",
        "--network=host",
        "--ulimit",
        "host",
        "--no-healthcheck",
        "-v",
        f"{stack.storage}:/storage",
    ]
    env = ["-e", f"TOUCAN_DATABASE_URL={database_url}", "-e", f"BACKEND_URL_SPECIFIC={stack.api}"]
    backup = podman(
        *common, "-v", f"{out}:/tmp", *env, "-e", f"SMALL_APP_SPECIFIC={APP}", BACKEND_IMAGE, "toucan_backup",
        check=False,
    )  # fmt: skip
    assert backup.returncode == 0, backup.stdout + backup.stderr
    (folder,) = out.glob("on-premise_backup-*")
    assert sorted(p.name for p in folder.iterdir()) == [
        "database.tar.gz",
        "laputa_version",
        "manifest.json",
        "storage.tar.gz",
    ]
    restore = podman(
        *common, "-v", f"{folder}:/tmp/{folder.name}", *env,
        "-e", "BACKEND_USER_SPECIFIC=admin", "-e", f"BACKEND_PASSWORD_SPECIFIC={ADMIN_PASSWORD}",
        "-e", f"SMALL_APPS_SPECIFIC={APP}", "-e", "SMALL_APPS_NEW_NAME_SPECIFIC=deployed-copy",
        BACKEND_IMAGE, "toucan_restore", f"/tmp/{folder.name}", "/storage",
        check=False,
    )  # fmt: skip
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "create the small app 'deployed-copy'" in restore.stdout

    def rows(app: str) -> Any:
        query = {"query": [{"name": "domain", "domain": "by_country"}]}
        answer = httpx.post(f"{stack.api}/{app}/data?stage=production", json=query, headers=admin)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    assert rows("deployed-copy") == rows(APP) and len(rows(APP)) == 2


def test_the_worker_container_makes_the_builder_code_sandbox(stack: Stack) -> None:
    doctor = stack.containers.exec("worker", "toucan-ctl", "doctor", "sandbox")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr


def test_extra_connectors_are_installed_at_start_by_the_image_s_user(stack: Stack) -> None:
    # TOUCAN_EXTRA_CONNECTORS=["mysql"]: the backends and the worker installed its driver into
    # the virtualenv the image's user owns, and started.
    for name in ("backend1", "backend2", "worker"):
        imported = stack.containers.exec(name, "python", "-c", "import pymysql, sys; print(pymysql.__file__)")
        assert imported.returncode == 0, imported.stderr + stack.containers.logs(name)[-2000:]
        assert imported.stdout.startswith("/opt/toucan/lib/"), imported.stdout
        assert "Permission denied" not in stack.containers.logs(name)
    listed = stack.containers.exec("backend1", "toucan-ctl", "connectors")
    assert listed.returncode == 0 and "mysql" in listed.stdout


def test_an_image_built_from_the_backend_image_installs_connectors(tmp_path: Path) -> None:
    # The FAQ's recipe, word for word (a Dockerfile FROM the image, RUN toucan-ctl install_connectors).
    (tmp_path / "Dockerfile").write_text(f"FROM {BACKEND_IMAGE}\nRUN toucan-ctl install_connectors {EXTRA}\n")
    tag = f"localhost/toucan-backend-connectors:{uuid.uuid4().hex[:8]}"
    ca = ["--volume", f"{CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro"] if CA_BUNDLE.exists() else []
    try:
        podman("build", "--network=host", *ca, "-t", tag, str(tmp_path))
        imported = podman(
            "run", "--rm", "--ulimit", "host", "--no-healthcheck", "--network=none", tag,
            "python", "-c", "import pymysql; print(pymysql.__file__)",
        )  # fmt: skip
        assert imported.stdout.startswith("/opt/toucan/lib/")
        # At start the driver is there already: nothing to download (no network here).
        started = podman(
            "run", "--rm", "--ulimit", "host", "--no-healthcheck", "--network=none", "-e",
            f'TOUCAN_EXTRA_CONNECTORS=["{EXTRA}"]', tag, "toucan-ctl", "install_connectors", EXTRA,
        )  # fmt: skip
        assert "already installed" in started.stdout
    finally:
        podman("rmi", "-f", tag, check=False)


def test_the_backend_image_s_chromium_takes_screenshots(stack: Stack) -> None:
    target = "/tmp/login.png"
    taken = stack.containers.exec(
        "backend1",
        "chromium-headless-shell", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--hide-scrollbars", "--window-size=1280,800", f"--screenshot={target}", f"{stack.frontend}/login",
        timeout=120,
    )  # fmt: skip
    assert taken.returncode == 0, taken.stderr[-2000:]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    copy = SCREENSHOTS / "deploy-chromium-in-backend.png"
    podman("cp", f"{stack.containers.name('backend1')}:{target}", str(copy))
    data = copy.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000
    # The renderer of exports (Playwright's driver and the headless shell), from the backend's
    # container: every step of the FAQ's procedure.
    doctor = stack.containers.exec(
        "backend1", "toucan-ctl", "doctor", "screenshot", "--json", "--frontend-url", stack.frontend, timeout=180
    )
    assert doctor.returncode == 0, doctor.stdout[-3000:] + doctor.stderr[-2000:]


def test_the_versions_the_faq_reads_with_curl(stack: Stack) -> None:
    # `curl https://${backend_domain}/` and `curl https://${frontend_domain}/tucana-version.txt`.
    backend = httpx.get(f"{stack.api}/")
    assert backend.status_code == 200 and backend.json()["version"] == "0.1.0"
    # The commit the image was built from (build.sh passes BUILD_COMMIT).
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    assert backend.json()["build"]["commit"] == (commit.stdout.strip() or None)
    frontend = httpx.get(f"{stack.frontend}/tucana-version.txt")
    assert frontend.status_code == 200 and frontend.text.strip() == "v0.1.0"


def test_the_frontend_files_come_out_of_the_image_as_the_faq_says(tmp_path: Path) -> None:
    # The FAQ's `docker run --rm --entrypoint /bin/cp --user $(id -u):$(id -g) ...` for other web servers.
    out = tmp_path / "sources"
    out.mkdir()
    out.chmod(0o777)
    podman(
        "run", "--rm", "--ulimit", "host", "--no-healthcheck", "--network=none", "--entrypoint", "/bin/cp",
        "--user", f"{os.getuid()}:{os.getgid()}", "-v", f"{out}:/tmp/toucantoco-sources/",
        FRONTEND_IMAGE, "-r", "/usr/share/nginx/html", "/tmp/toucantoco-sources/frontend-latest-monthly",
    )  # fmt: skip
    files = out / "frontend-latest-monthly"
    assert (files / "index.html").exists() and (files / "tucana-version.txt").read_text().strip() == "v0.1.0"
    assert (files / "scripts" / "tc-params.js").exists() and (files / "embed-params.json").exists()
