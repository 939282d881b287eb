"""Safe-area certifications: registrations, their evaluations, and the API's schemas."""

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.awards.common import AwardsTable, utcnow
from shared.events import CriterionResult


class Certification(AwardsTable, table=True):
    """An area registered for the yearly safe-area certification."""

    __table_args__ = (UniqueConstraint("area_id", "year", name="uq_certification_year"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    area_id: UUID = Field(index=True)
    year: int
    registered_at: datetime = Field(default_factory=utcnow)
    evaluations: int = 0


class CertificationEvaluation(AwardsTable, table=True):
    __table_args__ = (UniqueConstraint("certification_id", "evaluation", name="uq_evaluation"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    certification_id: UUID = Field(foreign_key="certification.id", index=True)
    evaluation: int
    certified: bool
    criteria: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    decided_at: datetime = Field(default_factory=utcnow)
    reason: str | None = Field(default=None, max_length=4000)


class CertificationCreate(SQLModel):
    area_id: UUID
    year: int = Field(ge=2000, le=2100)


class EvaluationCreate(SQLModel):
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        description="Required to re-evaluate: why the decision is taken again",
    )


class EvaluationPublic(SQLModel):
    evaluation: int
    certified: bool
    criteria: list[CriterionResult]
    decided_at: datetime
    reason: str | None


class CertificationPublic(SQLModel):
    id: UUID
    area_id: UUID
    year: int
    registered_at: datetime
    decision: EvaluationPublic | None = Field(description="The latest evaluation")
    stale: bool = Field(
        description="Events that arrived since the latest decision change its inputs: "
        "re-evaluate to take them into account"
    )
    current: list[CriterionResult] | None = Field(
        description="What the criteria show now, when that differs from the decision"
    )
    history: list[EvaluationPublic]
