"""The campaign report's rules: the period asked for, the tally by authority and kind of
recipient in the catalogue's order, and CSV that a spreadsheet opens safely."""

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from shared.errors import RuleViolationError
from shared.events import RecipientKind

CSV_COLUMNS = [
    "authority",
    "authority_name",
    "authority_level",
    "individuals",
    "collectives",
    "households",
    "total",
]
# A spreadsheet runs a cell that starts like a formula: such text is quoted with '.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_period(granted_from: date | None, granted_to: date | None) -> None:
    if granted_from and granted_to and granted_from > granted_to:
        raise RuleViolationError(
            "granted_from must not be after granted_to", ["query", "granted_from"]
        )


@dataclass(frozen=True)
class Tally:
    """One authority's (at one level) awards by kind of recipient."""

    authority: str
    authority_level: str
    individuals: int
    collectives: int
    households: int
    total: int


def tally(counts: Counter[tuple[str, str, str]], order: Sequence[str]) -> list[Tally]:
    """The awards counted by (authority, level, recipient kind), one row per authority and
    level: authorities in the catalogue's order (others after, by code), then by level."""
    rank = {code: index for index, code in enumerate(order)}
    keys = sorted(
        {(authority, level) for authority, level, _ in counts},
        key=lambda key: (rank.get(key[0], len(rank)), key[0], key[1]),
    )
    rows = []
    for authority, level in keys:
        by_kind = {kind: counts[(authority, level, kind)] for kind in RecipientKind}
        rows.append(
            Tally(
                authority=authority,
                authority_level=level,
                individuals=by_kind[RecipientKind.INDIVIDUAL],
                collectives=by_kind[RecipientKind.COLLECTIVE],
                households=by_kind[RecipientKind.HOUSEHOLD],
                total=sum(by_kind.values()),
            )
        )
    return rows


class Totals(Protocol):
    individuals: int
    collectives: int
    households: int
    total: int


class Report(Totals, Protocol):
    @property
    def rows(self) -> Sequence[Totals]: ...


def report_csv(report: Report) -> str:
    """The report as CSV, one row per authority and a total row; safe to open in a
    spreadsheet (no cell is read as a formula)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        writer.writerow([csv_cell(getattr(row, column)) for column in CSV_COLUMNS])
    writer.writerow(
        [
            "total",
            "",
            "",
            report.individuals,
            report.collectives,
            report.households,
            report.total,
        ]
    )
    return out.getvalue()


def csv_cell(value: object) -> object:
    """A cell's value; text that a spreadsheet would run as a formula is quoted with '."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
