"""The HTTP write paths stay lean: SQL statements per request are bounded (a change that
adds round trips fails here), answers built from what was written equal what a read
returns afterwards, and the one service middleware keeps the correlation id, the body
limits and NUL refusal."""

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry.app import Settings as RegistrySettings
from services.registry.app import create_app as create_registry
from services.reporting.app import Settings as ReportingSettings
from services.reporting.app import create_app as create_reporting
from shared.auth import Role
from shared.db import execute
from shared.events import AreaLevel, AreaRegistered
from shared.metrics import HttpMetrics
from shared.middleware import ServiceMiddleware
from tests.registry_support import RegistryClient, member, roster
from tests.support import announce_team, bearer, publish_event, running_app, unit_settings

# What a request costs now; raise a bound only with a reason, in the same change.
INCIDENT_STATEMENTS = 7  # teams, area lines; incident, its team, tallies, outbox, audit
ACTIVITY_STATEMENTS = 9  # the same, with the measures and the measure tallies
# the incident, its area lines (for the scope and the tallies), two tallies, the update,
# the history row, its teams, outbox, audit; for the answer its history and duplicates
STATUS_CHANGE_STATEMENTS = 11  # was 14: area lines, teams and a link read twice
ROSTER_STATEMENTS = 12  # team, area lines, roster, coverage, honours; 7 writes

PROVINCE, DISTRICT, WARD, GROUP, TEAM = (uuid.uuid4() for _ in range(5))
OFFICER = bearer(Role.OFFICER, "TH-NS-HH", subject="officer-hh")


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """SQL run by the current task (the request, under the ASGI test transport): not the
    relay's or the consumers' in their own tasks."""
    task = asyncio.current_task()
    seen: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _executemany) -> None:
        if asyncio.current_task() is task:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


@pytest.fixture
async def reporting(database_url):
    """A ward three levels down (province → district → ward → group) and a team in it."""
    app = create_reporting(unit_settings(ReportingSettings, database_url))
    async with running_app(app, headers=OFFICER) as (client, runtime):
        parent = None
        for area_id, code, level in (
            (PROVINCE, "TH", AreaLevel.PROVINCE),
            (DISTRICT, "TH-NS", AreaLevel.DISTRICT),
            (WARD, "TH-NS-HH", AreaLevel.WARD),
            (GROUP, "TH-NS-HH-1", AreaLevel.RESIDENTIAL_GROUP),
        ):
            await publish_event(
                runtime.broker,
                AreaRegistered(
                    area_id=area_id,
                    code=code,
                    name=code,
                    level=level,
                    parent_id=parent,
                    aggregate_version=1,
                ),
            )
            parent = area_id
        await announce_team(runtime.broker, TEAM, WARD)
        yield client, runtime


def incident() -> dict:
    return {
        "area_id": str(WARD),
        "category": "theft",
        "source": "patrol",
        "summary": "Trộm cắp tài sản",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "team_ids": [str(TEAM)],
    }


def activity() -> dict:
    return {
        "area_id": str(GROUP),
        "activity_type": "patrol",
        "occurred_on": date.today().isoformat(),
        "measures": [
            {"item": "participants", "quantity": 6},
            {"item": "patrols", "quantity": 2},
        ],
        "team_ids": [str(TEAM)],
    }


async def test_reporting_an_incident_takes_a_bounded_number_of_statements(reporting):
    client, runtime = reporting
    await client.post("/incidents", json=incident())  # warm: the first compiles statements
    with statements(runtime.engine) as seen:
        response = await client.post("/incidents", json=incident())
    assert response.status_code == 201, response.text
    assert 0 < len(seen) <= INCIDENT_STATEMENTS, "\n".join(seen)
    # What the answer said is what a read says.
    created = response.json()
    assert (await client.get(f"/incidents/{created['id']}")).json() == created
    assert created["team_ids"] == [str(TEAM)] and created["history"] == []


async def test_a_status_change_takes_a_bounded_number_of_statements(reporting):
    client, runtime = reporting
    warm = (await client.post("/incidents", json=incident())).json()
    await client.post(f"/incidents/{warm['id']}/status", json={"status": "verified"})
    created = (await client.post("/incidents", json=incident())).json()
    with statements(runtime.engine) as seen:
        response = await client.post(
            f"/incidents/{created['id']}/status",
            json={"status": "verified", "reason": "Công an phường xác minh"},
        )
    assert response.status_code == 200, response.text
    assert 0 < len(seen) <= STATUS_CHANGE_STATEMENTS, "\n".join(seen)
    assert sum("FROM incidentteam" in sql for sql in seen) == 1, "teams read once"
    changed = response.json()
    assert (await client.get(f"/incidents/{created['id']}")).json() == changed
    assert changed["team_ids"] == [str(TEAM)] and changed["link"] is None
    assert [entry["to_status"] for entry in changed["history"]] == ["verified"]


async def test_logging_an_activity_takes_a_bounded_number_of_statements(reporting):
    client, runtime = reporting
    await client.post("/activities", json=activity())
    with statements(runtime.engine) as seen:
        response = await client.post("/activities", json=activity())
    assert response.status_code == 201, response.text
    assert 0 < len(seen) <= ACTIVITY_STATEMENTS, "\n".join(seen)
    created = response.json()
    assert (await client.get(f"/activities/{created['id']}")).json() == created
    assert [m["item"] for m in created["measures"]] == ["participants", "patrols"]


