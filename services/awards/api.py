"""Awards HTTP routes: thin, every change goes through the service layer."""

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import Body, Depends, Query, Response, status

from services.awards.catalogue import ScoreSubject
from services.awards.certification import Certifications
from services.awards.models import (
    ApprovalCreate,
    AwardPublic,
    AwardRecord,
    AwardsReport,
    AwardStatus,
    CertificationCreate,
    CertificationPublic,
    EvaluationCreate,
    LeaderboardPublic,
    NominationCreate,
    NominationPublic,
    NominationStatus,
    RejectionCreate,
    RevocationCreate,
    ScorePublic,
    SuggestionAcceptance,
    SuggestionDismissal,
    SuggestionPublic,
    SuggestionStatus,
    TeamContributionPublic,
)
from services.awards.reports import AwardsReports, report_csv
from services.awards.service import AwardsService
from shared.auth import Access, CurrentPrincipal, ProtectedRouter
from shared.errors import error_responses
from shared.idempotency import Idempotency, IdempotentRequest
from shared.runtime import LimitQuery, OffsetQuery, ServiceRuntime

ERRORS = error_responses(404, 409)
PeriodQuery = Annotated[
    str | None,
    Query(max_length=7, description="2023 (year), 2023-Q3 (quarter) or 2023-08 (month); "
    "defaults to the current year"),
]  # fmt: skip
CampaignQuery = Annotated[str | None, Query(max_length=64, description="e.g. festival-19-8-2023")]


ACCESS = {
    "catalogue": Access.READ,
    "nominate": Access.WRITE,
    "list_nominations": Access.READ,
    "get_nomination": Access.READ,
    "approve": Access.WRITE,
    "reject": Access.WRITE,
    "record_award": Access.WRITE,
    "list_awards": Access.READ,
    "get_award": Access.READ,
    "revoke": Access.WRITE,
    "awards_report": Access.READ,
    "awards_report_csv": Access.READ,
    "team_contribution": Access.READ,
    "score": Access.READ,
    "leaderboard": Access.READ,
    "list_suggestions": Access.READ,
    "accept_suggestion": Access.WRITE,
    "dismiss_suggestion": Access.WRITE,
    "register_certification": Access.WRITE,
    "list_certifications": Access.READ,
    "get_certification": Access.READ,
    "evaluate_certification": Access.WRITE,
}


