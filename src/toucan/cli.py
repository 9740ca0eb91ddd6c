"""`toucan-ctl`: run, migrate and administer the stack from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError as PydanticValidationError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from toucan import __version__
from toucan.errors import ToucanError
from toucan.settings import ReplacedSettingError, Settings

app = typer.Typer(help="Toucan stack control.", no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)
# Who a release made from a shell is recorded as, in the app's release history.
CLI_AUTHOR = "toucan-ctl"


def _settings(**overrides: Any) -> Settings:
    try:
        given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**given)
    except PydanticValidationError as exc:
        for error in exc.errors():
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, ReplacedSettingError):
                err.print(f"[bold red]Start-up stopped:[/] {cause}")
                raise typer.Exit(2) from None
        err.print(f"[bold red]Invalid settings:[/] {exc}")
        raise typer.Exit(2) from None


def _login_banner(settings: Settings, url: str, username: str, created: bool, password: str | None) -> str:
    lines = [f"Toucan stack {__version__} is starting at [bold]{url}[/]"]
    if password:
        lines.append(f"Log in as [bold]{username}[/] with password [bold]{password}[/]")
        lines.append("This generated password is shown once: keep it, or set TOUCAN_SUPER_ADMIN_PASSWORD.")
    elif created:
        lines.append(f"Log in as [bold]{username}[/] with the password in TOUCAN_SUPER_ADMIN_PASSWORD.")
    else:
        lines.append(
            f"Log in as [bold]{username}[/] (super admin). Forgot the password? `toucan-ctl set-password {username}`"
        )
    lines.append(f"API: {url}/_api/   ·   from a script: curl -u {username}:PASSWORD {url}/_api/me")
    return "\n".join(lines)


@app.command()
def serve(
    production: Annotated[
        bool,
        typer.Option("--production", help="gunicorn with TOUCAN_GUNICORN_WORKERS workers, API at /"),
    ] = False,
    host: Annotated[str | None, typer.Option(help="Overrides TOUCAN_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides TOUCAN_PORT.")] = None,
) -> None:
    """Run the stack: embedded (API at /_api, frontend at /) or --production."""
    from toucan.bootstrap import prepare
    from toucan.logs import configure_logging
    from toucan.serve import serve_embedded, serve_production

    settings = _settings(host=host, port=port)
    configure_logging(settings.log_level, settings.log_format)
    db, admin = prepare(settings)
    url = f"http://{settings.host}:{settings.port}"
    console.print(
        Panel(
            _login_banner(settings, url, admin.username, admin.created, admin.generated_password),
            expand=False,
        )
    )
    if production:
        db.dispose()
        serve_production(settings)
        return
    if not settings.embedded_worker:
        serve_embedded(settings, db)
        return
    from toucan.jobs.embedded import embedded_job_system

    with embedded_job_system(settings):
        serve_embedded(settings, db)


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Jobs run at once by this worker.")] = 2,
    beat: Annotated[bool, typer.Option("--beat", help="Also run the scheduler (only one per stack).")] = False,
) -> None:
    """Run a job worker (preprocess and other background jobs); needs TOUCAN_REDIS_URL in production."""
    from toucan.bootstrap import ensure_schema, install_connector_extras
    from toucan.db.engine import Database
    from toucan.db.reach import check_reach
    from toucan.logs import configure_logging
    from toucan.worker import create_worker, prepare_worker

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    install_connector_extras(settings)  # jobs load data through the connectors too
    db = Database.from_settings(settings)
    check_reach(db)
    ensure_schema(db, settings)
    reaped = prepare_worker(settings, db)
    if reaped:
        console.print(f"Marked {reaped} job(s) of stopped workers as failed.")
    db.dispose()
    argv = [
        "worker",
        f"--loglevel={settings.log_level.upper()}",
        f"--concurrency={concurrency}",
        "--pool=prefork",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        "--hostname=toucan@%h",
    ]
    if settings.log_format == "json":
        argv.insert(0, "--quiet")  # no banner: every line of the output is JSON (a `celery` option)
    if beat:
        argv += ["--beat", f"--schedule={settings.data_dir / 'celerybeat-schedule'}"]
    create_worker(settings).worker_main(argv)


@app.command()
def scheduler() -> None:
    """Run the scheduler (Celery beat): exactly one per stack."""
    from toucan.logs import configure_logging
    from toucan.worker import create_worker_app

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    create_worker_app(settings).start(
        ["beat", f"--loglevel={settings.log_level.upper()}", f"--schedule={settings.data_dir / 'celerybeat-schedule'}"]
    )


@app.command()
def migrate() -> None:
    """Apply database migrations (safe while other processes start)."""
    from toucan.db import migrate as migrations
    from toucan.db.engine import Database
    from toucan.db.reach import check_reach

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.from_settings(settings)
    check_reach(db)
    before, after = migrations.upgrade(db.engine, settings.data_dir)
    was = ", ".join(sorted(before)) or "empty"
    console.print(f"Database at revision {', '.join(sorted(after))} (was {was}).")


@app.command("upgrade-check")
def upgrade_check() -> None:
    """Before an upgrade, run with the NEW version against the current database: says whether
    it can be migrated and which migrations will run (exit 0), or why not (exit 1: a database a
    newer version migrated — downgrades are refused — or a database that cannot be reached).
    Nothing is written."""
    from sqlalchemy.exc import SQLAlchemyError

    from toucan import __version__
    from toucan.db import migrate as migrations
    from toucan.db.engine import Database

    settings = _settings()
    db = Database.from_settings(settings)
    try:
        plan = migrations.plan_upgrade(db.engine)
    except migrations.NewerDatabase as exc:
        err.print(f"[red]✗ {escape(exc.message)}[/]", soft_wrap=True)
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        err.print(f"[red]✗ Cannot read the database (TOUCAN_DATABASE_URL): {escape(str(exc).splitlines()[0])}[/]")
        raise typer.Exit(1) from None
    finally:
        db.engine.dispose()
    if plan.up_to_date:
        console.print(f"[green]✓[/] The database is up to date for version {__version__}: nothing to migrate.")
        return
    where = ", ".join(sorted(plan.current)) if plan.current else "empty (a new database)"
    console.print(f"[green]✓[/] Version {__version__} can migrate this database (now at {where}).")
    console.print(f"{len(plan.pending)} migration(s) will run at the first start, under a lock:")
    for step in plan.pending:
        console.print(f"    {escape(step)}", soft_wrap=True)
    console.print("Back up the database first (docs/upgrading.md): migrations cannot be undone.")


@app.command("create-user")
def create_user(
    username: str,
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted and interactive.")] = None,
    role: Annotated[str, typer.Option(help="USER, ADMIN or SUPER_ADMIN")] = "USER",
    group: Annotated[list[str] | None, typer.Option(help="Group name (repeatable).")] = None,
    privilege: Annotated[list[str] | None, typer.Option(help="APP=PRIV[,PRIV] (repeatable), e.g. sales=view")] = None,
) -> None:
    """Create a local user (for scripts)."""
    from toucan.auth.users import UserCreate
    from toucan.auth.users import create_user as do_create
    from toucan.bootstrap import prepare

    if password is None:
        if not sys.stdin.isatty():
            err.print("[red]--password is required when not interactive.[/]")
            raise typer.Exit(2)
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    privileges: dict[str, list[str]] = {}
    for item in privilege or []:
        app_id, sep, privs = item.partition("=")
        if not sep:
            err.print(f"[red]--privilege {item!r}: expected APP=PRIV[,PRIV][/]")
            raise typer.Exit(2)
        privileges.setdefault(app_id, []).extend(p.strip() for p in privs.split(",") if p.strip())
    try:
        data = UserCreate.model_validate(
            {
                "username": username,
                "password": password,
                "role": role,
                "groups": group or [],
                "privileges": privileges,
            }
        )
    except PydanticValidationError as exc:
        first = exc.errors(include_url=False)[0]
        err.print(f"[red]Invalid user:[/] {first['loc'][0]}: {first['msg']}")
        raise typer.Exit(2) from None
    db, _ = prepare(_settings())
    try:
        with db.session() as session:
            do_create(session, None, data)
    except ToucanError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None
    console.print(f"Created user [bold]{username}[/] ({role}).")


@app.command("set-password")
def set_password(
    username: str,
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
) -> None:
    """Set a user's local password (and log them out everywhere)."""
    from toucan.auth.users import set_password as do_set
    from toucan.bootstrap import prepare

    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    db, _ = prepare(_settings())
    try:
        with db.session() as session:
            do_set(session, username, password)
    except ToucanError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None
    console.print(f"Password of [bold]{username}[/] changed.")


