"""Area summary tables and API schemas: the kept counters and what an area's summary shows."""

from uuid import UUID

from sqlmodel import Field, SQLModel

from services.registry.areas.models import AreaPublic
from services.registry.common import RegistryTable


class AreaTally(RegistryTable, table=True):
    """A counter of an area's subtree (the area and everything below it), kept up to date
    by every change so the summary never scans: ``teams:<kind>``, ``members``,
    ``members:<kind>``, ``cameras``, ``initiatives``."""

    area_id: UUID = Field(foreign_key="area.id", primary_key=True)
    key: str = Field(primary_key=True, max_length=80)
    value: int = 0


class AreaPresence(RegistryTable, table=True):
    """How many active memberships a person holds in an area's subtree, overall (key ``*``)
    and per team kind: a person counts once in ``members`` however many teams they serve."""

    area_id: UUID = Field(foreign_key="area.id", primary_key=True)
    key: str = Field(primary_key=True, max_length=80)
    person_id: UUID = Field(foreign_key="person.id", primary_key=True)
    memberships: int = 0


class KindSummary(SQLModel):
    kind: str
    name_vi: str
    name_en: str
    teams: int
    members: int = Field(description="Distinct people serving on active teams of this kind")


class AreaSummary(SQLModel):
    area: AreaPublic
    teams: int = Field(description="Active teams in the area and below")
    members: int = Field(description="Distinct people serving on any active team")
    cameras: int = Field(description="Community cameras installed and not removed")
    initiatives: int = Field(description="Initiatives running")
    by_kind: list[KindSummary]
