"""Across aggregates Kafka keeps no order. On real Kafka, the same history is sent twice:
once in order, once turned around (credits before their teams, teams before their
areas), each step awaited so the consumers really meet it in that order. The read models
of reporting and awards end equal, and nothing is dead-lettered."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.awards.scores.rules import local_date
from shared.events import EVENT_TYPES
from tests.integration.test_slice import plain_record, poll

pytestmark = pytest.mark.integration

NAMES = ("province", "ward", "group", "other_ward", "team", "team2", "leader", "member")
NAMES += ("former", "incident", "duplicate", "activity")

# (service, table, what its rows are compared on: every column but surrogate ids and the
# ids of the events that wrote them, which differ between the two sends by construction)
READ_MODELS = [
    ("reporting", "knownarea", "*"),
    ("reporting", "knownteam", "*"),
    ("awards", "knownarea", "*"),
    ("awards", "knownteam", "*"),
    ("awards", "knownperson", "*"),
    # its id is derived from team, person and role, which are compared
    ("awards", "knownmembership", "team_id, person_id, role, active, version, joined_on, left_on"),
    ("awards", "trackedincident", "*"),
    ("awards", "trackedactivity", "*"),
    ("awards", "teamcontribution", "*"),
    (
        "awards",
        "scoreentry",
        "subject, subject_id, area_id, occurred_on, points, rule, source_kind, source_id, voided",
    ),
    (
        "awards",
        "membercredit",
        "rule, source_id, source_kind, team_id, area_id, occurred_on, points, voided",
    ),
]


NOW = datetime.now(UTC)


def history(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(event type, key, payload) of one ward's story, as registry and reporting tell it."""
    # A ward's day is Vietnam's (UTC+7): after 17:00 UTC it is already tomorrow there.
    now, day = NOW.isoformat(), local_date(NOW).isoformat()

    def area(name: str, level: str, parent: str | None, version: int = 1) -> tuple:
        payload = {"area_id": ids[name], "code": ids[name][:8], "name": name, "level": level}
        return (
            "area_registered",
            ids[name],
            {**payload, "parent_id": parent, "aggregate_version": version},
        )

    team = {"area_id": ids["ward"], "kind": "security_order"}  # incidents are in its group
    credited = [ids["team"], ids["team2"]]
    incident = {"area_id": ids["group"], "category": "theft", "category_group": "crime"}
    return [
        area("province", "province", None),
        area("ward", "ward", ids["province"]),
        area("other_ward", "ward", ids["province"]),
        area("group", "residential_group", ids["ward"]),
        (
            "area_updated",
            ids["group"],
            {
                "area_id": ids["group"],
                "code": ids["group"][:8],
                "name": "Tổ dân phố 3",
                "households": 120,
                "aggregate_version": 2,
            },
        ),
        (
            "area_moved",
            ids["group"],
            {
                "area_id": ids["group"],
                "code": ids["group"][:8],
                "from_parent_id": ids["ward"],
                "to_parent_id": ids["other_ward"],
                "aggregate_version": 3,
            },
        ),
        (
            "team_registered",
            ids["team"],
            {"team_id": ids["team"], "name": "Tổ 1", **team, "aggregate_version": 1},
        ),
        (
            "member_joined",
            ids["team"],
            {
                "team_id": ids["team"],
                "area_id": ids["group"],
                "person_id": ids["leader"],
                "full_name": "Nguyễn Văn A",
                "role": "leader",
                "aggregate_version": 2,
            },
        ),
        (
            "member_joined",
            ids["team"],
            {
                "team_id": ids["team"],
                "area_id": ids["group"],
                "person_id": ids["member"],
                "full_name": "Trần Thị B",
                "role": "member",
                "aggregate_version": 3,
            },
        ),
        (
            "member_left",
            ids["team"],
            {
                "team_id": ids["team"],
                "area_id": ids["group"],
                "person_id": ids["member"],
                "role": "member",
                "left_on": day,
                "reason": "chuyển",
                "aggregate_version": 4,
            },
        ),
        (
            "member_joined",
            ids["team"],
            {
                "team_id": ids["team"],
                "area_id": ids["group"],
                "person_id": ids["former"],
                "full_name": "Lê Văn C",
                "role": "member",
                "joined_on": "2020-01-01",
                "aggregate_version": 5,
            },
        ),
        (
            "member_left",
            ids["team"],
            {
                "team_id": ids["team"],
                "area_id": ids["group"],
                "person_id": ids["former"],
                "role": "member",
                "left_on": "2020-06-30",
                "reason": "chuyển đi",
                "aggregate_version": 6,
            },
        ),
        (
            "team_registered",
            ids["team2"],
            {"team_id": ids["team2"], "name": "Tổ 2", **team, "aggregate_version": 1},
        ),
        (
            "team_dissolved",
            ids["team2"],
            {
                "team_id": ids["team2"],
                "area_id": ids["group"],
                "dissolved_on": day,
                "reason": "sáp nhập",
                "aggregate_version": 2,
            },
        ),
        (
            "incident_reported",
            ids["incident"],
            {
                "incident_id": ids["incident"],
                **incident,
                "source": "patrol",
                "status": "reported",
                "occurred_at": now,
                "reported_at": now,
                "credited_team_ids": credited,
                "aggregate_version": 1,
            },
        ),
        (
            "incident_status_changed",
            ids["incident"],
            {
                "incident_id": ids["incident"],
                **incident,
                "source": "patrol",
                "from_status": "reported",
                "to_status": "resolved",
                "changed_at": now,
                "occurred_at": now,
                "credited_team_ids": credited,
                "aggregate_version": 2,
            },
        ),
        (
            "incident_reported",
            ids["duplicate"],
            {
                "incident_id": ids["duplicate"],
                **incident,
                "source": "police",
                "status": "reported",
                "occurred_at": now,
                "reported_at": now,
                "credited_team_ids": [ids["team"]],
                "aggregate_version": 1,
            },
        ),
        (
            "incident_status_changed",
            ids["duplicate"],
            {
                "incident_id": ids["duplicate"],
                **incident,
                "from_status": "reported",
                "to_status": "resolved",
                "changed_at": now,
                "credited_team_ids": [ids["team"]],
                "aggregate_version": 2,
            },
        ),
        (
            "incident_linked",
            ids["duplicate"],
            {
                "incident_id": ids["duplicate"],
                "duplicate_of": ids["incident"],
                "area_id": ids["group"],
                "category": "theft",
                "linked_at": now,
                "aggregate_version": 3,
            },
        ),
        (
            "activity_logged",
            ids["activity"],
            {
                "activity_id": ids["activity"],
                "area_id": ids["group"],
                "activity_type": "patrol",
                "occurred_on": day,
                "measures": [{"item": "sessions", "unit": "count", "quantity": "2"}],
                "team_ids": [ids["team"]],
                "aggregate_version": 1,
            },
        ),
    ]


