"""Camera table and API schemas."""

from datetime import date, datetime
from uuid import UUID, uuid4

from sqlmodel import Field, SQLModel

from services.registry.cameras.rules import CameraStatus
from services.registry.common import PastDate, Reason, RegistryTable, utcnow
from shared.db import enum_column


class CameraBase(SQLModel):
    location: str = Field(min_length=1, max_length=300, description="Street, crossing, gate …")
    funding: str = Field(min_length=1, max_length=64, description="From the funding catalogue")
    funded_by: str | None = Field(default=None, max_length=200, description="Who paid")


class CameraCreate(CameraBase):
    area_id: UUID
    installed_on: PastDate


class Camera(RegistryTable, CameraBase, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(foreign_key="area.id", index=True)
    status: CameraStatus = Field(
        default=CameraStatus.INSTALLED, index=True, sa_type=enum_column(CameraStatus)
    )
    installed_on: date
    removed_on: date | None = None
    removal_reason: str | None = None
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class CameraRemove(SQLModel):
    removed_on: PastDate
    reason: Reason


class CameraPublic(CameraBase):
    id: UUID
    area_id: UUID
    status: CameraStatus
    installed_on: date
    removed_on: date | None
    removal_reason: str | None
    version: int
