"""Statistics rules on plain values: days and months in the statistics' calendar, periods
and the same dates a year earlier, the arithmetic as the press does it, and which tallied
incidents count in which figure."""

import calendar
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.reporting.catalogue.rules import ActivityKind
from shared.errors import RuleViolationError
from shared.events import IncidentStatus

DAY, MONTH = "day", "month"
# Tally status of an incident linked as a duplicate: counted apart, in no other figure.
DUPLICATE = "duplicate"
SOLVED = (IncidentStatus.RESOLVED, IncidentStatus.MEDIATED, IncidentStatus.REFERRED)
# Dismissed reports proved false or not an incident: listed by status, counted nowhere else.
NOT_COUNTED = (IncidentStatus.DISMISSED.value, DUPLICATE)

# A sum of a tally: (0 for the period or 1 for a year earlier, key values, sum).
Sum = tuple[int, tuple[Any, ...], int]


# --- buckets and periods ----------------------------------------------------------------


def local_day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def buckets(day: date) -> list[tuple[str, date]]:
    """Every record is counted in its day and in its month."""
    return [(DAY, day), (MONTH, day.replace(day=1))]


def year_earlier(day: date) -> date:
    """The same date a year earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period_parts(start: date, end: date) -> list[tuple[str, date, date]]:
    """Tally ranges that make up [start, end] exactly: month rows for the whole months
    inside, day rows for the days before the first and after the last whole month."""
    first_full = start if start.day == 1 else month_end(start) + timedelta(days=1)
    last_full_end = end if end == month_end(end) else end.replace(day=1) - timedelta(days=1)
    if first_full > last_full_end:
        return [(DAY, start, end)]
    parts = [(MONTH, first_full, last_full_end.replace(day=1))]
    if start < first_full:
        parts.append((DAY, start, first_full - timedelta(days=1)))
    if last_full_end < end:
        parts.append((DAY, last_full_end + timedelta(days=1), end))
    return parts


@dataclass(frozen=True)
class Periods:
    start: date
    end: date

    @property
    def previous(self) -> "Periods":
        return Periods(year_earlier(self.start), year_earlier(self.end))


MAX_PERIOD_DAYS = 366 * 20


def check_period(start: date | None, end: date | None, loc: str = "query") -> None:
    if start is not None and end is not None:
        if end < start:
            raise RuleViolationError("must not be before from", [loc, "to"])
        if (end - start).days > MAX_PERIOD_DAYS:
            raise RuleViolationError("the period may span at most 20 years", [loc, "to"])


# --- rolling up along the area tree ---------------------------------------------------------


def roll_up(
    counts: Mapping[tuple[Any, ...], int], chains: Mapping[Any, Sequence[Any]]
) -> Counter[tuple[Any, ...]]:
    """Counts keyed (area, day, *keys) as tally rows keyed (area, span, bucket, *keys):
    each in its area and every area above it (``chains``: each area's, nearest first), in
    its day and its month."""
    rolled: Counter[tuple[Any, ...]] = Counter()
    for (area_id, day, *keys), count in counts.items():
        for area in chains[area_id]:
            for span, bucket in buckets(day):
                rolled[(area, span, bucket, *keys)] += count
    return rolled


def moved_counts(
    area_id: Any, old_chain: Sequence[Any], new_chain: Sequence[Any]
) -> list[tuple[Any, int]]:
    """Where an area's rolled-up counts go when it moves from under ``old_chain`` to under
    ``new_chain``: (ancestor, −1) for those it leaves, (ancestor, +1) for those it joins;
    common ancestors keep them. Nothing moves on a cycle (a faulty feed)."""
    if area_id in old_chain or area_id in new_chain:
        return []  # a cycle from a faulty feed: leave the counts where they are
    return [(target, -1) for target in old_chain if target not in new_chain] + [
        (target, +1) for target in new_chain if target not in old_chain
    ]


def tallied_status(status: str, duplicate_of: Any) -> str:
    """The status an incident is tallied under: a duplicate is counted apart."""
    return DUPLICATE if duplicate_of is not None else status


# --- arithmetic as the press does it ------------------------------------------------------


def percent_change(current: int | Decimal, previous: int | Decimal) -> int | None:
    """(current − previous) / previous, as a whole percent rounded half away from zero
    (18 → 5 is −72); None when there is nothing earlier to compare with."""
    if previous == 0:
        return None
    ratio = (Decimal(current) - Decimal(previous)) * 100 / Decimal(previous)
    return int(ratio.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def share_percent(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# --- what counts where --------------------------------------------------------------------
# Counts come in pairs: [in the period, a year earlier].


@dataclass(frozen=True)
class IncidentCounts:
    total: list[int]
    solved: list[int]
    by_group: dict[str, list[int]]
    by_category: dict[str, tuple[str, list[int]]]  # category → (its group, counts)
    by_status: dict[str, list[int]]
    duplicates: list[int]


def count_incidents(found: Iterable[Sum], category_groups: Mapping[str, str]) -> IncidentCounts:
    """Tallied incidents by (group, category, status) into the figures: every configured
    group, category and status is shown (0 if none); dismissed and duplicate incidents are
    listed by status only; solved are those resolved, mediated or referred."""
    groups: dict[str, list[int]] = {group: [0, 0] for group in category_groups.values()}
    categories: dict[str, list[Any]] = {
        category: [group, 0, 0] for category, group in category_groups.items()
    }
    statuses: dict[str, list[int]] = {status.value: [0, 0] for status in IncidentStatus}
    statuses[DUPLICATE] = [0, 0]
    for period, (group, category, status), count in found:
        statuses.setdefault(status, [0, 0])[period] += count
        if status in NOT_COUNTED:
            continue
        groups.setdefault(group, [0, 0])[period] += count
        categories.setdefault(category, [group, 0, 0])[period + 1] += count
    total = [sum(v[0] for v in groups.values()), sum(v[1] for v in groups.values())]
    solved = [sum(statuses[s.value][i] for s in SOLVED) for i in (0, 1)]
    duplicates = statuses.pop(DUPLICATE)
    return IncidentCounts(
        total=total,
        solved=solved,
        by_group=groups,
        by_category={key: (v[0], [v[1], v[2]]) for key, v in categories.items()},
        by_status=statuses,
        duplicates=duplicates,
    )


@dataclass(frozen=True)
class ActivityCounts:
    activity_type: str
    activities: list[int]
    outcomes: dict[str, list[int]]  # "" (no outcome) left out
    measures: dict[tuple[str, str], list[int]]  # (item, unit) → thousandths


def count_activities(
    records: Iterable[Sum], quantities: Iterable[Sum], activity_types: Mapping[str, ActivityKind]
) -> list[ActivityCounts]:
    """Tallied activities by (type, outcome) and quantities by (type, item, unit), per
    type: every configured type, outcome and fixed item is shown (0 if none), in the
    catalogue's order, then types no longer configured by name."""
    by_outcome: dict[str, dict[str, list[int]]] = {kind: {} for kind in activity_types}
    by_item: dict[str, dict[tuple[str, str], list[int]]] = {kind: {} for kind in activity_types}
    for kind, spec in activity_types.items():
        for outcome in spec.outcomes:
            by_outcome[kind][outcome] = [0, 0]
        for item, unit in spec.measures.items():
            by_item[kind][(item, unit)] = [0, 0]
    for period, (kind, outcome), total in records:
        by_outcome.setdefault(kind, {}).setdefault(outcome, [0, 0])[period] += total
    for period, (kind, item, unit), total in quantities:
        by_item.setdefault(kind, {}).setdefault((item, unit), [0, 0])[period] += total
    counts = []
    for kind in by_outcome.keys() | by_item.keys():
        outcomes = by_outcome.get(kind, {})
        counts.append(
            ActivityCounts(
                activity_type=kind,
                activities=[
                    sum(v[0] for v in outcomes.values()),
                    sum(v[1] for v in outcomes.values()),
                ],
                outcomes={outcome: v for outcome, v in outcomes.items() if outcome},
                measures=by_item.get(kind, {}),
            )
        )
    order = {kind: index for index, kind in enumerate(activity_types)}
    counts.sort(key=lambda c: (order.get(c.activity_type, len(order)), c.activity_type))
    return counts
