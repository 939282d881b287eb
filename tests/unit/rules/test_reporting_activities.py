"""Reporting's activity rules on plain values: a record against its catalogue type, and
quantities as exact thousandths."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.reporting.activities.rules import (
    MAX_QUANTITY_INT,
    QUANTITY_PLACES,
    check_activity,
    from_milli,
    to_milli,
)
from services.reporting.catalogue.rules import Catalogue
from shared.errors import RuleViolationError, UnknownReferenceError
from shared.events import AreaLevel

TODAY = date(2024, 6, 1)


@dataclass(frozen=True)
class Kind:
    measures: dict[str, str] = field(default_factory=dict)
    free_items: bool = False
    outcomes: list[str] = field(default_factory=list)
    topic: bool = False
    incident_link: bool = False


@dataclass(frozen=True)
class Measure:
    item: str
    quantity: Decimal
    unit: str | None = None


@dataclass(frozen=True)
class Record:
    activity_type: str
    measures: list[Measure]
    occurred_on: date = TODAY
    outcome: str | None = None
    topic: str | None = None
    incident_id: uuid.UUID | None = None


CATALOGUE = Catalogue(
    category_groups={},
    activity_types={
        "training": Kind({"sessions": "count", "participants": "people"}, topic=True),
        "mediation": Kind({"cases": "count"}, outcomes=["successful", "unsuccessful"]),
        "weapons_handover": Kind(free_items=True),
        "footage_extraction": Kind({"extractions": "count"}, incident_link=True),
    },
    units=["piece", "kg"],
    whole_units=["count", "people", "piece"],
    area_levels=[AreaLevel.WARD],
    zone=UTC,
    zone_name="UTC",
)


def refused(record: Record) -> tuple[type, list[str | int]]:
    with pytest.raises((RuleViolationError, UnknownReferenceError)) as error:
        check_activity(record, CATALOGUE, TODAY)
    return type(error.value), error.value.loc


def test_fixed_items_take_their_unit_and_come_back_in_thousandths():
    record = Record(
        "training",
        [Measure("sessions", Decimal(2)), Measure("participants", Decimal(40), "people")],
        topic="fire safety",
    )
    assert check_activity(record, CATALOGUE, TODAY) == [
        ("sessions", "count", 2000),
        ("participants", "people", 40000),
    ]
    assert refused(Record("training", [Measure("sessions", Decimal(1), "people")])) == (
        RuleViolationError,
        ["body", "measures", 0, "unit"],
    )
    assert refused(Record("training", [Measure("weapons", Decimal(1))])) == (
        UnknownReferenceError,
        ["body", "measures", 0, "item"],
    )


def test_free_items_name_a_configured_unit_and_whole_units_take_whole_numbers():
    record = Record("weapons_handover", [Measure("explosives", Decimal("1.5"), "kg")])
    assert check_activity(record, CATALOGUE, TODAY) == [("explosives", "kg", 1500)]
    assert refused(Record("weapons_handover", [Measure("guns", Decimal(1))]))[1][-1] == "unit"
    half_gun = Record("weapons_handover", [Measure("guns", Decimal("0.5"), "piece")])
    assert refused(half_gun)[1][-1] == "quantity"
    twice = [Measure("guns", Decimal(1), "piece"), Measure("guns", Decimal(2), "piece")]
    assert refused(Record("weapons_handover", twice)) == (
        RuleViolationError,
        ["body", "measures", 1, "item"],
    )


def test_the_type_decides_outcome_topic_incident_link_and_date():
    cases = [Measure("cases", Decimal(1))]
    assert check_activity(Record("mediation", cases, outcome="successful"), CATALOGUE, TODAY)
    assert refused(Record("mediation", cases))[1] == ["body", "outcome"]
    assert refused(Record("mediation", cases, outcome="maybe"))[1] == ["body", "outcome"]
    sessions = [Measure("sessions", Decimal(1))]
    assert refused(Record("training", sessions, outcome="successful"))[1] == ["body", "outcome"]
    assert refused(Record("mediation", cases, outcome="successful", topic="x"))[1] == [
        "body",
        "topic",
    ]
    linked = Record("footage_extraction", [Measure("extractions", Decimal(1))])
    assert check_activity(
        Record(**{**linked.__dict__, "incident_id": uuid.uuid4()}), CATALOGUE, TODAY
    )
    assert refused(Record("training", sessions, incident_id=uuid.uuid4()))[1] == [
        "body",
        "incident_id",
    ]
    tomorrow = date(2024, 6, 2)
    assert refused(Record("training", sessions, occurred_on=tomorrow))[1] == [
        "body",
        "occurred_on",
    ]
    unknown_type = refused(Record("dancing", sessions))
    assert unknown_type == (UnknownReferenceError, ["body", "activity_type"])


quantities = st.decimals(
    min_value=Decimal("0.001"),
    max_value=Decimal(MAX_QUANTITY_INT),
    places=QUANTITY_PLACES,
    allow_nan=False,
    allow_infinity=False,
)


@given(quantities)
def test_quantities_round_trip_through_thousandths(quantity):
    milli = to_milli(quantity)
    assert isinstance(milli, int)
    assert from_milli(milli) == quantity
    assert "E" not in str(from_milli(milli))  # no exponent in JSON or CSV


@given(st.integers(min_value=0, max_value=MAX_QUANTITY_INT * 1000))
def test_thousandths_read_back_exactly(milli):
    assert to_milli(from_milli(milli)) == milli
