"""What the API answers of scores: a subject's points with the entries behind them, and
the leaderboards."""

from datetime import date
from uuid import UUID

from sqlmodel import SQLModel

from services.awards.awards.rules import AchievementKind
from services.awards.scores.rules import ScoreSubject


class ScoreEntryPublic(SQLModel):
    rule: str
    points: int
    occurred_on: date
    source_kind: AchievementKind
    source_id: UUID


class ScorePublic(SQLModel):
    subject: ScoreSubject
    subject_id: UUID
    name: str
    area_id: UUID
    period: str
    points: int
    entries: list[ScoreEntryPublic]


class LeaderboardRow(SQLModel):
    rank: int
    subject: ScoreSubject
    subject_id: UUID
    name: str
    area_id: UUID
    points: int


class LeaderboardPublic(SQLModel):
    area_id: UUID
    period: str
    subject: ScoreSubject | None
    rows: list[LeaderboardRow]
