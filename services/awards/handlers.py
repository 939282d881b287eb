"""Awards event subscribers: thin, each hands one event (or a run) to the service layer."""

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.service import AwardsService
from shared.bus import EventConsumer
from shared.cloudevents import Envelope
from shared.events import (
    ActivityLogged,
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    IncidentLinked,
    IncidentReported,
    IncidentStatusChanged,
    MemberJoined,
    MemberLeft,
    TeamDissolved,
    TeamRegistered,
    TeamUpdated,
)


def register_handlers(consumer: EventConsumer, service: AwardsService) -> None:
    async def remember_area(session: AsyncSession, event: AreaRegistered, _: Envelope) -> None:
        """area_registered: the area tree (scopes, reports) and its households."""
        await service.remember_area(session, event)

    async def update_area(session: AsyncSession, event: AreaUpdated, _: Envelope) -> None:
        """area_updated: an area's new name or household count."""
        await service.update_area(session, event)

    async def move_area(session: AsyncSession, event: AreaMoved, _: Envelope) -> None:
        """area_moved: the area's new parent; scopes and reports below it follow."""
        await service.move_area(session, event)

    async def remember_team(session: AsyncSession, event: TeamRegistered, _: Envelope) -> None:
        """team_registered: teams that can be nominated, and their area."""
        await service.remember_team(session, event)

    async def update_team(session: AsyncSession, event: TeamUpdated, _: Envelope) -> None:
        """team_updated: a team's new name, kind or founding date."""
        await service.remember_team(session, event)

    async def dissolve_team(session: AsyncSession, event: TeamDissolved, _: Envelope) -> None:
        """team_dissolved: the team can no longer be nominated."""
        await service.dissolve_team(session, event)

    async def remember_member(session: AsyncSession, event: MemberJoined, _: Envelope) -> None:
        """member_joined: people who can be nominated, and the teams they score with."""
        await service.remember_member(session, event)

    async def forget_member(session: AsyncSession, event: MemberLeft, _: Envelope) -> None:
        """member_left: the person no longer scores with that team."""
        await service.forget_member(session, event)

    async def change_rosters(
        session: AsyncSession, events: Sequence[tuple[MemberJoined | MemberLeft, Envelope]]
    ) -> None:
        """A run of member_joined or member_left, with one read of the people involved."""
        await service.roster_changes(session, [event for event, _ in events])

    async def track_incident(session: AsyncSession, event: IncidentReported, _: Envelope) -> None:
        """incident_reported: remember the incident and the teams it credits."""
        await service.track_incident(session, event)

    async def credit_resolution(
        session: AsyncSession, event: IncidentStatusChanged, envelope: Envelope
    ) -> None:
        """incident_status_changed: a solved incident scores for its teams and area."""
        await service.credit_resolution(session, event, envelope.id)

    async def credit_resolutions(
        session: AsyncSession, events: Sequence[tuple[IncidentStatusChanged, Envelope]]
    ) -> None:
        """A run of incident_status_changed, applied in a handful of statements."""
        await service.credit_resolutions(session, [(event, env.id) for event, env in events])

    async def drop_duplicate(session: AsyncSession, event: IncidentLinked, _: Envelope) -> None:
        """incident_linked: a duplicate incident no longer counts anywhere."""
        await service.drop_duplicate(session, event)

    async def score_activity(
        session: AsyncSession, event: ActivityLogged, envelope: Envelope
    ) -> None:
        """activity_logged: activities score under the rules and feed certification."""
        await service.score_activity(session, event, envelope.id)

    consumer.subscribe(AreaRegistered, remember_area)
    consumer.subscribe(AreaUpdated, update_area)
    consumer.subscribe(AreaMoved, move_area)
    consumer.subscribe(TeamRegistered, remember_team)
    consumer.subscribe(TeamUpdated, update_team)
    consumer.subscribe(TeamDissolved, dissolve_team)
    consumer.subscribe(MemberJoined, remember_member, batch_handler=change_rosters)
    consumer.subscribe(MemberLeft, forget_member, batch_handler=change_rosters)
    consumer.subscribe(IncidentReported, track_incident)
    consumer.subscribe(IncidentStatusChanged, credit_resolution, batch_handler=credit_resolutions)
    consumer.subscribe(IncidentLinked, drop_duplicate)
    consumer.subscribe(ActivityLogged, score_activity)
