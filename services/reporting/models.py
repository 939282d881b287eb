"""Reporting's table base and metadata, with every aggregate's tables imported so that
Alembic's environment and ``create_all`` see them all."""

from services.reporting.activities.models import Activity, ActivityMeasureRow, ActivityTeam
from services.reporting.common import ReportingTable
from services.reporting.incidents.models import (
    Incident,
    IncidentLink,
    IncidentStatusChange,
    IncidentTeam,
)
from services.reporting.replicas.models import KnownArea, KnownTeam
from services.reporting.statistics.models import ActivityTally, IncidentTally, MeasureTally
from services.reporting.tips.models import TipOff

__all__ = [
    "Activity",
    "ActivityMeasureRow",
    "ActivityTally",
    "ActivityTeam",
    "Incident",
    "IncidentLink",
    "IncidentStatusChange",
    "IncidentTally",
    "IncidentTeam",
    "KnownArea",
    "KnownTeam",
    "MeasureTally",
    "ReportingTable",
    "TipOff",
]
