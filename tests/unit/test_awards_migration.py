"""Upgrading a database that already holds awards keeps them and fills the new columns."""

import uuid
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from services.awards.models import AwardsTable
from shared.db import create_engine
from shared.migrations import alembic_config, schema_drift, upgrade_to_head

INITIAL = "44c9069231ad"


async def test_existing_awards_survive_the_upgrade(database_url):
    engine = create_engine(database_url)
    postgres = database_url.startswith("postgresql")
    # As the Uuid and DateTime types store them: native on PostgreSQL, text on SQLite.
    ids = [uuid.uuid4() for _ in range(4)]
    team, area, nomination, award = ids if postgres else [i.hex for i in ids]
    granted = datetime(2023, 8, 19, tzinfo=UTC) if postgres else "2023-08-19 00:00:00.000000"
    try:
        async with engine.connect() as connection:

            def initial(sync_connection):
                command.upgrade(alembic_config("awards", sync_connection), INITIAL)
                sync_connection.commit()

            await connection.run_sync(initial)
            for statement, values in (
                (
                    "INSERT INTO knownteam (id, area_id, name, version) VALUES (:t, :a, 'Tổ', 1)",
                    {},
                ),
                (
                    "INSERT INTO knownarea (id, code, name, version) VALUES (:a, 'W', 'W', 3)",
                    {},
                ),
                (
                    "INSERT INTO nomination (recipient_kind, recipient_id, recipient_name, "
                    "award_form, authority, reason, id, area_id, status, created_at) VALUES "
                    "('collective', :t, 'Tổ', 'giay_khen', 'city_police', 'r', :n, :a, "
                    "'approved', :d)",
                    {},
                ),
                (
                    "INSERT INTO award (recipient_kind, recipient_id, recipient_name, award_form, "
                    "authority, reason, decision_number, granted_on, id, nomination_id, area_id, "
                    "version) VALUES ('collective', :t, 'Tổ', 'giay_khen', 'city_police', 'r', "
                    "'1/QĐ', :d, :w, :n, :a, 1)",
                    {},
                ),
            ):
                params = {"t": team, "a": area, "n": nomination, "w": award, "d": granted}
                used = {k: v for k, v in params.items() if f":{k}" in statement}
                await connection.execute(text(statement), {**used, **values})
            await connection.commit()

        await upgrade_to_head(engine, "awards")
        assert await schema_drift(engine, AwardsTable.metadata) == []
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT recipient_source, authority_level, award_kind, status, "
                        "achievements FROM award"
                    )
                )
            ).one()
            assert tuple(row[:4]) == ("team", "province", "regular", "active")
            assert row[4] in ([], "[]")
            version = (await connection.execute(text("SELECT version FROM nomination"))).scalar()
            assert version == 2
            parent_version = (
                await connection.execute(text("SELECT parent_version FROM knownarea"))
            ).scalar()
            assert parent_version == 3
    finally:
        await engine.dispose()


async def test_monthly_totals_are_filled_from_the_points_already_scored(database_url):
    engine = create_engine(database_url)
    postgres = database_url.startswith("postgresql")
    team, area = uuid.uuid4(), uuid.uuid4()
    stored = (lambda value: value) if postgres else (lambda value: value.hex)
    entries = [  # (day, points, voided)
        ("2025-08-02", 5, False),
        ("2025-08-30", 3, False),
        ("2025-08-15", 7, True),  # a duplicate's points: void, not counted
        ("2025-09-01", 2, False),
    ]
    try:
        async with engine.connect() as connection:

            def before(sync_connection):
                command.upgrade(alembic_config("awards", sync_connection), "cba3671b7a38")
                sync_connection.commit()

            await connection.run_sync(before)
            for day, points, voided in entries:
                await connection.execute(
                    text(
                        "INSERT INTO scoreentry (id, subject, subject_id, area_id, occurred_on, "
                        "points, rule, source_kind, source_id, event_id, voided, created_at) "
                        "VALUES (:id, 'team', :team, :area, :day, :points, 'r', 'incident', "
                        ":source, 'e', :voided, :now)"
                    ),
                    {
                        "id": stored(uuid.uuid4()),
                        "team": stored(team),
                        "area": stored(area),
                        "day": datetime.fromisoformat(day).date() if postgres else day,
                        "points": points,
                        "source": stored(uuid.uuid4()),
                        "voided": voided,
                        "now": datetime(2025, 9, 2, tzinfo=UTC) if postgres else "2025-09-02",
                    },
                )
            await connection.commit()

        await upgrade_to_head(engine, "awards")
        assert await schema_drift(engine, AwardsTable.metadata) == []
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT subject, month, points FROM scoremonth ORDER BY month")
            )
            assert [tuple(row) for row in rows] == [("team", "2025-08", 8), ("team", "2025-09", 2)]
    finally:
        await engine.dispose()
