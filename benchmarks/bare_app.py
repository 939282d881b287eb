"""The bare baseline of the HTTP benchmarks: a FastAPI app with one route that inserts one row
into one table through ``shared.db.create_engine`` — no auth, no outbox, no audit, no read
model — served by uvicorn as the services are (``services.cli serve``).

    ANTT_DATABASE_URL=sqlite+aiosqlite:///bare.db ANTT_PORT=8100 \\
        .venv/bin/python -m benchmarks.bare_app
"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, status
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, text

from shared.db import create_engine

metadata = MetaData()
incident = Table(
    "incident",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("area_id", String(36), nullable=False),
    Column("category", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("summary", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
)


class IncidentIn(BaseModel):
    area_id: uuid.UUID
    category: str
    source: str
    summary: str
    occurred_at: AwareDatetime
    team_ids: list[uuid.UUID] = []


class IncidentOut(BaseModel):
    id: uuid.UUID


def create_app() -> FastAPI:
    engine = create_engine(os.environ["ANTT_DATABASE_URL"])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        yield
        await engine.dispose()

    app = FastAPI(title="bare baseline", lifespan=lifespan)

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return {"status": "ready"}

    @app.post("/incidents", status_code=status.HTTP_201_CREATED)
    async def report(body: IncidentIn) -> IncidentOut:
        new_id = uuid.uuid4()
        async with engine.begin() as connection:
            await connection.execute(
                incident.insert().values(
                    id=str(new_id),
                    area_id=str(body.area_id),
                    category=body.category,
                    source=body.source,
                    summary=body.summary,
                    occurred_at=body.occurred_at,
                    reported_at=datetime.now(UTC),
                )
            )
        return IncidentOut(id=new_id)

    return app


def serve() -> None:
    import uvicorn

    uvicorn.run(
        "benchmarks.bare_app:create_app",
        factory=True,
        host="127.0.0.1",
        port=int(os.environ["ANTT_PORT"]),
        log_level="warning",
        proxy_headers=False,
    )


if __name__ == "__main__":
    serve()