@app.command()
def release(
    app_id: Annotated[str, typer.Argument(metavar="APP", help="The small app's id.")],
    design: Annotated[bool, typer.Option("--design/--no-design", help="Release the configs.")] = True,
    data: Annotated[bool, typer.Option("--data/--no-data", help="Release the domains.")] = True,
) -> None:
    """Release an app: staging's configs and domains become production's (as the studio's
    Release button does)."""
    from sqlalchemy import select

    from toucan.bootstrap import prepare
    from toucan.data.domains import domain_store_for
    from toucan.data.release import release as release_app
    from toucan.db.models import SmallApp

    settings = _settings()
    db, _ = prepare(settings)
    with db.readonly_session() as session:
        if session.scalar(select(SmallApp.id).where(SmallApp.id == app_id)) is None:
            err.print(f"[red]No small app {app_id!r}.[/]")
            raise typer.Exit(1)
    if not (design or data):
        err.print("[red]Nothing to release: --no-design and --no-data.[/]")
        raise typer.Exit(2)
    try:
        # Design and data in one transaction, recorded in the app's release history.
        done = release_app(db, domain_store_for(settings, db), app_id, design=design, data=data, author=CLI_AUTHOR)
    except ToucanError as exc:
        hint = " Nothing was released (--no-data releases the design alone)." if design and data else ""
        err.print(f"[red]{exc.message}{hint}[/]")
        raise typer.Exit(1) from None
    if done.design is not None:
        console.print(f"Design released: {', '.join(f'{k} v{v}' for k, v in done.design.items())}.")
    if done.data is not None:
        console.print(f"Data released: {len(done.data['domains'])} domains, version {done.data['version']}.")
    console.print(f"Recorded as release {done.release_id} in the app's release history.")


