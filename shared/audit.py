"""The audit trail: every change made through the API records who, what and when, in the
same transaction as the change. Append-only: nothing in the code updates or deletes it."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, select
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import execute, shared_table
from shared.logging import current_correlation_id
from shared.paging import Page


def audit_table(metadata: MetaData) -> Table:
    return shared_table(
        metadata,
        "audit_entry",
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("recorded_at", DateTime(timezone=True), nullable=False, index=True),
        Column("subject", String(200), nullable=False, index=True),
        Column("role", String(32), nullable=False),
        Column("action", String(64), nullable=False, index=True),
        Column("object_type", String(64), nullable=False),
        Column("object_id", String(64), nullable=False, index=True),
        Column("area_id", String(36), nullable=True),
        Column("correlation_id", String(64), nullable=True),
    )


class AuditEntryPublic(SQLModel):
    id: int
    recorded_at: datetime
    subject: str
    role: str
    action: str
    object_type: str
    object_id: str
    area_id: str | None
    correlation_id: str | None


class AuditTrail:
    def __init__(self, metadata: MetaData) -> None:
        self.table = audit_table(metadata)
        # One statement, its values passed as parameters: built once, compiled once.
        self._insert = self.table.insert()

    async def record(
        self,
        session: AsyncSession,
        principal: Principal,
        action: str,
        object_type: str,
        object_id: UUID | str,
        area_id: UUID | None = None,
    ) -> None:
        await execute(
            session,
            self._insert,
            [
                {
                    "recorded_at": datetime.now(UTC),
                    "subject": principal.subject,
                    "role": principal.role.value,
                    "action": action,
                    "object_type": object_type,
                    "object_id": str(object_id),
                    "area_id": str(area_id) if area_id else None,
                    "correlation_id": current_correlation_id(),
                }
            ],
        )

    async def entries(
        self,
        session: AsyncSession,
        *,
        offset: int,
        limit: int,
        subject: str | None = None,
        action: str | None = None,
        object_id: str | None = None,
    ) -> Page[AuditEntryPublic]:
        """One page of entries, newest first, with how many match in all."""
        query: Any = select(self.table)
        for column, value in (("subject", subject), ("action", action), ("object_id", object_id)):
            if value is not None:
                query = query.where(self.table.c[column] == value)
        count = await execute(session, select(func.count()).select_from(query.subquery()))
        rows = await execute(
            session, query.order_by(self.table.c.id.desc()).offset(offset).limit(limit)
        )
        return Page(
            [AuditEntryPublic.model_validate(dict(row)) for row in rows.mappings().all()],
            int(count.scalar_one()),
        )
