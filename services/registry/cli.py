"""Registry's ``antt`` commands: ``antt import teams`` and ``antt registry recount``, run on
the registry's database (``ANTT_DATABASE_URL``). ``services/cli.py`` adds them to ``antt``."""

import asyncio
import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from shared.auth import Principal, Role
from shared.commands import console

registry_app = typer.Typer(help="Registry maintenance.")
import_app = typer.Typer(help="Bulk imports into the registry (ANTT_DATABASE_URL).")


def _cli_principal() -> Principal:
    return Principal(subject=f"cli:{getpass.getuser()}", role=Role.ADMIN)


@import_app.command("teams")
def import_teams(
    file: Annotated[Path, typer.Argument(help="CSV file, UTF-8, one row per member")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid teams, report the rest")
    ] = False,
) -> None:
    """Import teams and their members from a ward's spreadsheet (columns in the README).
    A file with any invalid row imports nothing unless --skip-invalid is given."""
    # The app is built only when a command needs it: `antt --help` stays quick.
    from services.registry.app import create_app
    from services.registry.imports.rules import ImportFileError

    if not file.is_file():
        console.print(f"[red]no such file: {file}[/red]")
        raise typer.Exit(2)
    service = create_app().state.service
    with Progress(console=console) as progress:
        task = progress.add_task("importing teams", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = asyncio.run(
                service.imports.run(
                    file.read_bytes(), _cli_principal(), skip_invalid=skip_invalid, progress=advance
                )
            )
        except ImportFileError as error:
            console.print(f"[red]{error.message}[/red]")
            raise typer.Exit(2) from None
    if report.errors:
        table = Table("row", "column", "problem", title="Invalid rows")
        for row_error in report.errors:
            table.add_row(str(row_error.row), row_error.field, row_error.message)
        console.print(table)
    console.print(
        f"{report.teams} team(s) and {report.members} member(s) imported from {report.rows} "
        f"row(s); {report.skipped_rows} row(s) skipped"
    )
    if report.errors and not skip_invalid:
        console.print("[red]nothing was imported; fix the rows or use --skip-invalid[/red]")
        raise typer.Exit(1)


@registry_app.command("recount")
def registry_recount(
    fix: Annotated[bool, typer.Option("--fix", help="Replace the kept counters")] = False,
) -> None:
    """Check the area summary counters against a full recount (and fix them)."""
    from services.registry.app import create_app

    service = create_app().state.service
    differences = asyncio.run(service.summaries.check_summaries(fix=fix))
    for area, key, have, recounted in differences:
        console.print(f"area {area} {key}: kept {have}, recounted {recounted}")
    if not differences:
        console.print("area summaries match a full recount")
    elif fix:
        console.print(f"replaced the counters ({len(differences)} difference(s) fixed)")
    else:
        console.print(f"{len(differences)} difference(s); run with --fix to replace them")
        raise typer.Exit(1)
