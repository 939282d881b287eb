"""When scores suggest a nomination: the configured thresholds (``ANTT_SUGGESTION_THRESHOLDS``),
which of them a period's total reaches, and whom a suggestion nominates."""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from pydantic import Field

from services.awards.awards.rules import CatalogueEntry
from services.awards.scores.rules import Granularity, Period, ScoreSubject
from shared.events import RecipientKind

RECIPIENT_KIND = {
    ScoreSubject.PERSON: RecipientKind.INDIVIDUAL,
    ScoreSubject.TEAM: RecipientKind.COLLECTIVE,
    ScoreSubject.AREA: RecipientKind.COLLECTIVE,
}


class SuggestionThreshold(CatalogueEntry):
    """When a recipient's points in one period reach ``points``, suggest this award."""

    points: int = Field(ge=1)
    award_form: str
    authority: str


DEFAULT_THRESHOLDS = [
    SuggestionThreshold(points=20, award_form="giay_khen", authority="ward_committee"),
    SuggestionThreshold(points=100, award_form="giay_khen", authority="provincial_police"),
]


def reached(total: int, thresholds: Sequence[SuggestionThreshold]) -> Iterator[SuggestionThreshold]:
    """The thresholds (sorted by points, lowest first) a period's ``total`` has reached."""
    for threshold in thresholds:
        if total < threshold.points:
            break
        yield threshold


def acceptance_reason(points: int, period: str, threshold: int) -> str:
    """The nomination's reason when the officer accepting a suggestion gives none."""
    return f"Đạt {points} điểm thi đua kỳ {period} (ngưỡng {threshold} điểm)"


@dataclass(frozen=True)
class Touched:
    subject: ScoreSubject
    subject_id: UUID
    day: date


@dataclass(frozen=True)
class Scored:
    """Points an event just gave a subject (0 if they do not count: void)."""

    touched: Touched
    points: int


def period_key(touched: Touched, granularity: Granularity) -> tuple[ScoreSubject, UUID, str]:
    return (
        touched.subject,
        touched.subject_id,
        Period.containing(touched.day, granularity).code,
    )


def unique_periods(
    touched: Iterable[Touched], granularity: Granularity
) -> Iterator[tuple[ScoreSubject, UUID, Period]]:
    """Each subject and period touched, once, in the order first touched."""
    seen: set[tuple[ScoreSubject, UUID, str]] = set()
    for item in touched:
        period = Period.containing(item.day, granularity)
        key = (item.subject, item.subject_id, period.code)
        if key not in seen:
            seen.add(key)
            yield item.subject, item.subject_id, period
