"""Activity rules: a record against its type in the catalogue (outcome, topic, incident
link, items and units, whole numbers), and quantities as exact thousandths."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from services.reporting.catalogue.rules import Catalogue
from shared.errors import RuleViolationError, UnknownReferenceError

# Quantities are exact decimals with at most this many places; the database keeps them as
# whole thousandths (an integer), so sums are exact on SQLite and PostgreSQL alike.
QUANTITY_PLACES = 3
QUANTITY_SCALE = 10**QUANTITY_PLACES
MAX_QUANTITY_INT = 1_000_000_000


def from_milli(milli: int) -> Decimal:
    """Thousandths back to an exact decimal, without exponent or trailing zeros."""
    value = Decimal(milli) / QUANTITY_SCALE
    integral = value.to_integral_value()
    return integral if value == integral else value.normalize()


def to_milli(quantity: Decimal) -> int:
    return int(quantity * QUANTITY_SCALE)


class MeasureInput(Protocol):
    @property
    def item(self) -> str: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def quantity(self) -> Decimal: ...


class ActivityInput(Protocol):
    """What the rules read of a new activity (``ActivityCreate``)."""

    @property
    def activity_type(self) -> str: ...
    @property
    def occurred_on(self) -> date: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def topic(self) -> str | None: ...
    @property
    def incident_id(self) -> UUID | None: ...
    @property
    def measures(self) -> Sequence[MeasureInput]: ...


def check_activity(
    command: ActivityInput, catalogue: Catalogue, today: date
) -> list[tuple[str, str, int]]:
    """The activity against the catalogue; its measures as (item, unit, thousandths)."""
    spec = catalogue.activity_types.get(command.activity_type)
    if spec is None:
        raise UnknownReferenceError(
            f"unknown activity type {command.activity_type!r}; one of "
            f"{', '.join(catalogue.activity_types)}",
            ["body", "activity_type"],
        )
    kind = command.activity_type
    if command.occurred_on > today:
        raise RuleViolationError("cannot be in the future", ["body", "occurred_on"])
    if spec.outcomes:
        if command.outcome not in spec.outcomes:
            raise RuleViolationError(
                f"activity type {kind} needs an outcome: one of {', '.join(spec.outcomes)}",
                ["body", "outcome"],
            )
    elif command.outcome is not None:
        raise RuleViolationError(f"activity type {kind} has no outcome", ["body", "outcome"])
    if command.topic is not None and not spec.topic:
        raise RuleViolationError(f"activity type {kind} has no topic", ["body", "topic"])
    if command.incident_id is not None and not spec.incident_link:
        raise RuleViolationError(
            f"activity type {kind} is not linked to an incident", ["body", "incident_id"]
        )
    measures: list[tuple[str, str, int]] = []
    seen: set[tuple[str, str]] = set()
    for index, measure in enumerate(command.measures):
        loc: list[str | int] = ["body", "measures", index]
        fixed_unit = spec.measures.get(measure.item)
        if fixed_unit is not None:
            unit = measure.unit or fixed_unit
            if unit != fixed_unit:
                raise RuleViolationError(
                    f"the unit of {measure.item} ({kind}) is {fixed_unit}", [*loc, "unit"]
                )
        elif spec.free_items:
            if measure.unit is None or measure.unit not in catalogue.units:
                raise RuleViolationError(
                    f"unit must be one of {', '.join(catalogue.units)}", [*loc, "unit"]
                )
            unit = measure.unit
        else:
            raise UnknownReferenceError(
                f"unknown item {measure.item!r} for activity type {kind}; one of "
                f"{', '.join(spec.measures)}",
                [*loc, "item"],
            )
        if unit in catalogue.whole_units and measure.quantity != int(measure.quantity):
            raise RuleViolationError(
                f"{measure.item} must be a whole number (unit {unit})", [*loc, "quantity"]
            )
        if (measure.item, unit) in seen:
            raise RuleViolationError(f"{measure.item} is given twice", [*loc, "item"])
        seen.add((measure.item, unit))
        measures.append((measure.item, unit, to_milli(measure.quantity)))
    return measures
