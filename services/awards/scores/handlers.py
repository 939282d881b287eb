"""Subscribers whose events score: roster changes, incidents solved or found duplicate,
activities logged. Thin, each hands one event (or a run) to ``Scores``, which keeps the
copies these events change too."""

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from services.awards.scores.service import Scores
from shared.bus import EventConsumer
from shared.cloudevents import Envelope
from shared.events import (
    ActivityLogged,
    IncidentLinked,
    IncidentStatusChanged,
    MemberJoined,
    MemberLeft,
)


def register_handlers(consumer: EventConsumer, scores: Scores) -> None:
    async def remember_member(session: AsyncSession, event: MemberJoined, _: Envelope) -> None:
        """member_joined: people who can be nominated, and the teams they score with."""
        await scores.remember_member(session, event)

    async def forget_member(session: AsyncSession, event: MemberLeft, _: Envelope) -> None:
        """member_left: the person no longer scores with that team."""
        await scores.forget_member(session, event)

    async def change_rosters(
        session: AsyncSession, events: Sequence[tuple[MemberJoined | MemberLeft, Envelope]]
    ) -> None:
        """A run of member_joined or member_left, with one read of the people involved."""
        await scores.roster_changes(session, [event for event, _ in events])

    async def credit_resolution(
        session: AsyncSession, event: IncidentStatusChanged, envelope: Envelope
    ) -> None:
        """incident_status_changed: a solved incident scores for its teams and area."""
        await scores.credit_resolution(session, event, envelope.id)

    async def credit_resolutions(
        session: AsyncSession, events: Sequence[tuple[IncidentStatusChanged, Envelope]]
    ) -> None:
        """A run of incident_status_changed, applied in a handful of statements."""
        await scores.credit_resolutions(session, [(event, env.id) for event, env in events])

    async def drop_duplicate(session: AsyncSession, event: IncidentLinked, _: Envelope) -> None:
        """incident_linked: a duplicate incident no longer counts anywhere."""
        await scores.drop_duplicate(session, event)

    async def score_activity(
        session: AsyncSession, event: ActivityLogged, envelope: Envelope
    ) -> None:
        """activity_logged: activities score under the rules and feed certification."""
        await scores.score_activity(session, event, envelope.id)

    consumer.subscribe(MemberJoined, remember_member, batch_handler=change_rosters)
    consumer.subscribe(MemberLeft, forget_member, batch_handler=change_rosters)
    consumer.subscribe(IncidentStatusChanged, credit_resolution, batch_handler=credit_resolutions)
    consumer.subscribe(IncidentLinked, drop_duplicate)
    consumer.subscribe(ActivityLogged, score_activity)
