"""The ``antt`` sub-commands that need no service: the local Kafka broker (``antt kafka``),
the local Keycloak (``antt keycloak``), logging in (``antt login``), dead letters
(``antt dlq``) and development tokens (``antt token``), and the console every
``antt`` command prints on. ``services/cli.py`` adds them to the ``antt`` command beside the
commands that build a service (``shared/`` imports no service)."""

import asyncio
import dataclasses
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from shared.auth import ConfigurationError, Role, TokenCodec, load_signing_key
from shared.dead_letters import list_dead_letters, pending_dead_letters, replay_dead_letters
from shared.local_kafka import (
    LocalKafka,
    LocalKafkaCluster,
    LocalKafkaError,
    fetch_jars,
    local_kafka_at,
)
from shared.local_keycloak import (
    LocalKeycloak,
    LocalKeycloakError,
    fetch_distribution,
    find_java_home,
)
from shared.login import LoginError, client_credentials_token, password_token
from shared.settings import VAR_DIR, ServiceSettings, bootstrap_list

console = Console(stderr=True)

kafka_app = typer.Typer(help="The local Apache Kafka broker (embedded stack and tests).")

DataDir = Annotated[Path, typer.Option(help="Broker data folder")]
Port = Annotated[int, typer.Option(help="Client listener port on 127.0.0.1")]
ControllerPort = Annotated[int, typer.Option(help="KRaft controller port on 127.0.0.1")]


Nodes = Annotated[
    int,
    typer.Option(
        min=1,
        max=9,
        help="KRaft nodes, each broker and controller; node N (from 0) listens on "
        "port+2N and controller-port+2N. 3 or more: replication factor 3, min ISR 2",
    ),
]


@kafka_app.command("fetch")
def kafka_fetch() -> None:
    """Fetch the pinned Kafka jars with Maven (once; again when deploy/kafka/pom.xml changes)."""
    with console.status("Fetching Apache Kafka jars with Maven…"):
        libs = fetch_jars()
    console.print(f"Kafka jars in {libs}")


@kafka_app.command("start")
def kafka_start(
    data_dir: DataDir = VAR_DIR / "kafka",
    port: Port = 9092,
    controller_port: ControllerPort = 9093,
    nodes: Nodes = 1,
) -> None:
    """Start the broker (or a cluster of --nodes) in the background; once it answers, print
    the settings a service needs on it (ANTT_KAFKA_BOOTSTRAP_SERVERS, _REPLICATION_FACTOR,
    _MIN_INSYNC_REPLICAS), one KEY=value line each on standard output."""
    kafka = local_kafka_at(data_dir, port, controller_port)
    if isinstance(kafka, LocalKafkaCluster) and kafka.size != nodes:
        console.print(
            f"[red]{data_dir} holds a cluster of {kafka.size} nodes; start it with "
            f"--nodes {kafka.size}, or use another --data-dir[/red]"
        )
        raise typer.Exit(2)
    if nodes > 1 and isinstance(kafka, LocalKafka) and (data_dir / "logs").exists():
        console.print(
            f"[red]{data_dir} holds a single broker; stop it and use another --data-dir "
            "for a cluster[/red]"
        )
        raise typer.Exit(2)
    if nodes > 1:
        kafka = LocalKafkaCluster(
            data_dir=data_dir, port=port, controller_port=controller_port, size=nodes
        )
    started = time.monotonic()
    try:
        with console.status(f"Starting Kafka on {kafka.bootstrap_servers}…"):
            kafka.start()
    except LocalKafkaError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"Kafka ready after {time.monotonic() - started:.1f}s")
    _print_kafka(kafka)
    # The services create their topics from their own settings (factor 1, min ISR 1 by
    # default), not from the brokers' defaults: they must be told the cluster's.
    console.print("Every service on it needs these settings (printed on standard output):")
    for line in service_environment(kafka):
        typer.echo(line)


def service_environment(kafka: LocalKafka | LocalKafkaCluster) -> list[str]:
    """The ``ANTT_`` settings a service needs to use this broker or cluster as it is meant
    to: every node in the bootstrap list, and its replication factor and min ISR for the
    topics the service creates."""
    return [
        f"ANTT_KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap_servers}",
        f"ANTT_KAFKA_REPLICATION_FACTOR={kafka.replication_factor}",
        f"ANTT_KAFKA_MIN_INSYNC_REPLICAS={kafka.min_insync_replicas}",
    ]


def _print_kafka(kafka: LocalKafka | LocalKafkaCluster) -> bool:
    """A table of the node(s): pid, ports, log; True if every node runs."""
    nodes = kafka.nodes if isinstance(kafka, LocalKafkaCluster) else [kafka]
    table = Table("node", "state", "pid", "client", "controller", "log")
    running = 0
    for node in nodes:
        pid = node.running_pid()
        running += pid is not None
        table.add_row(
            str(node.node_id),
            "[green]running[/green]" if pid else "[red]stopped[/red]",
            str(pid or "—"),
            node.bootstrap_servers,
            f"127.0.0.1:{node.controller_port}",
            str(node.log_file),
        )
    console.print(table)
    if isinstance(kafka, LocalKafkaCluster):
        console.print(
            f"bootstrap: {kafka.bootstrap_servers}; replication factor "
            f"{kafka.replication_factor}, min.insync.replicas {kafka.min_insync_replicas}; "
            f"{running} of {kafka.size} nodes running"
        )
    return running == len(nodes)