@app.command()
def rollback(
    app_id: Annotated[str, typer.Argument(metavar="APP", help="The small app's id.")],
    release_id: Annotated[
        int | None,
        typer.Option(
            "--release",
            metavar="ID",
            min=1,
            max=2**31 - 1,  # the id column is 32-bit: a larger id names no release
            help="The release to go back to (its id in the app's history); default: the one before the latest.",
        ),
    ] = None,
) -> None:
    """Roll production back to a past release: its design and data again (as the release history's
    Roll back button does), recorded as a new release."""
    from sqlalchemy import select

    from toucan.bootstrap import prepare
    from toucan.data.domains import domain_store_for
    from toucan.data.release import history as release_history
    from toucan.data.release import rollback as rollback_app
    from toucan.db.models import SmallApp

    settings = _settings()
    db, _ = prepare(settings)
    with db.readonly_session() as session:
        if session.scalar(select(SmallApp.id).where(SmallApp.id == app_id)) is None:
            err.print(f"[red]No small app {escape(repr(app_id))}.[/]")
            raise typer.Exit(1)
    if release_id is None:
        # The newest release is production as it is now: going back means the one before it.
        past = release_history(db, app_id, limit=2)
        if len(past) < 2:
            err.print(
                f"[red]{escape(app_id)} has {'one release' if past else 'no release'}: there is no earlier "
                "release to roll back to.[/]"
            )
            raise typer.Exit(1)
        release_id = past[1]["id"]
    try:
        done = rollback_app(db, domain_store_for(settings, db), app_id, release_id, author=CLI_AUTHOR)
    except ToucanError as exc:
        err.print(f"[red]{escape(exc.message)} Nothing was changed.[/]", soft_wrap=True)
        raise typer.Exit(1) from None
    assert done.design is not None and done.data is not None
    console.print(f"Production of [bold]{escape(app_id)}[/] rolled back to release {release_id}.")
    console.print(f"Design: {', '.join(f'{k} v{v}' for k, v in done.design.items())}.")
    console.print(f"Data: {len(done.data['domains'])} domains, version {done.data['version']}.")
    console.print(f"Recorded as release {done.release_id} in the app's release history.")


