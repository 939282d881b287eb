"""Camera rules as plain functions: the funding catalogue and removal dates."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.cameras.rules import CameraStatus, check_funding, check_removal
from shared.errors import ConflictError, RuleViolationError, UnknownReferenceError

# Small examples, a few dozen per property: each test stays well under a second.
QUICK = settings(max_examples=40)

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))


@QUICK
@given(st.text(max_size=12), st.lists(st.text(min_size=1, max_size=12), max_size=5))
def test_funding_comes_from_the_catalogue(funding, catalogue):
    if funding in catalogue:
        check_funding(funding, catalogue)
    else:
        with pytest.raises(UnknownReferenceError) as refused:
            check_funding(funding, catalogue)
        assert refused.value.loc == ["body", "funding"]


@QUICK
@given(days, days)
def test_a_camera_is_removed_on_or_after_its_installation(installed, removing):
    if removing < installed:
        with pytest.raises(RuleViolationError):
            check_removal(CameraStatus.INSTALLED, None, installed, removing)
    else:
        check_removal(CameraStatus.INSTALLED, None, installed, removing)


def test_a_removed_camera_is_not_removed_again():
    day = date(2026, 3, 1)
    with pytest.raises(ConflictError, match="already removed on 2026-03-01"):
        check_removal(CameraStatus.REMOVED, day, day, day)
