"""Each service's Alembic revisions build exactly the schema its models describe."""

import pytest

from services.awards.models import AwardsTable
from services.registry.models import RegistryTable
from services.reporting.models import ReportingTable
from shared.db import create_engine
from shared.migrations import schema_drift, upgrade_to_head

SERVICES = {"registry": RegistryTable, "reporting": ReportingTable, "awards": AwardsTable}


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_models(service, database_url):
    engine = create_engine(database_url)
    try:
        assert await schema_drift(engine, SERVICES[service].metadata) != []  # empty database
        await upgrade_to_head(engine, service)
        await upgrade_to_head(engine, service)  # a second run is a no-op
        assert await schema_drift(engine, SERVICES[service].metadata) == []
    finally:
        await engine.dispose()