async def test_an_idempotency_key_adds_one_lookup_and_one_insert(reporting):
    client, runtime = reporting
    await client.post("/incidents", json=incident(), headers={"Idempotency-Key": "warm"})
    body = incident()
    with statements(runtime.engine) as seen:
        response = await client.post("/incidents", json=body, headers={"Idempotency-Key": "k"})
    assert response.status_code == 201, response.text
    assert 0 < len(seen) <= INCIDENT_STATEMENTS + 2, "\n".join(seen)
    with statements(runtime.engine) as seen:
        replayed = await client.post("/incidents", json=body, headers={"Idempotency-Key": "k"})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == response.json()
    assert len(seen) == 1, "\n".join(seen)  # the lookup, nothing else


async def test_out_of_scope_references_are_still_refused(reporting):
    client, _ = reporting
    other = bearer(Role.OFFICER, "TH-OTHER", subject="officer-other")
    response = await client.post("/incidents", json=incident(), headers=other)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "area_id"]
    district = await client.post(
        "/incidents", json={**incident(), "area_id": str(DISTRICT)}, headers=OFFICER
    )
    assert district.status_code == 422  # records are kept at ward level and below
    # A scope above the team's ward reaches it; one beside it does not.
    above = bearer(Role.OFFICER, "TH-NS", subject="officer-ns")
    assert (await client.post("/incidents", json=incident(), headers=above)).status_code == 201


@pytest.fixture
async def registry(database_url):
    app = create_registry(unit_settings(RegistrySettings, database_url))
    async with running_app(app) as (client, runtime):
        yield RegistryClient(client), runtime


async def test_a_roster_change_takes_a_bounded_number_of_statements(registry):
    api, runtime = registry
    tree = await api.tree("TH")  # province → district → ward → residential group
    team = await api.team(tree["g1"], "civil_defence", roster(6))
    officer = bearer(Role.OFFICER, "TH-W1", subject="officer-w1")
    path = f"/teams/{team['id']}/members"
    await api.client.post(path, json=member(), headers=officer)
    with statements(runtime.engine) as seen:
        response = await api.client.post(path, json=member(name="Người mới"), headers=officer)
    assert response.status_code == 201, response.text
    assert 0 < len(seen) <= ROSTER_STATEMENTS, "\n".join(seen)
    changed = response.json()
    assert len(changed["members"]) == 8 and changed["version"] == team["version"] + 2
    assert (await api.client.get(f"/teams/{team['id']}", headers=officer)).json() == changed


async def test_a_role_change_and_a_leave_answer_what_a_read_returns(registry):
    api, _ = registry
    tree = await api.tree("TH")
    team = await api.team(tree["g1"], "civil_defence", roster(4))
    leader, deputy_to_be, leaving = team["members"][0], team["members"][1], team["members"][2]
    response = await api.client.post(
        f"/teams/{team['id']}/roster",
        json={
            "effective_on": "2025-01-02",
            "reason": "bầu lại",
            "leaves": [leaving["person_id"]],
            "role_changes": [{"person_id": deputy_to_be["person_id"], "role": "deputy"}],
            "joins": [member()],
        },
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (await api.client.get(f"/teams/{team['id']}")).json() == changed
    roles = {m["person_id"]: m["role"] for m in changed["members"]}
    assert roles[leader["person_id"]] == "leader" and roles[deputy_to_be["person_id"]] == "deputy"
    assert leaving["person_id"] not in roles and len(roles) == 4


def http_requests(text: str) -> dict[tuple[str, str, str], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "antt_http_requests_total":
                labels = sample.labels
                found[(labels["route"], labels["method"], labels["status_class"])] = sample.value
    return found


async def test_the_service_middleware_keeps_ids_limits_and_metrics(reporting):
    client, runtime = reporting
    given = await client.get("/health", headers={"X-Correlation-ID": "req-42"})
    assert given.headers["X-Correlation-ID"] == "req-42"
    made = await client.get("/health")
    assert len(made.headers["X-Correlation-ID"]) == 32  # a fresh one when none is given
    # The id reaches what the request writes: its event and its audit entry.
    traced = await client.post(
        "/incidents", json=incident(), headers={"X-Correlation-ID": "trace-7"}
    )
    assert traced.status_code == 201 and traced.headers["X-Correlation-ID"] == "trace-7"
    async with runtime.sessions() as session:
        for table in (runtime.outbox.table, runtime.audit.table):
            ids = (await execute(session, select(table.c.correlation_id))).scalars().all()
            assert ids == ["trace-7"]

    too_large = await client.post(
        "/incidents", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}
    )
    assert too_large.status_code == 413 and too_large.headers["X-Correlation-ID"]

    async def streamed():
        for _ in range(3):
            yield b"x" * 600_000

    chunked = await client.post("/incidents", content=streamed())
    assert chunked.status_code == 413

    nul = await client.post("/incidents", json={**incident(), "summary": "a\u0000b"})
    assert nul.status_code == 422 and nul.json()["detail"][0]["loc"] == ["body"]
    query = await client.get("/incidents", params={"category": "a\x00b"})
    assert query.status_code == 422 and query.json()["detail"][0]["loc"] == ["query"]

    counted = http_requests((await client.get("/metrics")).text)
    assert counted[("/health", "GET", "2xx")] == 2
    assert counted[("/incidents", "POST", "2xx")] == 1
    assert counted[("unmatched", "POST", "4xx")] == 3  # refused before routing
    assert counted[("unmatched", "GET", "4xx")] == 1


async def test_an_error_the_app_lets_through_is_counted_as_a_server_error():
    registry = CollectorRegistry()
    app = FastAPI()

    @app.get("/boom/{item}")
    async def boom(item: str) -> None:
        raise RuntimeError(item)

    app.add_middleware(ServiceMiddleware, max_bytes=100, metrics=HttpMetrics(registry))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/boom/1")).status_code == 500
    labels = {"route": "/boom/{item}", "method": "GET", "status_class": "5xx"}
    assert registry.get_sample_value("antt_http_requests_total", labels) == 1
