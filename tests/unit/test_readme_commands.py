"""What the README tells ops to type: every ``docker compose exec SERVICE antt …`` names a
service of docker-compose.yml and an ``antt`` command that exists, with options and
arguments it takes (a ``dlq`` command's argument is a topic); and ``antt kafka start``
prints the settings the services need on the broker or cluster it started."""

import re
import shlex
from pathlib import Path

import pytest
import typer
import yaml
from typer.core import TyperCommand, TyperGroup
from typer.testing import CliRunner

from services.cli import app
from shared.events import TOPIC_EVENTS
from shared.local_kafka import LocalKafka, LocalKafkaCluster
from shared.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
# `docker compose exec [-T …] SERVICE antt ARGS`, ARGS up to the end of the shell command.
EXEC = re.compile(r"docker compose exec((?:\s+-\w+)*)\s+([\w-]+)\s+antt\s+([^|;&)#`]*)")


def code_lines(markdown: str) -> list[str]:
    """Each command line of the fenced blocks (continuations joined), and each inline code
    span (on one line, however the paragraph wraps it)."""
    lines = [
        line
        for block in FENCE.findall(markdown)
        for line in block.replace("\\\n", " ").splitlines()
    ]
    prose = FENCE.sub("", markdown)
    return lines + [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]


def readme_execs() -> list[tuple[str, str, list[str]]]:
    """(the command as written, the compose service, antt's arguments) for each one."""
    return [
        (" ".join(match[0].split()), match[2], shlex.split(match[3]))
        for line in code_lines(README.read_text())
        for match in EXEC.finditer(line)
    ]


EXECS = readme_execs()


def antt_command(args: list[str]) -> tuple[list[str], TyperCommand, list[str]]:
    """The sub-command ``args`` name in ``antt``'s tree, its path, and the rest of them."""
    # Typer carries its own copy of click: its classes, not click's.
    command = typer.main.get_command(app)
    path: list[str] = []
    rest = list(args)
    while isinstance(command, TyperGroup):
        assert rest, f"`antt {' '.join(path)}` needs a sub-command"
        name = rest.pop(0)
        sub = command.commands.get(name)
        known = ", ".join(sorted(command.commands))
        assert sub is not None, f"`antt {' '.join([*path, name])}`: no such command ({known})"
        command, path = sub, [*path, name]
    assert isinstance(command, TyperCommand)
    return path, command, rest


def test_the_readme_runs_antt_inside_the_stack() -> None:
    commands = {tuple(antt_command(args)[0]) for _, _, args in EXECS}
    assert {("login",), ("import", "teams"), ("dlq", "list"), ("dlq", "replay")} <= commands


@pytest.mark.parametrize(("written", "service", "args"), EXECS, ids=[e[0] for e in EXECS])
def test_a_docker_compose_exec_in_the_readme_names_a_service_and_an_antt_command(
    written: str, service: str, args: list[str]
) -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    assert service in services, f"{written}: no service {service!r} in docker-compose.yml"
    path, command, rest = antt_command(args)
    shown = CliRunner().invoke(app, [*path, "--help"])
    assert shown.exit_code == 0, shown.output
    # Parsed as antt would parse them (an unknown option or a missing argument raises).
    context = command.make_context(" ".join(["antt", *path]), rest)
    if path[0] == "dlq":
        assert context.params["topic"] in TOPIC_EVENTS, f"{written}: not a topic"


@pytest.mark.parametrize("nodes", [1, 3])
def test_kafka_start_prints_the_settings_a_service_needs_on_it(
    nodes: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Services create topics from their own settings (factor 1, min ISR 1 by default),
    not the brokers' defaults: the command says what to set, alone on stdout."""
    monkeypatch.setattr(LocalKafka, "start", lambda self, timeout=120.0: 1)
    monkeypatch.setattr(LocalKafkaCluster, "start", lambda self, timeout=180.0: [1, 2, 3])
    where = ["--data-dir", str(tmp_path), "--port", "29092", "--controller-port", "29093"]
    started = CliRunner().invoke(app, ["kafka", "start", "--nodes", str(nodes), *where])
    assert started.exit_code == 0, started.output
    expected = {
        1: ["127.0.0.1:29092", "1", "1"],
        3: ["127.0.0.1:29092,127.0.0.1:29094,127.0.0.1:29096", "3", "2"],
    }[nodes]
    assert started.stdout.splitlines() == [
        f"ANTT_KAFKA_BOOTSTRAP_SERVERS={expected[0]}",
        f"ANTT_KAFKA_REPLICATION_FACTOR={expected[1]}",
        f"ANTT_KAFKA_MIN_INSYNC_REPLICAS={expected[2]}",
    ]
