"""How a ward's team spreadsheet (CSV, UTF-8) reads: its columns, its rows grouped into
teams, and which row and column an error points at.

One row per member; rows with the same ``team_ref`` form one team, whose columns come from
its first row (later rows may leave them blank). A team with no roster is one row with
the member columns empty."""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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

# The API's field names and the columns they come from.
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

Row = tuple[int, dict[str, str]]  # line number, values by column


class ImportFileError(DomainError):
    """The file itself cannot be read as a team list (encoding, header, size)."""

    status_code = 422
    error_type = "invalid_file"


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str


@dataclass
class TeamRows:
    ref: str
    first_row: int
    values: dict[str, str]
    members: list[Row] = field(default_factory=list)

    @property
    def rows(self) -> list[int]:
        return sorted({self.first_row, *(row for row, _ in self.members)})


def read_rows(data: bytes) -> list[Row]:
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
    rows: list[Row] = []
    for raw in reader:
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(f"more than {MAX_ROWS} rows; split the file", ["body"])
        values = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            values["__extra__"] = "x"
        if any(values.values()):
            rows.append((reader.line_num, values))
    return rows


def group_rows(rows: Iterable[Row], errors: list[RowError]) -> list[TeamRows]:
    """The teams the rows describe, in file order; every row problem added to ``errors``."""
    teams: dict[str, TeamRows] = {}
    for row, values in rows:
        if "__extra__" in values:
            errors.append(RowError(row=row, field="row", message="more cells than columns"))
            continue
        for name in REQUIRED:
            if not values.get(name) and (name == "team_ref" or values.get("team_ref") not in teams):
                errors.append(RowError(row=row, field=name, message="is required"))
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
                        RowError(
                            row=row,
                            field=name,
                            message=f"differs from row {team.first_row} of team {ref!r}",
                        )
                    )
        if any(values.get(name) for name in MEMBER_COLUMNS):
            team.members.append((row, values))
    return list(teams.values())


def area_codes(rows: Iterable[Row]) -> set[str]:
    """Every area code the rows name, as a team's area or a covered group."""
    codes: set[str] = set()
    for _, values in rows:
        codes.add(values.get("area_code", ""))
        codes |= {c.strip() for c in values.get("covered_area_codes", "").split(";")}
    codes.discard("")
    return codes


def row_error(team: TeamRows, loc: Sequence[str | int], message: str) -> RowError:
    """A rule broken by a team: point at the member's row when the error names one."""
    row = team.first_row
    if len(loc) >= 2 and loc[0] == "members" and isinstance(loc[1], int):
        row = team.members[loc[1]][0]
    names = [str(part) for part in loc if isinstance(part, str)]
    column = names[-1] if names else "team"
    return RowError(row=row, field=COLUMN_OF.get(column, column), message=message)


def validation_row_errors(
    problems: Iterable[Mapping[str, Any]], row: int, columns: Mapping[str, str]
) -> list[RowError]:
    """pydantic's problems with one row, each at the column it came from."""
    found = []
    for problem in problems:
        names = [str(part) for part in problem["loc"] if isinstance(part, str)]
        column = next((columns[name] for name in reversed(names) if name in columns), "row")
        # Without pydantic's "Value error, ", as the API's own 422 answers read.
        message = str(problem["msg"]).removeprefix("Value error, ")
        found.append(RowError(row=row, field=column, message=message))
    return found
