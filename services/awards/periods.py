"""Dates as a ward counts them: Vietnam's calendar day (UTC+7), years, quarters, months."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Literal

from shared.errors import RuleViolationError

VIETNAM = timezone(timedelta(hours=7), "ICT")
Granularity = Literal["year", "quarter", "month"]
PERIOD_PATTERN = re.compile(
    r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2])))?$"
)


def local_date(moment: datetime) -> date:
    """The calendar day in Vietnam of an instant (naive values are UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(VIETNAM).date()


def today() -> date:
    return datetime.now(VIETNAM).date()


def day_start(day: date) -> datetime:
    """The instant a Vietnamese calendar day begins."""
    return datetime.combine(day, time(), tzinfo=VIETNAM)


@dataclass(frozen=True)
class Period:
    code: str
    start: date
    end: date  # inclusive

    @classmethod
    def parse(cls, code: str, loc: list[str | int]) -> "Period":
        """``2023`` (a year), ``2023-Q3`` (a quarter) or ``2023-08`` (a month)."""
        match = PERIOD_PATTERN.match(code)
        if match is None:
            raise RuleViolationError(
                "period is a year (2023), a quarter (2023-Q3) or a month (2023-08)", loc
            )
        year = int(match["year"])
        if match["quarter"]:
            first = (int(match["quarter"]) - 1) * 3 + 1
            return cls(code, date(year, first, 1), _month_end(year, first + 2))
        if match["month"]:
            month = int(match["month"])
            return cls(code, date(year, month, 1), _month_end(year, month))
        return cls(code, date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def containing(cls, day: date, granularity: Granularity) -> "Period":
        if granularity == "year":
            code = f"{day.year}"
        elif granularity == "quarter":
            code = f"{day.year}-Q{(day.month - 1) // 3 + 1}"
        else:
            code = f"{day.year}-{day.month:02d}"
        return cls.parse(code, [])

    @classmethod
    def year(cls, year: int) -> "Period":
        return cls(str(year), date(year, 1, 1), date(year, 12, 31))


def _month_end(year: int, month: int) -> date:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return following - timedelta(days=1)