@kafka_app.command("stop")
def kafka_stop(
    data_dir: DataDir = VAR_DIR / "kafka",
    port: Port = 9092,
    controller_port: ControllerPort = 9093,
) -> None:
    """Stop the broker, or every node of the cluster, started from this data folder."""
    stopped = local_kafka_at(data_dir, port, controller_port).stop()
    console.print("Kafka stopped" if stopped else "Kafka was not running")


@kafka_app.command("status")
def kafka_status(
    data_dir: DataDir = VAR_DIR / "kafka",
    port: Port = 9092,
    controller_port: ControllerPort = 9093,
) -> None:
    """Each node: running or not, pid, ports; exit 1 unless every node runs."""
    kafka = local_kafka_at(data_dir, port, controller_port)
    if not _print_kafka(kafka):
        raise typer.Exit(1)


dlq_app = typer.Typer(help="Dead-lettered messages: count and replay.")


def _bootstrap_hosts(value: str) -> str:
    try:
        return ",".join(bootstrap_list(value))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


Bootstrap = Annotated[
    str,
    typer.Option(
        envvar="ANTT_KAFKA_BOOTSTRAP_SERVERS",
        help="Kafka bootstrap servers, comma-separated host:port",
        callback=_bootstrap_hosts,
    ),
]
Topic = Annotated[str, typer.Argument(help="The original topic, e.g. reporting.incident")]


@dlq_app.command("count")
def dlq_count(topic: Topic, bootstrap: Bootstrap = "127.0.0.1:9092") -> None:
    """How many dead letters of TOPIC wait to be replayed."""
    pending = asyncio.run(pending_dead_letters(bootstrap, topic))
    typer.echo(f"{topic}.dlq: {pending} waiting")


