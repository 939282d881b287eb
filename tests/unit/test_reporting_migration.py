"""Upgrading a reporting database that holds e-ID help recorded under the old items
(``level_1``, ``level_2``) renames them in the records and the statistics tallies:
``level_1`` → ``level_1_activated``, ``level_2`` → ``level_2_collected``."""

import uuid
from datetime import UTC, date, datetime
from typing import Any

from alembic import command
from sqlalchemy import Connection, select

from services.reporting.app import Settings, create_app
from services.reporting.models import (
    Activity,
    ActivityMeasureRow,
    KnownArea,
    MeasureTally,
    ReportingTable,
)
from shared.db import create_engine
from shared.events import AreaLevel
from shared.migrations import alembic_config, schema_drift, upgrade_to_head
from tests.support import running_app, unit_settings

BEFORE = "de79e16f6d6a"  # the last revision with the items level_1 and level_2
EID = "c3902493652d"

WARD = uuid.uuid4()
EID_AUGUST, EID_LATER, OUTREACH = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def table(model: Any) -> Any:
    return model.__table__


def activity(activity_id: uuid.UUID, kind: str, day: date) -> dict[str, Any]:
    return {
        "id": activity_id,
        "area_id": WARD,
        "activity_type": kind,
        "occurred_on": day,
        "recorded_at": datetime(2023, 9, 1, tzinfo=UTC),
        "recorded_by": "officer",
        "version": 1,
    }


def tallies(kind: str, day: date, item: str, milli: int) -> list[dict[str, Any]]:
    """A measure counted in its day and its month, as reporting keeps it."""
    return [
        {
            "area_id": WARD,
            "span": span,
            "bucket": bucket,
            "activity_type": kind,
            "item": item,
            "unit": "people",
            "quantity_milli": milli,
        }
        for span, bucket in (("day", day), ("month", day.replace(day=1)))
    ]


async def test_old_eid_items_take_the_new_names(database_url):
    engine = create_engine(database_url)
    august, later = date(2023, 8, 10), date(2023, 8, 20)
    try:
        async with engine.connect() as connection:

            def migrate_to(revision: str, sync_connection: Connection) -> None:
                command.upgrade(alembic_config("reporting", sync_connection), revision)
                sync_connection.commit()

            await connection.run_sync(lambda sync: migrate_to(BEFORE, sync))
            await connection.execute(
                table(KnownArea).insert(),
                [
                    {
                        "id": WARD,
                        "code": "TH-NS-HH",
                        "name": "Phường Hải Hòa",
                        "level": AreaLevel.WARD,
                        "version": 1,
                        "name_version": 1,
                        "parent_version": 1,
                    }
                ],
            )
            await connection.execute(
                table(Activity).insert(),
                [
                    activity(EID_AUGUST, "eid_assistance", august),
                    activity(EID_LATER, "eid_assistance", later),
                    activity(OUTREACH, "outreach", august),
                ],
            )
            await connection.execute(
                table(ActivityMeasureRow).insert(),
                [
                    {"activity_id": a, "item": item, "unit": "people", "quantity_milli": milli}
                    for a, item, milli in (
                        (EID_AUGUST, "level_1", 287_000),
                        (EID_AUGUST, "level_2", 7_081_000),
                        # Recorded where ops had already configured the new name.
                        (EID_LATER, "level_2_collected", 19_000),
                        # Another type's item of the same name is not e-ID help.
                        (OUTREACH, "level_2", 5_000),
                    )
                ],
            )
            await connection.execute(
                table(MeasureTally).insert(),
                [
                    *tallies("eid_assistance", august, "level_1", 287_000),
                    *tallies("eid_assistance", august, "level_2", 7_081_000),
                    # Same month as August 10's: its month row meets the renamed one.
                    *tallies("eid_assistance", later, "level_2_collected", 19_000),
                    *tallies("outreach", august, "level_2", 5_000),
                ],
            )
            await connection.commit()

            await connection.run_sync(lambda sync: migrate_to(EID, sync))
            measures = await connection.execute(
                select(
                    table(ActivityMeasureRow).c.activity_id,
                    table(ActivityMeasureRow).c.item,
                    table(ActivityMeasureRow).c.quantity_milli,
                )
            )
            assert set(measures.all()) == {
                (EID_AUGUST, "level_1_activated", 287_000),
                (EID_AUGUST, "level_2_collected", 7_081_000),
                (EID_LATER, "level_2_collected", 19_000),
                (OUTREACH, "level_2", 5_000),
            }
            counted = await connection.execute(
                select(
                    table(MeasureTally).c.span,
                    table(MeasureTally).c.bucket,
                    table(MeasureTally).c.activity_type,
                    table(MeasureTally).c.item,
                    table(MeasureTally).c.quantity_milli,
                )
            )
            month = date(2023, 8, 1)
            assert set(counted.all()) == {
                ("day", august, "eid_assistance", "level_1_activated", 287_000),
                ("month", month, "eid_assistance", "level_1_activated", 287_000),
                ("day", august, "eid_assistance", "level_2_collected", 7_081_000),
                ("day", later, "eid_assistance", "level_2_collected", 19_000),
                ("month", month, "eid_assistance", "level_2_collected", 7_100_000),
                ("day", august, "outreach", "level_2", 5_000),
                ("month", month, "outreach", "level_2", 5_000),
            }
        await upgrade_to_head(engine, "reporting")
        assert await schema_drift(engine, ReportingTable.metadata) == []
    finally:
        await engine.dispose()

    # The service reads them under the catalogue's names: records and statistics.
    async with running_app(create_app(unit_settings(Settings, database_url))) as (client, _):
        record = await client.get(f"/activities/{EID_AUGUST}")
        assert record.status_code == 200, record.text
        assert [(m["item"], m["quantity"]) for m in record.json()["measures"]] == [
            ("level_1_activated", "287"),
            ("level_2_collected", "7081"),
        ]
        figures = await client.get(
            "/statistics", params={"area_id": str(WARD), "from": "2023-08-01", "to": "2023-08-31"}
        )
        assert figures.status_code == 200, figures.text
        eid = next(
            figure
            for figure in figures.json()["activities"]
            if figure["activity_type"] == "eid_assistance"
        )
        assert [(m["item"], m["quantity"]) for m in eid["measures"]] == [
            ("level_1_activated", "287"),
            ("level_2_collected", "7100"),
            ("level_2_activated", "0"),
        ]
