"""``antt``: the ops command. Local Kafka, the embedded stack, one service.

The composition root of the operations tool, beside the three services it composes: the
commands that build a service by name (``db``, ``asyncapi``, ``rebuild``, ``serve``,
``run``) live here; the ones that need no service (``kafka``, ``dlq``, ``token``) come from
``shared/commands.py``, and each service's own maintenance commands from its ``cli.py``."""

import asyncio
import importlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry.cli import import_app, registry_app
from services.reporting.cli import reseal_informants
from shared.asyncapi import ASYNCAPI_DIR, to_yaml
from shared.commands import (
    console,
    dlq_app,
    kafka_app,
    keycloak_app,
    login,
    show_dev_notice,
    token_app,
)
from shared.db import create_engine
from shared.local_kafka import LocalKafka, LocalKafkaError
from shared.local_keycloak import LocalKeycloak, LocalKeycloakError, fetch_distribution
from shared.logging import configure_logging, show_dev_notices_with
from shared.migrations import autogenerate_revision, upgrade_to_head
from shared.settings import VAR_DIR

SERVICES = ("registry", "reporting", "awards")
# What `antt serve` runs: the three services, and the console (pages over their APIs,
# no database, no broker).
SERVABLE = (*SERVICES, "console")
# The embedded stack's Keycloak knows these development secrets (deploy/keycloak's realm
# defaults); compose and production set their own.
DEV_CONSOLE_CLIENT_SECRET = "antt-console-dev-secret"
DEV_SERVICE_CLIENT_SECRET = "antt-service-dev-secret"