@app.command("frontend-params")
def frontend_params(
    api_baseroute: Annotated[
        str,
        typer.Argument(help="Backend URL as browsers reach it, e.g. https://toucan.example.com/_api"),
    ],
    directory: Annotated[Path, typer.Option(help="The frontend's docroot.")] = Path("frontend/dist"),
    mixpanel_id: Annotated[str, typer.Option(help="MIXPANEL_ANALYTICS_ID")] = "",
) -> None:
    """Write scripts/tc-params.js and embed-params.json for a given backend URL."""
    from toucan.frontend_params import write_params

    written = write_params(directory, api_baseroute, mixpanel_id)
    for path in written:
        console.print(f"Wrote {path}")


@app.command()
def demo(
    rows: Annotated[int, typer.Option(help="Rows of the synthetic sales dataset.")] = 5000,
    users_password: Annotated[
        str | None,
        typer.Option(help="Also create demo-viewer and demo-builder with this password."),
    ] = None,
) -> None:
    """Create or refresh the demo small app (sales data, a story per chart type)."""
    from toucan.bootstrap import prepare
    from toucan.demo_seed import seed_demo

    settings = _settings()
    db, _ = prepare(settings)
    result = seed_demo(db, settings.data_dir, rows=rows, users_password=users_password)
    console.print(f"Demo app [bold]{result.app_id}[/] ready with {result.rows} rows of sales.")
    for username, privilege in result.created_users:
        console.print(f"Created [bold]{username}[/] ({privilege} on {result.app_id}).")


@app.command()
def version() -> None:
    """Print the backend version."""
    from toucan.build_info import version_info

    console.print_json(json.dumps(version_info()))


@app.command("install_connectors")
def install_connectors(
    names: Annotated[list[str], typer.Argument(help="Connector extras, e.g. azure_mssql oracle.", show_default=False)],
) -> None:
    """Install the drivers of connector types (their extras); what is installed already is skipped."""
    from toucan.connectors.extras import EXTRAS, install_extras, missing_extras

    try:
        missing = missing_extras(names)
        if missing:
            with console.status(f"Installing {', '.join(missing)}: {', '.join(s for m in missing for s in EXTRAS[m])}"):
                install_extras(missing, quiet=True)
    except ToucanError as exc:
        err.print(f"[red]{escape(exc.message)}[/]")
        raise typer.Exit(2 if exc.status == 400 else 1) from None
    for name in dict.fromkeys(names):
        state = "installed" if name in missing else "already installed"
        console.print(f"[green]✓[/] {name}: {state} ({', '.join(EXTRAS[name])})")


app.command("install-connectors", hidden=True)(install_connectors)


@app.command("connectors")
def connectors(
    check: Annotated[
        str | None,
        typer.Option(
            "--check",
            metavar="APP",
            help="Check the data providers of that small app step by step instead of listing the types.",
        ),
    ] = None,
    provider: Annotated[
        list[str] | None, typer.Option(help="With --check: only this provider (repeat for several).")
    ] = None,
    stage: Annotated[str, typer.Option(help="With --check: the stage whose ETL config is read.")] = "staging",
) -> None:
    """List the connector types, the extra each one needs and whether it is installed; with
    `--check APP`, check that app's data providers (resolved, reached, logged in, queried)."""
    from rich.table import Table

    from toucan.connectors.registry import list_connectors

    if check is not None:
        _check_providers(check, provider or [], stage)
        return
    table = Table("Type", "Connects to", "Extra", "Installed")
    for info in list_connectors():
        installed = "[green]yes[/]" if info.installed else "[red]no[/]"
        table.add_row(info.type, info.label, info.extra or "(built in)", installed)
    console.print(table)
    console.print("Install a missing extra with `toucan-ctl install_connectors NAME...`.")


def _check_providers(app_id: str, names: list[str], stage_name: str) -> None:
    """Each provider's steps, ✓ or ✗ with what went wrong; exit 1 when one fails."""
    from toucan.apps.configs import Stage
    from toucan.bootstrap import prepare
    from toucan.etl.provider_check import check_provider, provider_names

    try:
        stage = Stage(stage_name)
    except ValueError:
        err.print(f"[red]Unknown stage {stage_name!r}: use {' or '.join(s.value for s in Stage)}.[/]")
        raise typer.Exit(2) from None
    settings = _settings()
    db, _ = prepare(settings)
    failed = False
    try:
        names = names or provider_names(db, app_id, stage)
        if not names:
            console.print(f"{app_id} has no DATA_PROVIDERS in {stage.value}: nothing to check.")
        for name in names:
            try:
                answer = check_provider(db, settings, app_id, stage, name)
            except ToucanError as exc:  # the entry itself is wrong: a field, a missing driver
                err.print(f"[red]✗ {escape(name)}: {escape(exc.message)}[/]", soft_wrap=True)
                failed = True
                continue
            mark = "[green]✓[/]" if answer["ok"] else "[red]✗[/]"
            console.print(f"{mark} {escape(name)} ({answer['type']})")
            for step in answer["steps"]:
                sign = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[dim]-[/]"}[step["ok"]]
                console.print(f"    {sign} {escape(step['name'])}: {escape(str(step['detail']))}", soft_wrap=True)
            failed = failed or not answer["ok"]
    except ToucanError as exc:  # no such app or no ETL config
        err.print(f"[red]{escape(exc.message)}[/]")
        raise typer.Exit(1) from None
    if failed:
        raise typer.Exit(1)


