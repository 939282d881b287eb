"""Reporting's incident rules on plain values: the lifecycle's moves and duplicate links."""

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.reporting.incidents.rules import (
    ALLOWED_TRANSITIONS,
    check_has_no_duplicates,
    check_may_become_duplicate,
    check_original,
    check_status_change,
)
from shared.errors import ConflictError, RuleViolationError
from shared.events import IncidentStatus

statuses = st.sampled_from(list(IncidentStatus))
ids = st.uuids()
FINAL = (
    IncidentStatus.RESOLVED,
    IncidentStatus.MEDIATED,
    IncidentStatus.REFERRED,
    IncidentStatus.DISMISSED,
)


def test_the_lifecycle_runs_reported_verified_then_an_outcome():
    incident = uuid.uuid4()
    check_status_change(incident, IncidentStatus.REPORTED, IncidentStatus.VERIFIED, None)
    check_status_change(incident, IncidentStatus.REPORTED, IncidentStatus.DISMISSED, None)
    for outcome in FINAL:
        check_status_change(incident, IncidentStatus.VERIFIED, outcome, None)


def test_an_illegal_move_names_the_legal_ones_and_a_final_status_says_so():
    incident = uuid.uuid4()
    with pytest.raises(ConflictError) as skipped:
        check_status_change(incident, IncidentStatus.REPORTED, IncidentStatus.RESOLVED, None)
    assert skipped.value.message == (
        "cannot move an incident from reported to resolved; allowed: verified, dismissed"
    )
    assert skipped.value.loc == ["body", "status"]
    with pytest.raises(ConflictError) as final:
        check_status_change(incident, IncidentStatus.RESOLVED, IncidentStatus.VERIFIED, None)
    assert final.value.message.endswith("; resolved is final")


@given(current=statuses, target=statuses, incident=ids)
def test_a_move_is_refused_exactly_when_the_lifecycle_does_not_list_it(current, target, incident):
    allowed = target in ALLOWED_TRANSITIONS[current]
    if allowed:
        check_status_change(incident, current, target, None)
    else:
        with pytest.raises(ConflictError):
            check_status_change(incident, current, target, None)


@given(current=statuses)
def test_no_status_moves_back_to_itself_and_outcomes_are_final(current):
    assert current not in ALLOWED_TRANSITIONS[current]
    assert IncidentStatus.REPORTED not in ALLOWED_TRANSITIONS[current]
    if current in FINAL:
        assert ALLOWED_TRANSITIONS[current] == ()


@given(current=statuses, target=statuses, incident=ids, original=ids)
def test_a_duplicate_takes_no_status_change_at_all(current, target, incident, original):
    with pytest.raises(ConflictError) as refused:
        check_status_change(incident, current, target, original)
    assert refused.value.loc == ["path", "incident_id"]
    assert str(original) in refused.value.message


@given(incident=ids, original=ids)
def test_an_incident_is_linked_once_and_never_to_itself(incident, original):
    if incident != original:
        check_may_become_duplicate(incident, None, original)
    with pytest.raises(RuleViolationError):
        check_may_become_duplicate(incident, None, incident)
    with pytest.raises(ConflictError):  # already linked wins over any other complaint
        check_may_become_duplicate(incident, original, incident)


@given(original=ids, its_original=ids)
def test_links_never_chain(original, its_original):
    check_original(original, None)
    with pytest.raises(RuleViolationError) as chained:
        check_original(original, its_original)
    assert chained.value.loc == ["body", "duplicate_of"]
    check_has_no_duplicates(original, repeated=False)
    with pytest.raises(ConflictError):
        check_has_no_duplicates(original, repeated=True)
