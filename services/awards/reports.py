"""Campaign reporting: awards granted in an area (and every area below it) for a period or
a campaign, by issuing authority and its level, split into individuals, collectives and
households, as the press tallies them ("Công an TP. Hà Nội đã khen thưởng 1 cá nhân,
1 tập thể …"). Revoked awards are left out."""

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from sqlmodel import col, select

from services.awards.catalogue import Catalogue
from services.awards.models import Award, AwardsReport, AwardStatus, KnownArea, ReportRow
from shared.auth import Principal
from shared.db import SessionFactory
from shared.errors import RuleViolationError
from shared.events import RecipientKind
from shared.scope import AreaScope, descendants

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


class AwardsReports:
    def __init__(self, sessions: SessionFactory, catalogue: Catalogue, scope: AreaScope) -> None:
        self.sessions = sessions
        self.catalogue = catalogue
        self.scope = scope

    async def awards_report(
        self,
        area_id: UUID,
        campaign: str | None,
        granted_from: date | None,
        granted_to: date | None,
        principal: Principal,
    ) -> AwardsReport:
        if granted_from and granted_to and granted_from > granted_to:
            raise RuleViolationError(
                "granted_from must not be after granted_to", ["query", "granted_from"]
            )
        self.catalogue.check_campaign_query(campaign)
        async with self.sessions() as session:
            await self.scope.area(session, principal, area_id, loc=["query", "area_id"])
            areas = await descendants(session, KnownArea, [area_id])
            query = select(Award.authority, Award.authority_level, Award.recipient_kind).where(
                col(Award.area_id).in_(areas), Award.status == AwardStatus.ACTIVE
            )
            if campaign is not None:
                query = query.where(Award.campaign == campaign)
            if granted_from is not None:
                query = query.where(col(Award.granted_on) >= _midnight(granted_from))
            if granted_to is not None:
                query = query.where(
                    col(Award.granted_on) < _midnight(granted_to + timedelta(days=1))
                )
            counts = Counter((await session.exec(query)).all())
        order = {code: index for index, code in enumerate(self.catalogue.authorities)}
        keys = sorted(
            {(authority, level) for authority, level, _ in counts},
            key=lambda key: (order.get(key[0], len(order)), key[0], key[1]),
        )
        rows = []
        for authority, level in keys:
            by_kind = {kind: counts[(authority, level, kind)] for kind in RecipientKind}
            rows.append(
                ReportRow(
                    authority=authority,
                    authority_name=self.catalogue.authority_name(authority),
                    authority_level=level,
                    individuals=by_kind[RecipientKind.INDIVIDUAL],
                    collectives=by_kind[RecipientKind.COLLECTIVE],
                    households=by_kind[RecipientKind.HOUSEHOLD],
                    total=sum(by_kind.values()),
                )
            )
        return AwardsReport(
            area_id=area_id,
            campaign=campaign,
            granted_from=granted_from,
            granted_to=granted_to,
            rows=rows,
            individuals=sum(row.individuals for row in rows),
            collectives=sum(row.collectives for row in rows),
            households=sum(row.households for row in rows),
            total=sum(row.total for row in rows),
        )


def report_csv(report: AwardsReport) -> str:
    """The report as CSV, one row per authority and a total row; safe to open in a
    spreadsheet (no cell is read as a formula)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        writer.writerow([_cell(getattr(row, column)) for column in CSV_COLUMNS])
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


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _midnight(day: date) -> datetime:
    # Awards store their decision date at 00:00 UTC.
    return datetime.combine(day, time(), tzinfo=UTC)
