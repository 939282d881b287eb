"""The nominations aggregate's rules, on plain values: who a nomination names and where the
recipient belongs."""

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.awards.nominations.rules import (
    Recipient,
    RecipientSource,
    as_nominated,
    check_named_recipient,
)
from shared.errors import RuleViolationError
from shared.events import RecipientKind

names = st.one_of(st.none(), st.text(min_size=1, max_size=20))
areas = st.one_of(st.none(), st.uuids())


@settings(max_examples=50)  # a bound on the run time, not on the property
@given(st.sampled_from(RecipientKind), names, areas)
def test_a_recipient_the_registry_lacks_is_named_and_placed_by_the_request(kind, name, area):
    if name is None:
        with pytest.raises(RuleViolationError) as refused:
            check_named_recipient(kind, name, area)
        assert refused.value.loc == ["body", "recipient_name"]
    elif area is None:
        with pytest.raises(RuleViolationError) as refused:
            check_named_recipient(kind, name, area)
        assert refused.value.loc == ["body", "area_id"]
    else:
        assert check_named_recipient(kind, name, area) == (name, area)


@settings(max_examples=50)  # a bound on the run time, not on the property
@given(st.sampled_from(RecipientSource), st.uuids(), areas, names)
def test_a_registry_recipient_keeps_its_own_area(source, own_area, given_area, given_name):
    found = Recipient(source, uuid.uuid4(), "Tổ an ninh số 3", own_area)
    if given_area is not None and given_area != own_area:
        with pytest.raises(RuleViolationError, match="recipient's own area"):
            as_nominated(found, given_name, given_area)
        return
    nominated = as_nominated(found, given_name, given_area)
    assert (nominated.source, nominated.id, nominated.area_id) == (source, found.id, own_area)
    assert nominated.name == (given_name or found.name)
