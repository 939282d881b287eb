"""Bulk import use case: teams and members from a ward's spreadsheet (CSV, UTF-8).

Every row is checked, then each team goes through the same use case as ``POST /teams``, so
the rules, counters, audit and events are the same. A file with any invalid row imports
nothing, unless invalid rows are skipped: then a team with an invalid row is skipped whole
and reported."""

from collections.abc import Callable
from dataclasses import asdict
from typing import Any
from uuid import uuid4

from pydantic import ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.areas.models import Area
from services.registry.imports.models import ImportReport, ImportRowError
from services.registry.imports.rules import (
    MEMBER_FIELDS,
    TEAM_FIELDS,
    Row,
    RowError,
    TeamRows,
    area_codes,
    group_rows,
    read_rows,
    row_error,
    validation_row_errors,
)
from services.registry.rosters.models import MemberIn
from services.registry.teams.models import TeamCreate
from services.registry.teams.service import TeamService
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import DomainError

Progress = Callable[[int, int], None]


class TeamImporter:
    def __init__(self, sessions: SessionFactory, audit: AuditTrail, teams: TeamService) -> None:
        self.sessions = sessions
        self.audit = audit
        self.teams = teams

    async def run(
        self,
        data: bytes,
        principal: Principal,
        *,
        skip_invalid: bool = False,
        progress: Progress | None = None,
    ) -> ImportReport:
        rows = read_rows(data)
        errors: list[RowError] = []
        teams = group_rows(rows, errors)
        bad_rows = {error.row for error in errors}
        done = imported_teams = imported_members = 0
        skipped: set[int] = set()
        async with transaction(self.sessions) as session:
            # The import is audited as a whole; written first, it also opens the database
            # transaction, so each team's savepoint nests inside it (SQLite included).
            await self.audit.record(session, principal, "import_teams", "import", uuid4())
            codes = await self._area_ids(session, rows)
            for team in teams:
                done += 1
                command = None if bad_rows & set(team.rows) else self._command(team, codes, errors)
                if command is None:
                    skipped.update(team.rows)
                    self._notify(progress, done, len(teams))
                    continue
                try:
                    async with session.begin_nested():
                        await self.teams.register_team_in(session, command, principal, [])
                except DomainError as error:
                    errors.append(row_error(team, error.loc, error.message))
                    skipped.update(team.rows)
                else:
                    imported_teams += 1
                    imported_members += len(command.members)
                self._notify(progress, done, len(teams))
            skipped.update(error.row for error in errors)
            if errors and not skip_invalid:
                await session.rollback()
                imported_teams = imported_members = 0
                skipped = {row for row, _ in rows}
        if imported_teams:
            await self.teams.refresh_active_teams()
        return ImportReport(
            rows=len(rows),
            teams=imported_teams,
            members=imported_members,
            skipped_rows=len(skipped),
            errors=[
                ImportRowError(**asdict(error))
                for error in sorted(errors, key=lambda e: (e.row, e.field))
            ],
        )

    @staticmethod
    def _notify(progress: Progress | None, done: int, total: int) -> None:
        if progress is not None:
            progress(done, total)

    @staticmethod
    async def _area_ids(session: AsyncSession, rows: list[Row]) -> dict[str, Any]:
        codes = area_codes(rows)
        found = await session.exec(select(Area.code, Area.id).where(col(Area.code).in_(codes)))
        return dict(found.all())

    def _command(
        self, team: TeamRows, codes: dict[str, Any], errors: list[RowError]
    ) -> TeamCreate | None:
        values = team.values
        before = len(errors)

        def area(code: str, row: int, column: str) -> Any:
            if code not in codes:
                errors.append(RowError(row=row, field=column, message=f"unknown area {code!r}"))
            return codes.get(code)

        members: list[MemberIn] = []
        for row, member in team.members:
            try:
                members.append(
                    MemberIn.model_validate(
                        {name: member.get(column) or None for name, column in MEMBER_FIELDS.items()}
                        | {"role": member.get("role") or "member"}
                    )
                )
            except ValidationError as error:
                errors.extend(_validation_errors(error, row, MEMBER_FIELDS))
        area_id = area(values["area_code"], team.first_row, "area_code")
        covered = [
            area(code.strip(), team.first_row, "covered_area_codes")
            for code in values.get("covered_area_codes", "").split(";")
            if code.strip()
        ]
        decision = None
        if values.get("decision_number"):
            decision = {
                "number": values["decision_number"],
                "issued_on": values.get("decision_issued_on") or None,
                "issuer": values.get("decision_issuer") or None,
            }
        if len(errors) > before:
            return None
        try:
            return TeamCreate.model_validate(
                {
                    "area_id": area_id,
                    "name": values["team_name"],
                    "kind": values["kind"],
                    "founded_on": values.get("founded_on") or None,
                    "covered_area_ids": covered,
                    "founding_decision": decision,
                    "members": members,
                }
            )
        except ValidationError as error:
            errors.extend(_validation_errors(error, team.first_row, TEAM_FIELDS))
            return None


def _validation_errors(error: ValidationError, row: int, columns: dict[str, str]) -> list[RowError]:
    return validation_row_errors(error.errors(), row, columns)
