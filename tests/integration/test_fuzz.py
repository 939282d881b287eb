"""Schemathesis against each service's own OpenAPI document, on the real processes,
authenticated as an admin and as an officer: no 5xx, and every answer matches its
documented status codes, content type and schema."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.auth import Role
from tests.support import bearer

pytestmark = pytest.mark.integration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CALLERS = {"admin": bearer(Role.ADMIN), "officer": bearer(Role.OFFICER, "FUZZ-WARD")}
EXAMPLES_PER_OPERATION = 25


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("service", ["registry", "reporting", "awards"])
def test_api_answers_as_documented(stack, service, caller):
    schema = schemathesis.openapi.from_url(f"{stack.url(service)}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,  # the same cases every run: a failure reproduces
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=CALLERS[caller], checks=CHECKS)

        answers_as_documented()