def source_of(event_type: str) -> str:
    return "/antt/" + EVENT_TYPES[event_type].topic.split(".")[0]


async def send_in_steps(stack, steps: list[list[tuple[str, str, dict]]]) -> None:
    """Send each step, and wait until every service that reads it has taken it in."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for step in steps:
            ids = []
            for event_type, key, payload in step:
                record = plain_record(event_type, key, source_of(event_type), payload)
                ids.append(dict(record["headers"])["ce_id"].decode())
                await producer.send_and_wait(**record)
            for service, wanted in (("awards", step), ("reporting", step)):
                expected = sum(
                    1
                    for event_type, _, _ in wanted
                    if service == "awards" or EVENT_TYPES[event_type].topic.startswith("registry")
                )
                if service == "reporting":
                    expected -= sum(1 for t, _, _ in wanted if t.startswith("member_"))
                await poll(
                    lambda s=service, n=expected, i=ids: inbox_has(stack, s, i, n), within=60
                )
    finally:
        await producer.stop()


async def inbox_has(stack, service: str, event_ids: list[str], expected: int) -> bool:
    rows = await query(
        stack, service, "SELECT count(*) FROM inbox WHERE event_id = ANY(:ids)", ids=event_ids
    )
    return bool(rows[0][0] == expected)


async def query(stack, service: str, sql: str, **params: Any) -> list[tuple]:
    engine = create_async_engine(stack.services[service].database_url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in (await connection.execute(text(sql), params)).all()]
    finally:
        await engine.dispose()


async def snapshot(stack, ids: dict[str, str], rename: Callable[[str], str]) -> dict:
    """Every read-model row that mentions this history, with its ids renamed."""
    tables = {}
    for service, table, columns in READ_MODELS:
        rows = await query(stack, service, f"SELECT {columns} FROM {table}")
        mine = [
            tuple(rename(str(value)) for value in row)
            for row in rows
            if any(str(value) in ids.values() for value in row)
            or any(i in str(value) for value in row for i in ids.values())
        ]
        tables[(service, table)] = sorted(mine)
    return tables


async def dead_letter_counts(stack) -> dict[str, float]:
    import httpx

    counts = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for name in ("reporting", "awards"):
            metrics = (await client.get(f"{stack.url(name)}/metrics")).text
            counts[name] = sum(
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("antt_dead_letters_total{")
            )
    return counts


async def test_read_models_end_the_same_whatever_the_order_across_aggregates(stack):
    in_order = {name: str(uuid.uuid4()) for name in NAMES}
    turned = {name: str(uuid.uuid4()) for name in NAMES}
    back = {value: in_order[name] for name, value in turned.items()}
    back.update({value[:8]: in_order[name][:8] for name, value in turned.items()})  # codes

    def rename(value: str) -> str:
        for new, old in back.items():
            value = value.replace(new, old)
        return value

    def aggregate_steps(ids: dict[str, str], topics: list[str]) -> list[list[tuple]]:
        events = history(ids)
        return [[e for e in events if EVENT_TYPES[e[0]].topic == topic] for topic in topics]

    dead_before = await dead_letter_counts(stack)
    forward = ["registry.area", "registry.team", "reporting.incident", "reporting.activity"]
    await send_in_steps(stack, aggregate_steps(in_order, forward))
    # activities and credits before their teams, teams before their areas
    await send_in_steps(stack, aggregate_steps(turned, list(reversed(forward))))

    expected = await snapshot(stack, in_order, lambda value: value)
    actual = await snapshot(stack, turned, rename)
    # members score for the days they were on the team: not one who left years before
    people = {row[1] for row in expected[("awards", "scoreentry")] if row[0] == "person"}
    assert people == {in_order["leader"], in_order["member"]}
    for table, rows in expected.items():
        assert rows, f"{table}: the history left no rows to compare"
        assert actual[table] == rows, table
    assert await dead_letter_counts(stack) == dead_before
