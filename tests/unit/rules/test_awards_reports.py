"""The campaign report's rules, on plain values: the period asked for, the tally by
authority and kind of recipient, and CSV a spreadsheet opens safely."""

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.awards.reports.rules import (
    CSV_COLUMNS,
    FORMULA_START,
    Tally,
    check_period,
    csv_cell,
    report_csv,
    tally,
)
from shared.errors import RuleViolationError
from shared.events import RecipientKind

ORDER = ["ministry_of_public_security", "provincial_police", "ward_committee"]
keys = st.tuples(
    st.sampled_from([*ORDER, "zz_other", "aa_other"]),
    st.sampled_from(["ward", "district"]),
    st.sampled_from(RecipientKind),
)
counted = st.dictionaries(keys, st.integers(min_value=1, max_value=50), max_size=12).map(Counter)


@settings(max_examples=50)  # a bound on the run time, not on the property
@given(counted)
def test_the_tally_counts_every_award_once(counts):
    rows = tally(counts, ORDER)
    assert sum(row.total for row in rows) == sum(counts.values())
    for row in rows:
        assert row.total == row.individuals + row.collectives + row.households
    assert len({(row.authority, row.authority_level) for row in rows}) == len(rows)


@settings(max_examples=50)  # a bound on the run time, not on the property
@given(counted)
def test_the_tally_lists_authorities_in_the_catalogue_s_order_then_the_others(counts):
    rows = tally(counts, ORDER)
    rank = [ORDER.index(r.authority) if r.authority in ORDER else len(ORDER) for r in rows]
    assert rank == sorted(rank)


@given(st.text(max_size=10))
def test_no_cell_reads_as_a_formula(text):
    cell = csv_cell(text)
    assert not str(cell).startswith(FORMULA_START)
    assert str(cell).removeprefix("'") == text or cell == text


def test_numbers_are_left_as_they_are():
    assert csv_cell(12) == 12


@dataclass
class Report:
    rows: list[Tally]
    individuals: int = 0
    collectives: int = 0
    households: int = 0
    total: int = 0


@dataclass(frozen=True)
class Row(Tally):
    authority_name: str = field(default="")


def test_the_csv_has_a_row_per_authority_and_a_total_row():
    row = Row("=cmd", "ward", 1, 2, 3, 6, authority_name="+name")
    text = report_csv(Report([row], 1, 2, 3, 6))
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == CSV_COLUMNS
    assert lines[1] == ["'=cmd", "'+name", "ward", "1", "2", "3", "6"]
    assert lines[2] == ["total", "", "", "1", "2", "3", "6"]
    assert text.endswith("\r\n")


@given(st.dates(), st.dates())
def test_a_period_does_not_end_before_it_starts(start, end):
    if start > end:
        with pytest.raises(RuleViolationError, match="granted_from"):
            check_period(start, end)
    else:
        check_period(start, end)
    check_period(start, None)
    check_period(None, date(2020, 1, 1))
