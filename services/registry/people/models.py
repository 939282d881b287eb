"""Person table and API schemas."""

from datetime import date, datetime
from uuid import UUID, uuid4

from sqlmodel import Field, SQLModel

from services.registry.common import Name, PastDate, RegistryTable, utcnow
from services.registry.honours.models import HonourPublic
from services.registry.rosters.models import MembershipPublic


class PersonBase(SQLModel):
    full_name: Name
    birth_date: PastDate | None = None
    phone: str | None = Field(default=None, max_length=32, description="Never in events")


class PersonCreate(PersonBase):
    area_id: UUID = Field(description="The area the person lives or serves in")


class Person(RegistryTable, PersonBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(foreign_key="area.id", index=True)
    birth_date: date | None = None
    created_at: datetime = Field(default_factory=utcnow)


class PersonPublic(PersonBase):
    id: UUID
    area_id: UUID


class PersonProfile(PersonPublic):
    memberships: list[MembershipPublic] = Field(description="Current and past, newest first")
    honours: list[HonourPublic]
