"""Subscribers that keep awards' copies of registry's areas and teams and of reporting's
reported incidents: thin, each hands one event to ``ReadModels``."""

from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.replicas.service import ReadModels
from shared.bus import EventConsumer
from shared.cloudevents import Envelope
from shared.events import (
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    IncidentReported,
    TeamDissolved,
    TeamRegistered,
    TeamUpdated,
)


def register_handlers(consumer: EventConsumer, read_models: ReadModels) -> None:
    async def remember_area(session: AsyncSession, event: AreaRegistered, _: Envelope) -> None:
        """area_registered: the area tree (scopes, reports) and its households."""
        await read_models.area_registered(session, event)

    async def update_area(session: AsyncSession, event: AreaUpdated, _: Envelope) -> None:
        """area_updated: an area's new name or household count."""
        await read_models.area_updated(session, event)

    async def move_area(session: AsyncSession, event: AreaMoved, _: Envelope) -> None:
        """area_moved: the area's new parent; scopes and reports below it follow."""
        await read_models.area_moved(session, event)

    async def remember_team(session: AsyncSession, event: TeamRegistered, _: Envelope) -> None:
        """team_registered: teams that can be nominated, and their area."""
        await read_models.team_registered(session, event)

    async def update_team(session: AsyncSession, event: TeamUpdated, _: Envelope) -> None:
        """team_updated: a team's new name, kind or founding date."""
        await read_models.team_registered(session, event)

    async def dissolve_team(session: AsyncSession, event: TeamDissolved, _: Envelope) -> None:
        """team_dissolved: the team can no longer be nominated."""
        await read_models.team_dissolved(session, event)

    async def track_incident(session: AsyncSession, event: IncidentReported, _: Envelope) -> None:
        """incident_reported: remember the incident and the teams it credits."""
        await read_models.incident_reported(session, event)

    consumer.subscribe(AreaRegistered, remember_area)
    consumer.subscribe(AreaUpdated, update_area)
    consumer.subscribe(AreaMoved, move_area)
    consumer.subscribe(TeamRegistered, remember_team)
    consumer.subscribe(TeamUpdated, update_team)
    consumer.subscribe(TeamDissolved, dissolve_team)
    consumer.subscribe(IncidentReported, track_incident)
