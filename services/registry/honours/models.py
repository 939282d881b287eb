"""Honour tables and API schema: awards shown on the recipients' profiles."""

from datetime import date, datetime
from uuid import UUID

from sqlmodel import Field, SQLModel

from services.registry.common import RegistryTable


class Honour(RegistryTable, table=True):
    """An award granted by the awards service, shown on the recipient's profile."""

    award_id: UUID = Field(primary_key=True)
    recipient_id: UUID = Field(index=True)
    award_form: str
    authority: str
    reason: str
    decision_number: str
    granted_on: datetime
    revoked_on: date | None = None
    revocation_reason: str | None = None


class RevokedAward(RegistryTable, table=True):
    """A revocation seen before its grant (topics are not ordered with each other): the
    grant, when it comes, is shown revoked."""

    award_id: UUID = Field(primary_key=True)
    revoked_on: date
    reason: str


class HonourPublic(SQLModel):
    award_id: UUID
    award_form: str
    authority: str
    reason: str
    decision_number: str
    granted_on: datetime
    revoked: bool = False
    revoked_on: date | None = None
    revocation_reason: str | None = None
