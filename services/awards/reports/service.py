"""The campaign report's use case: awards granted in an area (and every area below it)
for a period or a campaign, by issuing authority and its level, split into individuals,
collectives and households, as the press tallies them ("Công an TP. Hà Nội đã khen thưởng
1 cá nhân, 1 tập thể …"). Revoked awards are left out."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from sqlmodel import col, select

from services.awards.awards.models import Award, AwardStatus
from services.awards.awards.rules import Catalogue
from services.awards.replicas.models import KnownArea
from services.awards.reports.models import AwardsReport, ReportRow
from services.awards.reports.rules import check_period, tally
from shared.auth import Principal
from shared.db import SessionFactory
from shared.scope import AreaScope, descendants


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
        check_period(granted_from, granted_to)
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
        rows = [
            ReportRow(
                authority=row.authority,
                authority_name=self.catalogue.authority_name(row.authority),
                authority_level=row.authority_level,
                individuals=row.individuals,
                collectives=row.collectives,
                households=row.households,
                total=row.total,
            )
            for row in tally(counts, list(self.catalogue.authorities))
        ]
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


def _midnight(day: date) -> datetime:
    # Awards store their decision date at 00:00 UTC.
    return datetime.combine(day, time(), tzinfo=UTC)
