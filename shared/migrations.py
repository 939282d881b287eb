"""Alembic, driven from code: each service keeps its revisions in
``services/<name>/migrations`` and upgrades its own database to head before it serves."""

import asyncio
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.audit import audit_table
from shared.inbox import inbox_table
from shared.outbox import outbox_table
from shared.settings import PROJECT_ROOT

# Replicas that start together must not run the same migration twice (PostgreSQL only).
ADVISORY_LOCK_ID = 0x414E5454  # "ANTT"


def define_shared_tables(metadata: MetaData) -> None:
    """The outbox, inbox and audit trail live in every service's database beside its own."""
    outbox_table(metadata)
    inbox_table(metadata)
    audit_table(metadata)


def alembic_config(service: str, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir(service)))
    config.set_main_option("version_table", "alembic_version")
    config.attributes["connection"] = connection
    return config


def migrations_dir(service: str) -> Path:
    return PROJECT_ROOT / "services" / service / "migrations"


def _upgrade(connection: Connection, service: str) -> None:
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": ADVISORY_LOCK_ID})
        connection.commit()
    try:
        command.upgrade(alembic_config(service, connection), "head")
        connection.commit()
    finally:
        if postgres:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK_ID})
            connection.commit()


async def upgrade_to_head(engine: AsyncEngine, service: str) -> None:
    async with engine.connect() as connection:
        await connection.run_sync(_upgrade, service)


def run_environment(target_metadata: MetaData) -> None:
    """The body of every service's ``env.py``: migrate on the connection handed over by
    ``upgrade_to_head``, or on a URL given to the ``alembic`` command (``-x url=...``)."""
    define_shared_tables(target_metadata)
    connection: Connection | None = context.config.attributes.get("connection")
    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "render_as_batch": True,  # SQLite alters tables by copying them
        "compare_type": True,
    }
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the database URL: alembic ... -x url=sqlite+aiosqlite:///file.db")
    from shared.db import create_engine

    async def run_online() -> None:
        engine = create_engine(url)
        async with engine.connect() as async_connection:

            def migrate(sync_connection: Connection) -> None:
                context.configure(connection=sync_connection, **options)
                with context.begin_transaction():
                    context.run_migrations()

            await async_connection.run_sync(migrate)
            await async_connection.commit()
        await engine.dispose()

    asyncio.run(run_online())


def _revision(connection: Connection, service: str, message: str) -> None:
    _upgrade(connection, service)
    command.revision(alembic_config(service, connection), message=message, autogenerate=True)


async def autogenerate_revision(engine: AsyncEngine, service: str, message: str) -> None:
    """Write a new revision with what the models have that a database at head lacks."""
    async with engine.connect() as connection:
        await connection.run_sync(_revision, service, message)


def _drift(connection: Connection, metadata: MetaData) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    define_shared_tables(metadata)
    migration_context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(migration_context, metadata))


async def schema_drift(engine: AsyncEngine, metadata: MetaData) -> list[Any]:
    """Differences between the models and the database (none once migrations are complete)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_drift, metadata)


# Where each event type was moved when topics became one per aggregate (frozen here, as a
# migration must not change when the contracts do later).
AGGREGATE_TOPICS_OF_2026_12 = {
    "registry.area": ("area_registered", "area_updated", "area_moved"),
    "registry.team": (
        "team_registered",
        "team_updated",
        "team_dissolved",
        "member_joined",
        "member_left",
    ),
    "registry.initiative": ("initiative_launched", "initiative_stopped"),
    "registry.camera": ("camera_installed", "camera_removed"),
    "reporting.incident": ("incident_reported", "incident_status_changed", "incident_linked"),
    "reporting.activity": ("activity_logged",),
    "awards.award": ("award_granted", "award_revoked"),
    "awards.nomination": ("nomination_created", "nomination_decided"),
    "awards.certification": ("certification_decided",),
}


def outbox_topics_per_aggregate(op: Any) -> None:
    """Outbox rows name their event type apart from their topic, now one per aggregate."""
    import sqlalchemy as sa

    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("event_type", sa.String(200), nullable=True))
    op.execute("UPDATE outbox SET event_type = topic")
    for topic, event_types in AGGREGATE_TOPICS_OF_2026_12.items():
        listed = ", ".join(f"'{event_type}'" for event_type in event_types)
        op.execute(f"UPDATE outbox SET topic = '{topic}' WHERE event_type IN ({listed})")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("event_type", existing_type=sa.String(200), nullable=False)
