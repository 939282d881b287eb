"""The registry's use cases, one object per aggregate, built once from the runtime's parts:
what app.py wires into routes and handlers, and what the CLI and tests reach through
``app.state.service``. No domain logic here."""

from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from services.registry.areas.models import Area
from services.registry.areas.service import AreaService
from services.registry.cameras.service import CameraService
from services.registry.honours.service import HonourService
from services.registry.imports.service import TeamImporter
from services.registry.initiatives.service import InitiativeService
from services.registry.people.service import PersonService
from services.registry.rosters.service import RosterService
from services.registry.summaries.service import SummaryService
from services.registry.teams.rules import TeamKind, TeamRule
from services.registry.teams.service import TeamService
from shared.audit import AuditTrail
from shared.db import SessionFactory
from shared.outbox import Outbox
from shared.scope import AreaScope


class RegistryService:
    def __init__(
        self,
        sessions: SessionFactory,
        outbox: Outbox,
        audit: AuditTrail,
        team_kinds: dict[str, TeamKind],
        team_rules: Sequence[TeamRule],
        camera_funding: Sequence[str],
        registry: CollectorRegistry,
    ) -> None:
        scope = AreaScope(Area)
        self.summaries = SummaryService(sessions, scope, team_kinds)
        # One set of counters, changed by every aggregate that moves them.
        tallies = self.summaries.tallies
        self.areas = AreaService(sessions, outbox, audit, scope, tallies)
        self.people = PersonService(sessions, audit, scope)
        self.rosters = RosterService(sessions, outbox, audit, scope, tallies, team_rules)
        self.teams = TeamService(
            sessions, outbox, audit, scope, tallies, self.rosters, team_kinds, team_rules, registry
        )
        self.initiatives = InitiativeService(sessions, outbox, audit, scope, tallies)
        self.cameras = CameraService(sessions, outbox, audit, scope, tallies, camera_funding)
        self.honours = HonourService()
        self.imports = TeamImporter(sessions, audit, self.teams)
