"""Area tables and API schemas: the area tree."""

from datetime import datetime
from uuid import UUID, uuid4

from sqlmodel import Field, SQLModel

from services.registry.common import Name, RegistryTable, utcnow
from shared.db import enum_column
from shared.events import AreaLevel


class AreaBase(SQLModel):
    code: str = Field(min_length=1, max_length=64, description="Unique administrative code")
    name: Name
    level: AreaLevel = Field(sa_type=enum_column(AreaLevel))
    households: int | None = Field(
        default=None, ge=0, le=10_000_000, description="Households, when known"
    )


class AreaCreate(AreaBase):
    parent_id: UUID | None = Field(default=None, description="The enclosing area, if any")


class AreaUpdate(SQLModel):
    """Rename an area or record its households; code, level and parent stay."""

    name: Name | None = None
    households: int | None = Field(default=None, ge=0, le=10_000_000)


class AreaMove(SQLModel):
    parent_id: UUID | None = Field(description="The new enclosing area (null: top level)")


class Area(RegistryTable, AreaBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=64)
    parent_id: UUID | None = Field(default=None, foreign_key="area.id", index=True)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class AreaPublic(AreaBase):
    id: UUID
    parent_id: UUID | None
    version: int
