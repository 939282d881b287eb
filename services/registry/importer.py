"""Bulk import of teams and members from the spreadsheets wards keep (CSV, UTF-8).

One row per member; rows with the same ``team_ref`` form one team, whose columns come from
its first row (later rows may leave them blank). A team with no roster is one row with
the member columns empty. Every row is checked, then each team goes through the same use
case as ``POST /teams``, so the rules, counters, audit and events are the same. A file
with any invalid row imports nothing, unless invalid rows are skipped: then a team with
an invalid row is skipped whole and reported."""

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from pydantic import ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.registry.models import Area, ImportReport, ImportRowError, MemberIn, TeamCreate
from services.registry.service import RegistryService
from shared.auth import Principal
from shared.db import transaction
from shared.errors import DomainError

TEAM_COLUMNS = (
    "area_code",
    "team_name",
    "kind",
    "founded_on",
    "decision_number",
    "decision_issued_on",
    "decision_issuer",
    "covered_area_codes",
)
MEMBER_COLUMNS = ("member_name", "birth_date", "phone", "role", "joined_on")
COLUMNS = ("team_ref", *TEAM_COLUMNS, *MEMBER_COLUMNS)
REQUIRED = ("team_ref", "area_code", "team_name", "kind")
MAX_ROWS = 50_000

Progress = Callable[[int, int], None]


class ImportFileError(DomainError):
    """The file itself cannot be read as a team list (encoding, header, size)."""

    status_code = 422
    error_type = "invalid_file"


@dataclass
class TeamRows:
    ref: str
    first_row: int
    values: dict[str, str]
    members: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    @property
    def rows(self) -> list[int]:
        return sorted({self.first_row, *(row for row, _ in self.members)})


def read_rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(f"the file is not UTF-8 text ({error.reason})", ["body"]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise ImportFileError(
            f"the header lacks column(s) {', '.join(missing)}; columns: {', '.join(COLUMNS)}",
            ["body", "header"],
        )
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise ImportFileError(
            f"unknown column(s) {', '.join(unknown)}; columns: {', '.join(COLUMNS)}",
            ["body", "header"],
        )
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, str]]] = []
    for raw in reader:
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(f"more than {MAX_ROWS} rows; split the file", ["body"])
        values = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            values["__extra__"] = "x"
        if any(values.values()):
            rows.append((reader.line_num, values))
    return rows


class TeamImporter:
    def __init__(self, service: RegistryService) -> None:
        self.service = service

    async def run(
        self,
        data: bytes,
        principal: Principal,
        *,
        skip_invalid: bool = False,
        progress: Progress | None = None,
    ) -> ImportReport:
        rows = read_rows(data)
        errors: list[ImportRowError] = []
        teams = self._group(rows, errors)
        bad_rows = {error.row for error in errors}
        done = imported_teams = imported_members = 0
        skipped: set[int] = set()
        async with transaction(self.service.sessions) as session:
            # The import is audited as a whole; written first, it also opens the database
            # transaction, so each team's savepoint nests inside it (SQLite included).
            await self.service.audit.record(session, principal, "import_teams", "import", uuid4())
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
                        await self.service.register_team_in(session, command, principal, [])
                except DomainError as error:
                    errors.append(self._row_error(team, error))
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
            await self.service.refresh_active_teams()
        return ImportReport(
            rows=len(rows),
            teams=imported_teams,
            members=imported_members,
            skipped_rows=len(skipped),
            errors=sorted(errors, key=lambda e: (e.row, e.field)),
        )

    @staticmethod
    def _notify(progress: Progress | None, done: int, total: int) -> None:
        if progress is not None:
            progress(done, total)

    @staticmethod
    def _group(
        rows: Iterable[tuple[int, dict[str, str]]], errors: list[ImportRowError]
    ) -> list[TeamRows]:
        teams: dict[str, TeamRows] = {}
        for row, values in rows:
            if "__extra__" in values:
                errors.append(
                    ImportRowError(row=row, field="row", message="more cells than columns")
                )
                continue
            for name in REQUIRED:
                if not values.get(name) and (
                    name == "team_ref" or values.get("team_ref") not in teams
                ):
                    errors.append(ImportRowError(row=row, field=name, message="is required"))
            ref = values.get("team_ref", "")
            if not ref:
                continue
            team = teams.get(ref)
            if team is None:
                team = teams[ref] = TeamRows(ref, row, values)
            else:
                for name in TEAM_COLUMNS:
                    if values.get(name) and values[name] != team.values.get(name, ""):
                        errors.append(
                            ImportRowError(
                                row=row,
                                field=name,
                                message=f"differs from row {team.first_row} of team {ref!r}",
                            )
                        )
            if any(values.get(name) for name in MEMBER_COLUMNS):
                team.members.append((row, values))
        return list(teams.values())

    @staticmethod
    async def _area_ids(
        session: AsyncSession, rows: list[tuple[int, dict[str, str]]]
    ) -> dict[str, Any]:
        codes = {values.get("area_code", "") for _, values in rows}
        for _, values in rows:
            codes |= {c.strip() for c in values.get("covered_area_codes", "").split(";")}
        codes.discard("")
        found = await session.exec(select(Area.code, Area.id).where(col(Area.code).in_(codes)))
        return dict(found.all())

    def _command(
        self, team: TeamRows, codes: dict[str, Any], errors: list[ImportRowError]
    ) -> TeamCreate | None:
        values = team.values
        before = len(errors)

        def area(code: str, row: int, column: str) -> Any:
            if code not in codes:
                errors.append(
                    ImportRowError(row=row, field=column, message=f"unknown area {code!r}")
                )
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

    @staticmethod
    def _row_error(team: TeamRows, error: DomainError) -> ImportRowError:
        """A rule broken by a team: point at the member's row when the error names one."""
        loc = error.loc
        row = team.first_row
        if len(loc) >= 2 and loc[0] == "members" and isinstance(loc[1], int):
            row = team.members[loc[1]][0]
        names = [str(part) for part in loc if isinstance(part, str)]
        column = names[-1] if names else "team"
        return ImportRowError(row=row, field=COLUMN_OF.get(column, column), message=error.message)


MEMBER_FIELDS = {
    "full_name": "member_name",
    "birth_date": "birth_date",
    "phone": "phone",
    "role": "role",
    "joined_on": "joined_on",
}
TEAM_FIELDS = {
    "name": "team_name",
    "kind": "kind",
    "founded_on": "founded_on",
    "area_id": "area_code",
    "covered_area_ids": "covered_area_codes",
    "number": "decision_number",
    "issued_on": "decision_issued_on",
    "issuer": "decision_issuer",
    "members": "team",
}
COLUMN_OF = {**MEMBER_FIELDS, **TEAM_FIELDS}


def _validation_errors(
    error: ValidationError, row: int, columns: dict[str, str]
) -> list[ImportRowError]:
    found = []
    for problem in error.errors():
        names = [str(part) for part in problem["loc"] if isinstance(part, str)]
        column = next((columns[name] for name in reversed(names) if name in columns), "row")
        # Without pydantic's "Value error, ", as the API's own 422 answers read.
        message = problem["msg"].removeprefix("Value error, ")
        found.append(ImportRowError(row=row, field=column, message=message))
    return found
