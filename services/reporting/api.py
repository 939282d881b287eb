"""Reporting HTTP routes: thin, every change goes through the service layer."""

from uuid import UUID

from fastapi import APIRouter, status

from services.reporting.models import IncidentCreate, IncidentPublic, StatusChangeCreate
from services.reporting.service import ReportingService
from shared.errors import error_responses

ERRORS = error_responses(404, 409)


def create_router(service: ReportingService) -> APIRouter:
    router = APIRouter(tags=["incidents"])

    @router.post("/incidents", response_model=IncidentPublic, status_code=status.HTTP_201_CREATED)
    async def report_incident(body: IncidentCreate) -> IncidentPublic:
        """Report an incident in a known area, crediting the teams that helped."""
        return await service.report_incident(body)

    @router.get("/incidents/{incident_id}", response_model=IncidentPublic, responses=ERRORS)
    async def get_incident(incident_id: UUID) -> IncidentPublic:
        """An incident with its credited teams and status history."""
        return await service.get_incident(incident_id)

    @router.post("/incidents/{incident_id}/status", response_model=IncidentPublic, responses=ERRORS)
    async def change_status(incident_id: UUID, body: StatusChangeCreate) -> IncidentPublic:
        """Move an incident along its lifecycle; an illegal move gets 409 naming the legal ones."""
        return await service.change_status(incident_id, body)

    return router