@dlq_app.command("list")
def dlq_list(
    topic: Topic,
    bootstrap: Bootstrap = "127.0.0.1:9092",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Show the newest N")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """The newest dead letters of TOPIC: where they were, why they failed, whether replayed."""
    letters = asyncio.run(list_dead_letters(bootstrap, topic, limit))
    if as_json:
        for letter in letters:
            typer.echo(json.dumps(dataclasses.asdict(letter), ensure_ascii=False))
        return
    table = Table(title=f"{topic}.dlq ({len(letters)} shown)")
    for column in (
        "partition",
        "offset",
        "key",
        "ce_id",
        "failed at",
        "group",
        "attempts",
        "error",
        "replayed",
    ):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            str(letter.partition),
            str(letter.offset),
            letter.key or "",
            letter.event_id or "",
            letter.failed_at or "",
            letter.consumer_group or "",
            letter.attempts or "",
            f"{letter.error_type}: {letter.error}",
            "yes" if letter.replayed else "no",
        )
    Console(width=200).print(table)


@dlq_app.command("replay")
def dlq_replay(
    topic: Topic,
    bootstrap: Bootstrap = "127.0.0.1:9092",
    limit: Annotated[int | None, typer.Option(min=1, help="Replay at most this many")] = None,
) -> None:
    """Send TOPIC's dead letters back to TOPIC (after the cause is fixed)."""
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task(f"Replaying {topic}.dlq", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = asyncio.run(replay_dead_letters(bootstrap, topic, limit, advance))
    console.print(f"Replayed {result.replayed} of {result.pending_before} waiting in {topic}.dlq")


token_app = typer.Typer(help="Bearer tokens for callers of the HTTP APIs.")


@token_app.command("issue")
def token_issue(
    role: Annotated[Role, typer.Option(help="admin, officer, tip_handler, auditor or service")],
    subject: Annotated[str, typer.Option(help="Who the token is for (shown in the audit trail)")],
    area: Annotated[
        list[str] | None, typer.Option(help="Area code the holder acts in (repeatable)")
    ] = None,
    ttl_hours: Annotated[float, typer.Option(min=0.01, max=24 * 365)] = 8.0,
) -> None:
    """Mint a development token signed with ANTT_JWT_SECRET (or ANTT_JWT_SECRET_FILE); print
    it. Services accept these only with ANTT_ENV=dev or test: people use `antt login`."""
    settings = ServiceSettings()
    if settings.env == "prod":
        console.print(
            "[red]with ANTT_ENV=prod the services accept only the identity provider's "
            "tokens: use `antt login`[/red]"
        )
        raise typer.Exit(2)
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    try:
        key = load_signing_key(secret, settings.jwt_secret_file, settings.env)
        codec = TokenCodec(key, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
        token = codec.issue(subject, role, area or [], ttl_seconds=int(ttl_hours * 3600))
    except (ConfigurationError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    typer.echo(token)


keycloak_app = typer.Typer(help="The local Keycloak (embedded stack and tests).")

KeycloakDir = Annotated[Path, typer.Option(help="Keycloak's data folder (its database, log)")]
KeycloakPort = Annotated[int, typer.Option(help="HTTP port on 127.0.0.1")]
ManagementPort = Annotated[int, typer.Option(help="Health and metrics port on 127.0.0.1")]


@keycloak_app.command("fetch")
def keycloak_fetch() -> None:
    """Fetch the pinned distribution with Maven (once; again when deploy/keycloak changes)."""
    try:
        with console.status("Fetching Keycloak with Maven…"):
            home = fetch_distribution()
        java_home = find_java_home()
    except LocalKeycloakError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"Keycloak in {home}; it runs with the JDK in {java_home}")


@keycloak_app.command("start")
def keycloak_start(
    data_dir: KeycloakDir = VAR_DIR / "keycloak",
    port: KeycloakPort = 8180,
    management_port: ManagementPort = 8181,
) -> None:
    """Start Keycloak in the background (realm `antt` and its demo users imported on first
    start); return once the realm answers."""
    keycloak = LocalKeycloak(data_dir=data_dir, port=port, management_port=management_port)
    started = time.monotonic()
    try:
        with console.status(f"Starting Keycloak on {keycloak.url}…"):
            keycloak.start()
    except LocalKeycloakError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"Keycloak ready after {time.monotonic() - started:.1f}s")
    _print_keycloak(keycloak)


def _print_keycloak(keycloak: LocalKeycloak) -> bool:
    pid = keycloak.running_pid()
    table = Table("state", "pid", "issuer", "admin console", "log")
    table.add_row(
        "[green]running[/green]" if pid else "[red]stopped[/red]",
        str(pid or "—"),
        keycloak.issuer,
        f"{keycloak.url}/admin (antt-bootstrap, password in {keycloak.admin_password_file})",
        str(keycloak.log_file),
    )
    console.print(table)
    return pid is not None


@keycloak_app.command("stop")
def keycloak_stop(data_dir: KeycloakDir = VAR_DIR / "keycloak") -> None:
    """Stop the Keycloak started from this data folder."""
    stopped = LocalKeycloak(data_dir=data_dir).stop()
    console.print("Keycloak stopped" if stopped else "Keycloak was not running")


@keycloak_app.command("status")
def keycloak_status(
    data_dir: KeycloakDir = VAR_DIR / "keycloak",
    port: KeycloakPort = 8180,
    management_port: ManagementPort = 8181,
) -> None:
    """Running or not, pid, issuer; exit 1 unless it runs."""
    keycloak = LocalKeycloak(data_dir=data_dir, port=port, management_port=management_port)
    if not _print_keycloak(keycloak):
        raise typer.Exit(1)


LOCAL_ISSUER = LocalKeycloak().issuer


def login(
    user: Annotated[
        str | None, typer.Option(help="Log in as this user (password grant, client antt-cli)")
    ] = None,
    service: Annotated[
        bool,
        typer.Option(
            "--service",
            help="Log in as a system: client credentials of ANTT_OIDC_CLIENT_ID "
            "with ANTT_OIDC_CLIENT_SECRET",
        ),
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (for scripts)")
    ] = False,
    client: Annotated[str, typer.Option(help="The public client a user logs in through")] = (
        "antt-cli"
    ),
    issuer: Annotated[
        str | None,
        typer.Option(help=f"The issuer; default ANTT_OIDC_ISSUER, else {LOCAL_ISSUER}"),
    ] = None,
) -> None:
    """Get an access token from the identity provider (Keycloak) and print it; it lives 5
    minutes. `TOKEN=$(antt login --user officer-haihoa)` asks for the password."""
    settings = ServiceSettings()
    # Inside compose the issuer's public address is not this container's: ask the
    # discovery address the services use, unless another issuer is named.
    discovery = settings.oidc_discovery_url if issuer is None else None
    issuer = issuer or settings.oidc_issuer or LOCAL_ISSUER
    if service == (user is not None):
        console.print("[red]give either --user NAME or --service[/red]")
        raise typer.Exit(2)
    try:
        if user is not None:
            if password_stdin:
                password = typer.get_text_stream("stdin").readline().rstrip("\n")
            else:
                password = typer.prompt(f"Password for {user}", hide_input=True, err=True)
            token = password_token(issuer, client, user, password, discovery)
        else:
            secret = settings.oidc_client_secret
            if secret is None:
                console.print("[red]--service needs ANTT_OIDC_CLIENT_SECRET[/red]")
                raise typer.Exit(2)
            token = client_credentials_token(
                issuer, settings.oidc_client_id, secret.get_secret_value(), discovery
            )
    except LoginError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    typer.echo(token)


_shown_notices: set[str] = set()


def show_dev_notice(event: str, message: str) -> None:
    # Once per command, as a sentence, and only for a person at a terminal: a script that
    # runs `TOKEN=$(antt token issue …)` wants the token and nothing else.
    if event not in _shown_notices and console.is_terminal:
        _shown_notices.add(event)
        console.print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)
