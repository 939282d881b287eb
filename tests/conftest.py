from collections.abc import Iterator

import pytest

from tests.postgres import PostgresServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for the PostgreSQL cluster is marked ``postgresql``, so ``make unit``
    (``-m "not postgresql"``) runs without one; the ``postgresql`` half of ``database_url``
    is marked where that fixture is defined."""
    for item in items:
        if "postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgresql)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.stop()
