"""Reporting's tip rules on plain values: tip numbers and follow secrets."""

import re

from hypothesis import given
from hypothesis import strategies as st

from services.reporting.tips.rules import (
    TIP_ALPHABET,
    as_typed_by_handler,
    hash_secret,
    new_secret,
    new_tip_number,
    secret_matches,
)

TIP_NUMBER = re.compile(rf"^T-[{TIP_ALPHABET}]{{4}}-[{TIP_ALPHABET}]{{4}}$")


def test_tip_numbers_are_easy_to_read_out():
    assert not set("0O1I") & set(TIP_ALPHABET)
    numbers = {new_tip_number() for _ in range(200)}
    assert all(TIP_NUMBER.match(number) for number in numbers)
    assert len(numbers) > 190  # 32⁸ of them: repeats are the rare case the service retries


@given(st.from_regex(TIP_NUMBER, fullmatch=True))
def test_a_number_typed_in_either_case_is_the_same_tip(number):
    assert as_typed_by_handler(number.lower()) == number
    assert as_typed_by_handler(number) == number


def test_a_secret_matches_its_own_salted_hash_only():
    # A few examples, not a property: scrypt is slow on purpose.
    secret = "Mật-khẩu 7KQ2"
    stored = hash_secret(secret)
    assert stored.startswith("scrypt$") and secret not in stored
    assert secret_matches(secret, stored)
    assert not secret_matches(secret.lower(), stored)
    assert hash_secret(secret) != stored  # a new salt each time


def test_secrets_are_long_and_fresh():
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50 and all(len(secret) == 24 for secret in secrets)