app = typer.Typer(help="Operate the ANTT platform.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
app.add_typer(keycloak_app, name="keycloak")
app.command("login")(login)

db_app = typer.Typer(help="Database schema migrations (Alembic), per service.")
app.add_typer(db_app, name="db")
ServiceName = Annotated[str, typer.Argument(help="registry, reporting or awards")]


def _service_settings(service: str, known: tuple[str, ...] = SERVICES) -> Any:
    if service not in known:
        console.print(f"[red]unknown service {service!r}; one of {', '.join(known)}[/red]")
        raise typer.Exit(2)
    module = importlib.import_module(f"services.{service}.app")
    return module.Settings()


@db_app.command("upgrade")
def db_upgrade(service: ServiceName) -> None:
    """Upgrade the service's database (ANTT_DATABASE_URL) to the newest schema."""
    settings = _service_settings(service)
    engine = create_engine(settings.resolved_database_url())
    asyncio.run(_then_dispose(engine, upgrade_to_head(engine, service)))
    console.print(f"{service}: schema at head")


@db_app.command("revision")
def db_revision(
    service: ServiceName,
    message: Annotated[str, typer.Option("-m", "--message", help="What the revision changes")],
) -> None:
    """Autogenerate a revision from the models (for developers; uses a scratch SQLite file)."""
    _service_settings(service)
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite+aiosqlite:///{scratch}/scratch.db")
        asyncio.run(_then_dispose(engine, autogenerate_revision(engine, service, message)))


async def _then_dispose(engine: AsyncEngine, work: Awaitable[None]) -> None:
    try:
        await work
    finally:
        await engine.dispose()


app.add_typer(dlq_app, name="dlq")
app.add_typer(token_app, name="token")
app.command("reseal-informants")(reseal_informants)
app.add_typer(registry_app, name="registry")
app.add_typer(import_app, name="import")


def _asyncapi_yaml(service: str, scratch: str) -> str:
    """The service's AsyncAPI document as committed. It depends on the code only, so the app
    is built the same way whatever ANTT_* says: development keys, a scratch SQLite file that
    is never opened, no Kafka."""
    module = importlib.import_module(f"services.{service}.app")
    settings = module.Settings(
        env="dev",
        database_url=f"sqlite+aiosqlite:///{scratch}/{service}.db",
        kafka_create_topics=False,
        kafka_measure_lag=False,
        jwt_secret=None,
        jwt_secret_file=None,
        informant_keys=[],
        informant_keys_file=None,
        log_level="ERROR",
    )
    return to_yaml(module.create_app(settings).state.runtime.asyncapi())


@app.command("asyncapi")
def asyncapi(
    service: Annotated[
        str | None, typer.Argument(help="registry, reporting or awards (all three with --write)")
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Write <dir>/<service>.yaml instead of printing")
    ] = False,
    directory: Annotated[Path, typer.Option("--dir", help="Where --write puts them")] = (
        ASYNCAPI_DIR
    ),
) -> None:
    """Print a service's AsyncAPI 3.0 document as YAML (also served at /asyncapi.json), or
    write the committed documents in docs/asyncapi/ (--write; all three unless one is named)."""
    if service is not None and service not in SERVICES:
        console.print(f"[red]unknown service {service!r}; one of {', '.join(SERVICES)}[/red]")
        raise typer.Exit(2)
    if service is None and not write:
        console.print("[red]name a service, or use --write to write all three[/red]")
        raise typer.Exit(2)
    try:
        import yaml  # noqa: F401  (to_yaml needs it: a development dependency)
    except ImportError:
        console.print("[red]PyYAML is missing: install the development dependencies[/red]")
        raise typer.Exit(1) from None
    with tempfile.TemporaryDirectory() as scratch:
        if not write:
            typer.echo(_asyncapi_yaml(str(service), scratch), nl=False)
            return
        directory.mkdir(parents=True, exist_ok=True)
        for name in [service] if service else SERVICES:
            target = directory / f"{name}.yaml"
            target.write_text(_asyncapi_yaml(name, scratch), encoding="utf-8")
            console.print(f"wrote {target}")


@app.command("rebuild")
def rebuild(
    service: ServiceName,
    timeout: Annotated[
        float, typer.Option(min=1, help="Give up after this many seconds of replay")
    ] = 3600.0,
) -> None:
    """Rebuild the service's read models from Kafka's log, with the service stopped: empty
    them, reset its consumer groups to the earliest offset and replay every event through
    its own handlers (no HTTP, no outbox relay), until no group lags behind."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from shared.rebuild import Progress as Replayed
    from shared.rebuild import RebuildError
    from shared.rebuild import rebuild as rebuild_read_models

    settings = _service_settings(service)
    if "log_level" not in settings.model_fields_set:
        # Not a line per event under the progress bar (FastStream's own access log too).
        settings.log_level = "WARNING"
        for name in ("faststream", "faststream.access.kafka"):
            logging.getLogger(name).addFilter(lambda record: record.levelno >= logging.WARNING)
    runtime = importlib.import_module(f"services.{service}.app").create_app(settings).state.runtime
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>7.0f} events/s  lag {task.fields[lag]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        tasks: list[Any] = []

        def advance(step: Replayed) -> None:
            if not tasks:  # after the checks: a refusal shows no bar
                tasks.append(
                    progress.add_task(f"Rebuilding {service}", total=step.total, rate=0, lag="")
                )
            progress.update(
                tasks[0], completed=step.done, total=step.total, rate=step.rate, lag=step.lag
            )

        async def work() -> Any:
            try:
                return await rebuild_read_models(runtime, timeout, advance)
            finally:
                await runtime.engine.dispose()

        try:
            report = asyncio.run(work())
        except RebuildError as exc:
            progress.stop()
            console.print(str(exc), style="red", markup=False)
            raise typer.Exit(1) from None
    table = Table(title=f"{service}: events read from the log again")
    table.add_column("topic")
    table.add_column("consumer group")
    for column in ("read", "applied", "duplicates", "other types", "dead-lettered"):
        table.add_column(column, justify="right")
    for topic in report.topics:
        table.add_row(
            topic.topic,
            topic.group,
            str(topic.read),
            str(topic.applied),
            str(topic.duplicates),
            str(topic.skipped),
            str(topic.dead_lettered),
        )
    console.print(table)
    emptied = ", ".join(f"{name} {rows}" for name, rows in report.emptied.items())
    console.print(f"emptied (rows): {emptied}")
    if report.recomputed:
        counted = ", ".join(f"{name} {rows}" for name, rows in report.recomputed.items())
        console.print(f"recomputed from {service}'s own records (rows): {counted}")
    rate = report.read / report.replay_seconds if report.replay_seconds else 0.0
    console.print(
        f"{report.applied} event(s) applied, {report.read} read in "
        f"{report.replay_seconds:.1f}s ({rate:.0f}/s); {report.seconds:.1f}s in all"
    )
    if report.discarded_outbox_rows:
        console.print(
            f"[yellow]{report.discarded_outbox_rows} outbox row(s) written by handlers during "
            "the replay were discarded unpublished: the log already holds those events[/yellow]"
        )
    for problem in report.problems:
        console.print(problem, style="red", markup=False)
    if not report.complete:
        raise typer.Exit(1)


@app.command("serve")
def serve(
    service: Annotated[str, typer.Argument(help="registry, reporting, awards or console")],
) -> None:
    """Run one service (HTTP, consumers and outbox relay in one process), or the console.

    SIGTERM or SIGINT stop it gracefully; exit code 0 after a clean stop, 1 if the
    shutdown failed, 3 if it did not start."""
    settings = _service_settings(service, SERVABLE)
    show_dev_notices_with(None)  # a service logs them, as structured warnings
    # The service's log format from the first line on (the app sets it again when built).
    configure_logging(
        settings.service_name,
        settings.log_format,
        settings.log_level,
        settings.log_repeat_window_seconds,
    )
    import uvicorn

    from shared.serving import serve as serve_until_stopped

    config = uvicorn.Config(
        f"services.{service}.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        # uvicorn's records go to the service's log handler (JSON lines in production).
        log_config=None,
        log_level="warning",
        # No line per request: metrics count them, errors are logged; and the console's tip
        # pages must leave no resident's address in a log.
        access_log=False,
        # Longer than a client's or proxy's idle keep-alive (httpx 5 s, load balancers 60 s):
        # a server that closes first races the client's next request into a reset.
        timeout_keep_alive=75,
        # The client address (rate limits) from X-Forwarded-For, from trusted peers only.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        # The C event loop and HTTP parser: a fraction of asyncio's and h11's CPU per request.
        loop="uvloop",
        http="httptools",
    )
    code = serve_until_stopped(config)
    if code:
        raise typer.Exit(code)


def _wait_ready(
    urls: dict[str, str], processes: dict[str, subprocess.Popen[bytes]], timeout: float
) -> None:
    pending = dict(urls)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for name, url in list(pending.items()):
            if processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited with code {processes[name].returncode}")
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    console.print(f"  {name:<10} ready on {url}  (docs: {url}/docs)")
                    del pending[name]
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    if pending:
        raise RuntimeError(f"not ready within {timeout:.0f}s: {', '.join(pending)}")


def _stop_processes(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for name, process in processes.items():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            console.print(f"  {name} did not stop in 20s; killing it")
            process.kill()
            process.wait()


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@app.command("run")
def run(
    kafka_port: Annotated[int, typer.Option(help="Local Kafka port (controller: +1)")] = 9092,
    base_port: Annotated[int, typer.Option(help="registry's port; reporting +1, awards +2")] = 8001,
    console_port: Annotated[int, typer.Option(help="The console's port (web pages)")] = 8000,
    var_dir: Annotated[Path, typer.Option(help="SQLite files, logs, Kafka data")] = VAR_DIR,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for /ready")] = 180.0,
    keycloak_port: Annotated[
        int, typer.Option(help="Local Keycloak's port (its health and metrics: +1)")
    ] = 8180,
    with_keycloak: Annotated[
        bool,
        typer.Option(
            "--keycloak/--no-keycloak",
            help="Start Keycloak (needs Java 21+); without it only development tokens work",
        ),
    ] = True,
) -> None:
    """The embedded stack: local Keycloak and Kafka, the three services on SQLite under
    var/, and the console on --console-port. Ctrl-C stops every process it started."""
    started = time.monotonic()
    var_dir = var_dir.resolve()
    logs_dir = var_dir / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    kafka = LocalKafka(data_dir=var_dir / "kafka", port=kafka_port, controller_port=kafka_port + 1)
    owns_kafka = kafka.running_pid() is None
    keycloak = LocalKeycloak(
        data_dir=var_dir / "keycloak", port=keycloak_port, management_port=keycloak_port + 1
    )
    owns_keycloak = with_keycloak and keycloak.running_pid() is None
    processes: dict[str, subprocess.Popen[bytes]] = {}
    # Explicit, so Ctrl-C works even where the shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    failed = False
    try:
        if with_keycloak:  # it takes longest: started first, awaited last
            with console.status("Fetching Keycloak (once)…"):
                fetch_distribution()
            keycloak.launch()
        with console.status(f"Starting Kafka on {kafka.bootstrap_servers}…"):
            kafka.start()
        console.print(
            f"Kafka ready on {kafka.bootstrap_servers} after {time.monotonic() - started:.1f}s "
            f"(log: {kafka.log_file})"
        )
        urls: dict[str, str] = {}
        for offset, name in enumerate(SERVICES):
            port = base_port + offset
            env = {
                **os.environ,
                "ANTT_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                "ANTT_PORT": str(port),
                "ANTT_DATABASE_URL": f"sqlite+aiosqlite:///{var_dir / name}.db",
                # The console, on this machine, passes on each resident's address.
                "ANTT_FORWARDED_ALLOW_IPS": "127.0.0.1",
            }
            if with_keycloak:
                env["ANTT_OIDC_ISSUER"] = keycloak.issuer
            with (logs_dir / f"{name}.log").open("ab") as log_file:
                # A session of their own: Ctrl-C reaches only this command, which
                # then stops the services and Kafka in order.
                processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "services.cli", "serve", name],
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            urls[name] = f"http://127.0.0.1:{port}"
        if with_keycloak:
            with console.status(f"Waiting for Keycloak on {keycloak.url}…"):
                keycloak.wait_ready(ready_timeout)
            console.print(
                f"Keycloak ready on {keycloak.url} after {time.monotonic() - started:.1f}s; "
                f"issuer {keycloak.issuer} (log: {keycloak.log_file})"
            )
        with console.status("Waiting for the services to be ready…"):
            _wait_ready(urls, processes, ready_timeout)
        # The console after the services: it is ready when they and Keycloak are.
        console_env = {
            **os.environ,
            "ANTT_PORT": str(console_port),
            "ANTT_REGISTRY_URL": urls["registry"],
            "ANTT_REPORTING_URL": urls["reporting"],
            "ANTT_AWARDS_URL": urls["awards"],
        }
        if with_keycloak:
            console_env["ANTT_OIDC_ISSUER"] = keycloak.issuer
            console_env.setdefault("ANTT_CONSOLE_CLIENT_SECRET", DEV_CONSOLE_CLIENT_SECRET)
            console_env.setdefault("ANTT_OIDC_CLIENT_SECRET", DEV_SERVICE_CLIENT_SECRET)
        with (logs_dir / "console.log").open("ab") as log_file:
            processes["console"] = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", "console"],
                env=console_env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        with console.status("Waiting for the console to be ready…"):
            _wait_ready({"console": f"http://127.0.0.1:{console_port}"}, processes, ready_timeout)
        console.print(
            f"[green]Stack ready in {time.monotonic() - started:.1f}s[/green]; "
            f"logs in {logs_dir}. Ctrl-C stops everything."
        )
        if with_keycloak:
            console.print(
                "Log in: TOKEN=$(.venv/bin/antt login --user admin) — demo users and their "
                "password in the README"
            )
            console.print(
                f"The console: http://127.0.0.1:{console_port}/ (log in as a demo user, e.g. "
                "officer-haihoa, password antt-demo)"
            )
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {process.returncode}")
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except (RuntimeError, LocalKafkaError, LocalKeycloakError) as exc:
        console.print(f"[red]{exc}[/red]; logs in {logs_dir}")
        failed = True
    finally:
        console.print("Stopping…")
        _stop_processes(processes)
        if owns_kafka:
            kafka.stop()
        if owns_keycloak:
            keycloak.stop()
        console.print("All stopped.")
    if failed:
        raise typer.Exit(1)


def main() -> None:
    # Log lines go to stderr, so `TOKEN=$(antt token issue …)` captures only the token.
    configure_logging("antt", "console", "WARNING")
    show_dev_notices_with(show_dev_notice)
    app()


if __name__ == "__main__":
    main()
