"""A reference this service has not seen yet: 409 ``not_yet_known`` with ``Retry-After``
while the events that would bring it may still be on their way (the consumer of that topic
is behind), 422 ``unknown_reference`` once it has caught up.

"Behind" is simulated as Kafka leaves it: the topic's subscriber gets a real aiokafka
consumer (never started) whose partition state is what its fetcher would have set (the
position it has handed records out to, the highwater mark of its last fetch), a batch that
is still being applied, or a lag measurement of a partition another replica reads."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer.subscription_state import TopicPartitionState
from sqlalchemy import func, select

from services.awards.app import Settings as AwardsSettings
from services.awards.app import create_app as create_awards
from services.awards.nominations.models import Nomination
from services.reporting.app import Settings as ReportingSettings
from services.reporting.app import create_app as create_reporting
from services.reporting.models import Incident
from shared.auth import Role
from shared.bus import partitions_behind
from shared.db import execute
from shared.events import AreaRegistered, MemberJoined, TeamRegistered, TeamRole
from shared.runtime import ServiceRuntime
from tests.support import (
    announce_area,
    announce_team,
    bearer,
    event_record,
    publish_event,
    running_app,
    unit_settings,
)

WARD, TEAM = uuid.uuid4(), uuid.uuid4()
AREAS, TEAMS = AreaRegistered.topic, TeamRegistered.topic


@asynccontextmanager
async def kafka_consumer(
    runtime: ServiceRuntime, topic: str, partitions: tuple[int, ...] = (0,)
) -> AsyncIterator[dict[int, TopicPartitionState]]:
    """The topic's subscriber with a real aiokafka consumer assigned ``partitions``; the
    states it yields are what aiokafka's fetcher moves (position, highwater)."""
    subscriber = runtime.consumer.subscribers[topic]
    kafka = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")  # never started
    tps = [TopicPartition(topic, partition) for partition in partitions]
    kafka.assign(tps)
    assignment = kafka._subscription.subscription.assignment
    stand_in = subscriber.consumer
    subscriber.consumer = kafka
    try:
        yield {tp.partition: assignment.state_value(tp) for tp in tps}
    finally:
        subscriber.consumer = stand_in
        await kafka.stop()


def fetched(state: TopicPartitionState, *, position: int, highwater: int) -> None:
    """As after a fetch: the committed offset found (the position records are handed out
    from) and the partition's highwater mark from the fetch response."""
    state.reset_to(position)
    state.highwater = highwater


def problem(response: Any) -> dict[str, Any]:
    [detail] = response.json()["detail"]
    return detail


async def count(runtime: ServiceRuntime, model: Any) -> int:
    async with runtime.sessions() as session:
        return (await execute(session, select(func.count()).select_from(model))).scalar_one()


# --- awards: people, teams and areas from registry ----------------------------------------

NOMINATION = {
    "recipient_kind": "individual",
    "award_form": "giay_khen",
    "authority": "ward_committee",
    "reason": "Tích cực tham gia phong trào toàn dân bảo vệ an ninh Tổ quốc",
}


@pytest.fixture
async def awards(database_url):
    async with running_app(create_awards(unit_settings(AwardsSettings, database_url))) as app:
        _, runtime = app
        await announce_area(runtime.broker, WARD, "HN-TH-QA", "Phường Quảng An")
        await announce_team(runtime.broker, TEAM, WARD, "Tổ ANTT số 3")
        yield app


async def test_a_person_registered_a_moment_ago_is_not_yet_known_until_awards_catches_up(awards):
    client, runtime = awards
    person = uuid.uuid4()
    body = {**NOMINATION, "recipient_id": str(person)}
    async with kafka_consumer(runtime, TEAMS) as states:
        # A bulk import: registry.team holds 9 records, awards has been handed 5 of them.
        fetched(states[0], position=5, highwater=9)
        response = await client.post("/nominations", json=body)
        assert response.status_code == 409, response.text
        assert problem(response) == {
            "loc": ["body", "recipient_id"],
            "msg": f"person {person} is not known here yet: registry's events have not all "
            "reached this service yet (it is catching up); ask again shortly",
            "type": "not_yet_known",
        }
        assert int(response.headers["Retry-After"]) >= 1
        direct = {**body, "recipient_name": None, "decision_number": "7/QĐ-UBND"}
        response = await client.post("/awards", json=direct)
        assert response.status_code == 409 and problem(response)["type"] == "not_yet_known"
        assert await count(runtime, Nomination) == 0

        # Caught up (all 9 handed out and applied) and still unseen: it does not exist.
        states[0].consumed_to(9)
        response = await client.post("/nominations", json=body)
        assert response.status_code == 422
        assert problem(response) == {
            "loc": ["body", "recipient_id"],
            "msg": f"unknown person {person}",
            "type": "unknown_reference",
        }
        assert "Retry-After" not in response.headers

        # Its member_joined arrives: the retry the 409 asked for succeeds.
        member = MemberJoined(
            team_id=TEAM,
            area_id=WARD,
            person_id=person,
            full_name="Nguyễn Văn Hải",
            role=TeamRole.MEMBER,
            aggregate_version=2,
        )
        await publish_event(runtime.broker, member)
        response = await client.post("/nominations", json=body)
        assert response.status_code == 201, response.text


