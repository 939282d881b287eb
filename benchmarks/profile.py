"""Where a service's CPU goes under a benchmark's load: py-spy's samples by layer (the
project's code, SQLAlchemy, the database driver, the web framework, pydantic, the Kafka
client, the event loop) and the project's functions that take the most. py-spy leaves out
the samples of a thread that waits, so the shares are of the CPU the process used.

    .venv/bin/python -m benchmarks.http_intake --rounds 1 --profile var/profile/http_intake
    .venv/bin/python -m benchmarks.profile var/profile [--top 12]

A part run with ``--profile DIR`` samples each service process it starts with py-spy, from
its start until it stops, into ``DIR/<service>-<database>-<port>.raw`` (the bare app's too).
This reads every ``*.raw`` under the folders given, prints a table per process and writes
them all to ``summary.md`` beside them (``make profile`` does both for the paths whose
targets are not met).

Each sample counts once, for the layer of the line it was running (its own time), and once
for every project function on its stack (inclusive). Samples of the start-up (imports) are
left out. SQLAlchemy runs each async statement in a greenlet of its own, which py-spy shows
without the callers above it: a statement's time counts in the layers, and under the
project's functions only for its part outside the greenlet.
"""

import argparse
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from benchmarks.harness import PROFILE_RATE, console

PROJECT = ("services/", "shared/", "benchmarks/")
# The layer of a frame, by where its file is (py-spy names files from their package down);
# the first match wins, and a file that matches none is "standard library and the rest".
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("SQLAlchemy and SQLModel", ("sqlalchemy/", "sqlmodel/")),
    # aiosqlite's thread runs SQLite itself, from the project's one-trip cursor: its time
    # counts here, not as the project's
    (
        "database drivers (asyncpg; aiosqlite with SQLite)",
        ("asyncpg/", "aiosqlite/", "sqlite3/", "shared/sqlite_cursor.py"),
    ),
    ("the project (services/, shared/)", PROJECT),
    ("web (FastAPI, Starlette, uvicorn)", ("fastapi/", "starlette/", "uvicorn/", "h11/")),
    ("validation (pydantic)", ("pydantic/", "pydantic_core/")),
    ("Kafka (FastStream, aiokafka)", ("faststream/", "aiokafka/")),
    ("metrics and logs", ("prometheus_client/", "structlog/", "logging/")),
    # uvloop's own (compiled) work shows as the frame that started the loop: asyncio's Runner
    ("event loop (asyncio, uvloop)", ("asyncio/", "selectors.py", "uvloop/")),
]
OTHER = "standard library and the rest"
STARTUP = ("_find_and_load", "<frozen importlib")  # a frame of an import: start-up
# Under every sample of a process, so they say nothing: its command line and its server.
ENTRY_POINTS = ("services/cli.py", "shared/serving.py", "benchmarks/bare_app.py")
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


@dataclass
class Profile:
    name: str
    samples: int = 0  # counted: start-up left out
    startup: int = 0
    layers: Counter[str] = field(default_factory=Counter)
    functions: Counter[str] = field(default_factory=Counter)  # the project's, inclusive

    def share(self, count: int) -> float:
        return 100 * count / self.samples if self.samples else 0.0


def layer_of(file: str) -> str:
    for name, prefixes in LAYERS:
        if file.startswith(prefixes):
            return name
    return OTHER


def parse_frame(frame: str) -> tuple[str, str]:
    """``function (file:line)`` as py-spy writes a frame: its function and its file."""
    match = FRAME.match(frame)
    return (match["function"], match["file"]) if match else (frame, "")


def read_profile(lines: Iterable[str], name: str) -> Profile:
    """A profile from py-spy's raw format: per line, a stack's frames (outermost first,
    ``;`` between them), a space and how many samples it had."""
    profile = Profile(name)
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            raise ValueError(f"{name}, line {number}: no sample count at the end: {line[:80]!r}")
        count = int(count_text)
        if any(marker in stack for marker in STARTUP):
            profile.startup += count
            continue
        frames = [parse_frame(frame) for frame in stack.split(";")]
        profile.samples += count
        profile.layers[layer_of(frames[-1][1])] += count
        for function in {
            f"{function} ({file})"
            for function, file in frames
            if file.startswith(PROJECT) and not file.startswith(ENTRY_POINTS)
        }:
            profile.functions[function] += count
    return profile


def table(profile: Profile, top: int) -> Table:
    seconds = profile.samples / PROFILE_RATE
    result = Table(
        title=f"{profile.name}: {profile.samples:,} samples (about {seconds:.0f} s of CPU), "
        f"start-up left out ({profile.startup:,})",
        title_justify="left",
    )
    result.add_column("where", overflow="fold")
    result.add_column("share", justify="right")
    result.add_row("[bold]own time in[/bold]", "")
    for name, count in profile.layers.most_common():
        result.add_row(f"  {name}", f"{profile.share(count):.1f} %")
    result.add_row("[bold]the project's functions, with what they call[/bold]", "")
    for function, count in profile.functions.most_common(top):
        result.add_row(f"  {function}", f"{profile.share(count):.1f} %")
    return result


def markdown(profiles: list[Profile], top: int) -> str:
    parts = ["# Where the CPU goes: py-spy samples of each service under its benchmark's load\n"]
    for profile in profiles:
        parts.append(
            f"\n## {profile.name}\n\n{profile.samples:,} samples "
            f"(about {profile.samples / PROFILE_RATE:.0f} s of CPU; start-up left out).\n\n"
            "| own time in | share |\n|---|---|\n"
        )
        parts += [
            f"| {name} | {profile.share(count):.1f} % |\n"
            for name, count in profile.layers.most_common()
        ]
        parts.append("\n| the project's function, with what it calls | share |\n|---|---|\n")
        parts += [
            f"| `{function}` | {profile.share(count):.1f} % |\n"
            for function, count in profile.functions.most_common(top)
        ]
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+", help="where a part's --profile wrote")
    parser.add_argument("--top", type=int, default=12, help="project functions per process")
    arguments = parser.parse_args()
    files = sorted(path for folder in arguments.folders for path in folder.rglob("*.raw"))
    if not files:
        parser.error(f"no py-spy samples (*.raw) under {', '.join(map(str, arguments.folders))}")
    profiles = []
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as lines:
            profile = read_profile(lines, str(path.relative_to(path.parents[1])))
        profiles.append(profile)
        console.print(table(profile, arguments.top))
    summary = arguments.folders[0] / "summary.md"
    summary.write_text(markdown(profiles, arguments.top))
    console.print(f"wrote {summary}")


if __name__ == "__main__":
    main()
