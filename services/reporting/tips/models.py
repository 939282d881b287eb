"""Tip tables and schemas: a tip-off with its sealed informant, the receipt a resident
keeps, and what a tip handler reads."""

from datetime import datetime
from uuid import UUID, uuid4

from sqlmodel import Field, SQLModel

from services.reporting.common import PastDatetime, ReportingTable, utcnow
from shared.events import IncidentStatus


class InformantDetails(SQLModel):
    """Who sent a tip: encrypted at rest, shown only to tip handlers, never sent anywhere."""

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    contact: str | None = Field(default=None, min_length=1, max_length=200)


class TipCreate(SQLModel):
    area_id: UUID
    category: str = Field(min_length=1, max_length=64)
    summary: str = Field(min_length=1, max_length=4000)
    occurred_at: PastDatetime
    informant: InformantDetails | None = Field(
        default=None, description="Leave out to stay anonymous"
    )


class TipOff(ReportingTable, table=True):
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    incident_id: UUID = Field(foreign_key="incident.id", unique=True)
    tip_number: str = Field(unique=True, index=True, max_length=32)
    secret_hash: str = Field(max_length=200)
    # Fernet tokens (encrypted with the newest informant key); empty for anonymous tips.
    informant_name: str | None = None
    informant_contact: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class TipReceipt(SQLModel):
    tip_number: str
    secret: str = Field(
        description="Shown once (and to a retry with the same Idempotency-Key): with the "
        "tip number it lets you follow the tip"
    )
    status: IncidentStatus


class TipStatusPublic(SQLModel):
    tip_number: str
    status: IncidentStatus
    received_at: datetime


class InformantPublic(SQLModel):
    incident_id: UUID
    tip_number: str
    anonymous: bool
    full_name: str | None
    contact: str | None