doctor = typer.Typer(help="Check the stack and this host: every check with a verdict and the fix.")
app.add_typer(doctor, name="doctor")

_VERDICT_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


@doctor.callback(invoke_without_command=True)
def doctor_all(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document, for scripts.")] = False,
    frontend_url: Annotated[
        str | None,
        typer.Option(help="The frontend's public URL, to check tc-params.js, versions, headers and CORS."),
    ] = None,
) -> None:
    """Run every check (database, Redis, storage, jobs, sandbox, Chromium, fonts, extras, public URLs).

    Exits 1 when a check fails. `toucan-ctl doctor sandbox` details the sandbox alone."""
    if ctx.invoked_subcommand is not None:
        return
    from toucan.doctor import healthy, run_checks

    findings = run_checks(_settings(), frontend_url=frontend_url)
    if as_json:
        print(json.dumps({"ok": healthy(findings), "checks": [f.as_json() for f in findings]}, indent=2))
    else:
        _print_findings(findings)
    if not healthy(findings):
        raise typer.Exit(1)


@doctor.command("screenshot")
def doctor_screenshot(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document, for scripts.")] = False,
    frontend_url: Annotated[
        str | None,
        typer.Option(help="The web app's address as this host reaches it. Default: TOUCAN_SCREENSHOT_FRONTEND_URL."),
    ] = None,
) -> None:
    """The FAQ's screenshot procedure from this host (run it where the job workers run): resolve the
    frontend and backend hosts, connect to their ports, expect HTTP 200 from each, load a test page
    in Chromium and wait for its selectors. Exits 1 when a step fails."""
    from toucan.doctor import healthy
    from toucan.doctor.screenshot import run_screenshot_checks

    findings = run_screenshot_checks(_settings(), frontend_url)
    if as_json:
        print(json.dumps({"ok": healthy(findings), "checks": [f.as_json() for f in findings]}, indent=2))
    else:
        _print_findings(findings)
    if not healthy(findings):
        raise typer.Exit(1)


def _print_findings(findings: list[Any]) -> None:
    for finding in findings:
        style = _VERDICT_STYLE[finding.verdict]
        console.print(
            f"[{style}]{finding.verdict.upper():4}[/]  [bold]{finding.check}[/]: {escape(finding.summary)}",
            soft_wrap=True,
            emoji=False,  # "host:1234: …" is not an emoji code
        )
        if finding.fix and finding.verdict != "ok":
            console.print(f"      fix: {escape(finding.fix)}", soft_wrap=True, emoji=False)
    failed = sum(1 for f in findings if f.verdict == "fail")
    console.print(f"{failed} check(s) failed." if failed else "No check failed.")


@doctor.command("sandbox")
def doctor_sandbox() -> None:
    """Run a probe in the builder-code sandbox and print what it can and cannot reach."""
    from toucan.sandbox.doctor import check

    settings = _settings()
    holds, lines = check(settings)
    for line in lines:
        console.print(escape(str(line)), soft_wrap=True)
    if not holds:
        console.print(
            "The sandbox does not hold (lines marked FAIL). Builder code does not run until it does, unless "
            "TOUCAN_BUILDER_CODE_SANDBOX=none; see docs/security.md.",
            soft_wrap=True,
        )
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except ToucanError as exc:  # e.g. an unknown name in TOUCAN_EXTRA_CONNECTORS, a wrong database CA
        err.print(f"[bold red]Stopped:[/] {escape(exc.message)}", soft_wrap=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
