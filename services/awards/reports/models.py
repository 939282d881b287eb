"""The campaign report's schemas (no table: it counts awards)."""

from datetime import date
from uuid import UUID

from sqlmodel import SQLModel


class ReportRow(SQLModel):
    authority: str
    authority_name: str
    authority_level: str
    individuals: int
    collectives: int
    households: int
    total: int


class AwardsReport(SQLModel):
    area_id: UUID
    campaign: str | None
    granted_from: date | None
    granted_to: date | None
    rows: list[ReportRow]
    individuals: int
    collectives: int
    households: int
    total: int