async def test_only_the_topic_that_would_bring_the_reference_counts(awards):
    client, runtime = awards
    unseen = uuid.uuid4()
    async with kafka_consumer(runtime, TEAMS) as states:
        fetched(states[0], position=3, highwater=3)  # registry.team: caught up
        async with kafka_consumer(runtime, AREAS) as areas:
            fetched(areas[0], position=1, highwater=4)  # registry.area: behind
            collective = {**NOMINATION, "recipient_kind": "collective", "recipient_name": "Tổ"}
            # A collective is a team or an area: either topic may still bring it.
            response = await client.post(
                "/nominations", json={**collective, "recipient_id": str(unseen)}
            )
            assert response.status_code == 409 and problem(response)["type"] == "not_yet_known"
            # A person comes only with registry.team, which is caught up.
            response = await client.post(
                "/nominations", json={**NOMINATION, "recipient_id": str(unseen)}
            )
            assert response.status_code == 422
            assert problem(response)["type"] == "unknown_reference"


async def test_before_its_first_fetch_a_consumer_cannot_say_it_has_caught_up(awards):
    client, runtime = awards
    body = {**NOMINATION, "recipient_id": str(uuid.uuid4())}
    async with kafka_consumer(runtime, TEAMS) as states:
        # Assigned, no committed offset found and no fetch yet (just after a start or a
        # rebalance): no position, no highwater mark.
        assert partitions_behind(runtime.consumer.subscribers[TEAMS].consumer, TEAMS) == {0: True}
        response = await client.post("/nominations", json=body)
        assert response.status_code == 409
        fetched(states[0], position=0, highwater=0)  # an empty topic
        response = await client.post("/nominations", json=body)
        assert response.status_code == 422


async def test_an_officer_learns_nothing_of_another_ward_while_awards_catches_up(awards):
    client, runtime = awards
    other_ward, their_team = uuid.uuid4(), uuid.uuid4()
    await announce_area(runtime.broker, other_ward, "HN-TH-NT", "Phường Nhật Tân")
    await announce_team(runtime.broker, their_team, other_ward, "Tổ ANTT Nhật Tân")
    officer = bearer(Role.OFFICER, "HN-TH-QA")
    collective = {**NOMINATION, "recipient_kind": "collective", "recipient_name": "Tổ"}
    async with kafka_consumer(runtime, TEAMS) as states:
        fetched(states[0], position=2, highwater=5)
        answers = [
            await client.post(
                "/nominations", json={**collective, "recipient_id": str(ref)}, headers=officer
            )
            for ref in (their_team, uuid.uuid4())
        ]
        # Their team answers exactly as an id that does not exist.
        assert [a.status_code for a in answers] == [409, 409]
        assert [problem(a)["type"] for a in answers] == ["not_yet_known"] * 2


# --- reporting: areas and teams from registry ---------------------------------------------


def incident(area: uuid.UUID = WARD, teams: tuple[uuid.UUID, ...] = ()) -> dict[str, Any]:
    return {
        "area_id": str(area),
        "category": "theft",
        "source": "patrol",
        "summary": "Trộm xe máy",
        "occurred_at": "2026-01-10T08:00:00+07:00",
        "team_ids": [str(team) for team in teams],
    }


@pytest.fixture
async def reporting(database_url):
    app = create_reporting(unit_settings(ReportingSettings, database_url))
    async with running_app(app) as running:
        _, runtime = running
        await announce_area(runtime.broker, WARD, "HN-TH-QA", "Phường Quảng An")
        await announce_team(runtime.broker, TEAM, WARD, "Tổ ANTT số 3")
        yield running


