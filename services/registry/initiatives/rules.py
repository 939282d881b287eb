"""Initiative rules: when an initiative ran, and the dates a stop, relaunch or result may have."""

from collections.abc import Iterable
from datetime import date
from enum import StrEnum

from shared.errors import ConflictError, RuleViolationError


class InitiativeStatus(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"


def ran_on(periods: Iterable[tuple[date, date | None]], day: date) -> bool:
    """Whether ``day`` falls in one of the runs (launched on, stopped on or None: running)."""
    return any(
        launched <= day and (stopped is None or day <= stopped) for launched, stopped in periods
    )


def check_result_date(
    recorded_on: date, launched_on: date, periods: Iterable[tuple[date, date | None]]
) -> None:
    """A result is recorded on a day the initiative ran (the current run, or an earlier one)."""
    if recorded_on < launched_on and not ran_on(periods, recorded_on):
        raise RuleViolationError(
            "recorded_on is before the initiative was launched", ["body", "recorded_on"]
        )


def check_stop(
    status: InitiativeStatus, stopped_on: date | None, launched_on: date, stopping_on: date
) -> None:
    if status is InitiativeStatus.STOPPED:
        raise ConflictError(
            f"initiative was already stopped on {stopped_on}", ["path", "initiative_id"]
        )
    if stopping_on < launched_on:
        raise RuleViolationError(
            f"stopped_on is before the launch ({launched_on})", ["body", "stopped_on"]
        )


def check_relaunch(status: InitiativeStatus, stopped_on: date | None, launching_on: date) -> None:
    if status is InitiativeStatus.RUNNING:
        raise ConflictError("initiative is running", ["path", "initiative_id"])
    assert stopped_on is not None  # a stopped initiative has its stop date
    if launching_on < stopped_on:
        raise RuleViolationError(
            f"launched_on is before the last stop ({stopped_on})", ["body", "launched_on"]
        )