def create_router(
    service: AwardsService,
    reports: AwardsReports,
    certifications: Certifications,
    runtime: ServiceRuntime,
    idempotency: Idempotency,
) -> ProtectedRouter:
    router = runtime.router(ACCESS)
    IdempotencyKey = Annotated[IdempotentRequest | None, Depends(idempotency.dependency())]

    @router.get("/catalogue", tags=["catalogue"])
    async def catalogue() -> dict[str, Any]:
        """Award forms, issuing authorities (level, forms they give), kinds, campaigns and
        the scoring rules, as configured."""
        return service.catalogue_view()

    # --- nominations ------------------------------------------------------------------

    @router.post(
        "/nominations",
        response_model=NominationPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["nominations"],
        responses=error_responses(409),
    )
    async def nominate(
        body: NominationCreate, principal: CurrentPrincipal, key: IdempotencyKey
    ) -> NominationPublic:
        """Nominate an individual, a collective (team or area) or a household; publishes
        nomination_created. 409 if a cited achievement already earned the recipient an award."""
        return await service.nominate(body, principal, idempotency=key)

    @router.get("/nominations", response_model=list[NominationPublic], tags=["nominations"])
    async def list_nominations(
        principal: CurrentPrincipal,
        status: NominationStatus | None = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[NominationPublic]:
        """Nominations in the caller's areas, newest first."""
        return await service.list_nominations(status, offset, limit, principal)

    @router.get(
        "/nominations/{nomination_id}",
        response_model=NominationPublic,
        tags=["nominations"],
        responses=ERRORS,
    )
    async def get_nomination(nomination_id: UUID, principal: CurrentPrincipal) -> NominationPublic:
        """A nomination and where it stands."""
        return await service.get_nomination(nomination_id, principal)

    @router.post(
        "/nominations/{nomination_id}/approve",
        response_model=AwardPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["nominations"],
        responses=ERRORS,
    )
    async def approve(
        nomination_id: UUID, body: ApprovalCreate, principal: CurrentPrincipal
    ) -> AwardPublic:
        """Approve a nomination into an award; publishes nomination_decided and award_granted."""
        return await service.approve(nomination_id, body, principal)

    @router.post(
        "/nominations/{nomination_id}/reject",
        response_model=NominationPublic,
        tags=["nominations"],
        responses=ERRORS,
    )
    async def reject(
        nomination_id: UUID, body: RejectionCreate, principal: CurrentPrincipal
    ) -> NominationPublic:
        """Reject a nomination with a reason; publishes nomination_decided."""
        return await service.reject(nomination_id, body, principal)

    # --- awards -----------------------------------------------------------------------

    @router.post(
        "/awards",
        response_model=AwardPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["awards"],
        responses=error_responses(409),
    )
    async def record_award(
        body: AwardRecord, principal: CurrentPrincipal, key: IdempotencyKey
    ) -> AwardPublic:
        """Record an award already decided (e.g. a past festival's): the nomination and its
        approval at once, with the decision's number and date."""
        return await service.record_award(body, principal, key)

    @router.get("/awards", response_model=list[AwardPublic], tags=["awards"])
    async def list_awards(
        principal: CurrentPrincipal,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
        status: AwardStatus | None = None,
        campaign: CampaignQuery = None,
    ) -> list[AwardPublic]:
        """Awards granted in the caller's areas, newest first."""
        return await service.list_awards(offset, limit, principal, status, campaign)

    @router.get("/awards/{award_id}", response_model=AwardPublic, tags=["awards"], responses=ERRORS)
    async def get_award(award_id: UUID, principal: CurrentPrincipal) -> AwardPublic:
        """An award, revoked or not."""
        return await service.get_award(award_id, principal)

    @router.post(
        "/awards/{award_id}/revoke", response_model=AwardPublic, tags=["awards"], responses=ERRORS
    )
    async def revoke(
        award_id: UUID, body: RevocationCreate, principal: CurrentPrincipal
    ) -> AwardPublic:
        """Revoke an award with a reason (e.g. obtained by fraud); publishes award_revoked."""
        return await service.revoke(award_id, body, principal)

    @router.get(
        "/reports/awards",
        response_model=AwardsReport,
        tags=["reports"],
        responses=error_responses(404),
    )
    async def awards_report(
        area_id: UUID,
        principal: CurrentPrincipal,
        campaign: CampaignQuery = None,
        granted_from: date | None = None,
        granted_to: date | None = None,
    ) -> AwardsReport:
        """Awards in an area and below, for a campaign and/or a period: by authority and
        level, individuals / collectives / households."""
        return await reports.awards_report(area_id, campaign, granted_from, granted_to, principal)

    @router.get(
        "/reports/awards.csv",
        tags=["reports"],
        response_class=Response,
        responses={
            **error_responses(404),
            200: {"content": {"text/csv": {}}, "description": "The report as CSV"},
        },
    )
    async def awards_report_csv(
        area_id: UUID,
        principal: CurrentPrincipal,
        campaign: CampaignQuery = None,
        granted_from: date | None = None,
        granted_to: date | None = None,
    ) -> Response:
        """The same report as CSV (UTF-8 with a byte-order mark, for spreadsheets)."""
        report = await reports.awards_report(area_id, campaign, granted_from, granted_to, principal)
        return Response(
            content="\ufeff" + report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="awards-report.csv"'},
        )

    # --- contributions, scores and suggestions -----------------------------------------

    @router.get(
        "/contributions/teams/{team_id}",
        response_model=TeamContributionPublic,
        tags=["scores"],
        responses=error_responses(404),
    )
    async def team_contribution(
        team_id: UUID, principal: CurrentPrincipal
    ) -> TeamContributionPublic:
        """How many resolved incidents credit this team."""
        return await service.team_contribution(team_id, principal)

    @router.get(
        "/scores/{subject}/{subject_id}",
        response_model=ScorePublic,
        tags=["scores"],
        responses=error_responses(404),
    )
    async def score(
        subject: ScoreSubject,
        subject_id: UUID,
        principal: CurrentPrincipal,
        period: PeriodQuery = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> ScorePublic:
        """A person's, team's or area's emulation points in a period, with the entries
        behind them (newest first)."""
        return await service.scoring.score(subject, subject_id, period, offset, limit, principal)

    @router.get(
        "/leaderboard",
        response_model=LeaderboardPublic,
        tags=["scores"],
        responses=error_responses(404),
    )
    async def leaderboard(
        area_id: UUID,
        principal: CurrentPrincipal,
        period: PeriodQuery = None,
        subject: ScoreSubject | None = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> LeaderboardPublic:
        """Points in an area and below for a period, highest first."""
        return await service.scoring.leaderboard(area_id, period, subject, offset, limit, principal)

    @router.get("/suggestions", response_model=list[SuggestionPublic], tags=["scores"])
    async def list_suggestions(
        principal: CurrentPrincipal,
        status: SuggestionStatus | None = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[SuggestionPublic]:
        """Nominations the scores suggest in the caller's areas, newest first."""
        return await service.scoring.suggestions(status, offset, limit, principal)

    @router.post(
        "/suggestions/{suggestion_id}/accept",
        response_model=NominationPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["scores"],
        responses=ERRORS,
    )
    async def accept_suggestion(
        suggestion_id: UUID,
        principal: CurrentPrincipal,
        body: Annotated[SuggestionAcceptance | None, Body()] = None,
    ) -> NominationPublic:
        """Turn a suggestion into a nomination (nomination_created with suggested=true)."""
        return await service.accept_suggestion(
            suggestion_id, body or SuggestionAcceptance(), principal
        )

    @router.post(
        "/suggestions/{suggestion_id}/dismiss",
        response_model=SuggestionPublic,
        tags=["scores"],
        responses=ERRORS,
    )
    async def dismiss_suggestion(
        suggestion_id: UUID, body: SuggestionDismissal, principal: CurrentPrincipal
    ) -> SuggestionPublic:
        """Dismiss a suggestion with a reason; it does not come back for that threshold."""
        dismissed = await service.dismiss_suggestion(suggestion_id, body, principal)
        return SuggestionPublic.model_validate(dismissed)

    # --- safe-area certification ------------------------------------------------------

    @router.post(
        "/certifications",
        response_model=CertificationPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["certifications"],
        responses=error_responses(409),
    )
    async def register_certification(
        body: CertificationCreate, principal: CurrentPrincipal
    ) -> CertificationPublic:
        """Register an area for a year's safe-area certification."""
        return await certifications.register(body, principal)

    @router.get(
        "/certifications", response_model=list[CertificationPublic], tags=["certifications"]
    )
    async def list_certifications(
        principal: CurrentPrincipal,
        year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
        offset: OffsetQuery = 0,
        limit: LimitQuery = 50,
    ) -> list[CertificationPublic]:
        """Certifications in the caller's areas, newest year first."""
        return await certifications.search(year, offset, limit, principal)

    @router.get(
        "/certifications/{certification_id}",
        response_model=CertificationPublic,
        tags=["certifications"],
        responses=error_responses(404),
    )
    async def get_certification(
        certification_id: UUID, principal: CurrentPrincipal
    ) -> CertificationPublic:
        """A certification, its latest decision and history; ``stale`` when events that
        came later change what the criteria show."""
        return await certifications.get(certification_id, principal)

    @router.post(
        "/certifications/{certification_id}/evaluate",
        response_model=CertificationPublic,
        status_code=status.HTTP_201_CREATED,
        tags=["certifications"],
        responses=ERRORS,
    )
    async def evaluate_certification(
        certification_id: UUID,
        principal: CurrentPrincipal,
        body: Annotated[EvaluationCreate | None, Body()] = None,
    ) -> CertificationPublic:
        """Decide (or, with a reason, decide again): every criterion with its result, value
        and rule; publishes certification_decided."""
        return await certifications.evaluate(
            certification_id, body or EvaluationCreate(), principal
        )

    return router