async def test_reporting_answers_not_yet_known_for_areas_and_teams_while_behind(reporting):
    client, runtime = reporting
    new_ward, new_team = uuid.uuid4(), uuid.uuid4()
    async with kafka_consumer(runtime, AREAS) as areas, kafka_consumer(runtime, TEAMS) as teams:
        fetched(areas[0], position=10, highwater=12)
        fetched(teams[0], position=40, highwater=90)
        tip = {k: incident(new_ward)[k] for k in ("area_id", "category", "summary", "occurred_at")}
        for path, body, loc in (
            ("/incidents", incident(new_ward), ["body", "area_id"]),
            ("/incidents", incident(teams=(new_team,)), ["body", "team_ids", 0]),
            ("/tips", tip, ["body", "area_id"]),
        ):
            response = await client.post(path, json=body)
            assert response.status_code == 409, response.text
            assert problem(response)["loc"] == loc
            assert problem(response)["type"] == "not_yet_known"
            assert "registry's events" in problem(response)["msg"]
            assert response.headers["Retry-After"]
        assert await count(runtime, Incident) == 0

        areas[0].consumed_to(12)
        teams[0].consumed_to(90)
        response = await client.post("/incidents", json=incident(new_ward))
        assert response.status_code == 422
        assert problem(response) == {
            "loc": ["body", "area_id"],
            "msg": f"unknown area {new_ward}",
            "type": "unknown_reference",
        }
        response = await client.post("/incidents", json=incident(teams=(new_team,)))
        assert response.status_code == 422
        assert problem(response)["type"] == "unknown_reference"


async def test_a_batch_still_being_applied_counts_as_behind(reporting):
    client, runtime = reporting
    new_team = uuid.uuid4()
    subscription = runtime.consumer.handlers[TEAMS]["team_registered"]
    apply, started, gate = subscription.handler, asyncio.Event(), asyncio.Event()

    async def slow(session: Any, event: Any, envelope: Any) -> None:
        started.set()
        await gate.wait()
        await apply(session, event, envelope)

    subscription.handler = slow
    try:
        registered = TeamRegistered(
            team_id=new_team, area_id=WARD, name="Tổ mới", kind="mediation", aggregate_version=1
        )
        record = event_record(registered)
        batch = asyncio.create_task(runtime.consumer.subscribers[TEAMS].process_message((record,)))
        await asyncio.wait_for(started.wait(), 10)
        response = await client.post("/incidents", json=incident(teams=(new_team,)))
        assert response.status_code == 409 and problem(response)["type"] == "not_yet_known"
        gate.set()
        await asyncio.wait_for(batch, 10)
    finally:
        subscription.handler = apply
    response = await client.post("/incidents", json=incident(teams=(new_team,)))
    assert response.status_code == 201, response.text


async def test_another_replicas_partition_counts_from_the_last_lag_measurement(
    database_url, monkeypatch
):
    measured: dict[tuple[str, str, int], int] = {}

    async def measure(*_: Any) -> dict[tuple[str, str, int], int]:
        return dict(measured)

    monkeypatch.setattr("shared.runtime.measure_consumer_lag", measure)
    settings = unit_settings(ReportingSettings, database_url, kafka_measure_lag=True)
    async with running_app(create_reporting(settings)) as (client, runtime):
        await announce_area(runtime.broker, WARD, "HN-TH-QA", "Phường Quảng An")
        unseen = uuid.uuid4()
        # This replica reads partition 0 of registry.area, caught up; another reads
        # partition 1, which the last measurement found 3 records behind.
        async with kafka_consumer(runtime, AREAS) as areas:
            fetched(areas[0], position=7, highwater=7)
            measured[("reporting.registry.area", AREAS, 0)] = 0  # stale: memory wins
            measured[("reporting.registry.area", AREAS, 1)] = 3
            await runtime.measure_lag()
            response = await client.post("/incidents", json=incident(unseen))
            assert response.status_code == 409 and problem(response)["type"] == "not_yet_known"

            measured[("reporting.registry.area", AREAS, 1)] = 0
            await runtime.measure_lag()
            response = await client.post("/incidents", json=incident(unseen))
            assert response.status_code == 422
            assert problem(response)["type"] == "unknown_reference"


async def test_a_partition_is_behind_until_its_position_reaches_the_highwater_mark():
    kafka = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
    try:
        assert partitions_behind(kafka, AREAS) == {}  # nothing assigned yet
        zero, one = TopicPartition(AREAS, 0), TopicPartition(AREAS, 1)
        kafka.assign([zero, one, TopicPartition(TEAMS, 0)])
        assignment = kafka._subscription.subscription.assignment
        fetched(assignment.state_value(zero), position=4, highwater=4)
        fetched(assignment.state_value(one), position=2, highwater=6)
        assert partitions_behind(kafka, AREAS) == {0: False, 1: True}
        assignment.state_value(one).consumed_to(6)
        assert partitions_behind(kafka, AREAS) == {0: False, 1: False}
        assert partitions_behind(object(), AREAS) == {}  # the test broker's stand-in
        assert partitions_behind(None, AREAS) == {}  # not started
    finally:
        await kafka.stop()
