"""The shared delivery machinery: CloudEvents headers, outbox relay, dead letters."""

import uuid
from datetime import UTC, datetime

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import generate_latest
from sqlalchemy import select, update

from services.awards.app import Settings, create_app
from shared.cloudevents import (
    InvalidEnvelopeError,
    build_headers,
    headers_to_dict,
    parse_headers,
)
from shared.db import execute
from shared.events import AwardGranted, IncidentStatus, IncidentStatusChanged, RecipientKind
from tests.support import publish_event, running_app, unit_settings


def test_headers_round_trip():
    time = datetime(2023, 8, 19, 7, 30, tzinfo=UTC)
    headers = build_headers(
        event_id="e1",
        source="/antt/awards",
        event_type="award_granted",
        subject="a1",
        time=time,
        correlation_id="c1",
    )
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "vn.antt.award_granted"
    assert headers["ce_time"] == "2023-08-19T07:30:00Z"
    assert headers["content-type"] == "application/json"
    envelope = parse_headers({k: v.encode() for k, v in headers.items()})
    assert (envelope.id, envelope.subject, envelope.time, envelope.correlation_id) == (
        "e1",
        "a1",
        time,
        "c1",
    )
    assert envelope.event_type == "award_granted"


@pytest.mark.parametrize("missing", ["ce_id", "ce_type", "ce_time", "ce_source", "ce_specversion"])
def test_missing_header_names_it(missing):
    headers = build_headers(
        event_id="e1", source="s", event_type="t", subject="x", time=datetime.now(UTC)
    )
    del headers[missing]
    with pytest.raises(InvalidEnvelopeError, match=missing):
        parse_headers(headers)


def test_headers_from_aiokafka_pairs():
    assert headers_to_dict([("ce_id", b"1"), ("x", None)]) == {"ce_id": "1", "x": ""}


def status_changed(teams):
    return IncidentStatusChanged(
        incident_id=uuid.uuid4(),
        area_id=uuid.uuid4(),
        category="theft",
        from_status=IncidentStatus.VERIFIED,
        to_status=IncidentStatus.RESOLVED,
        changed_at=datetime.now(UTC),
        credited_team_ids=teams,
        aggregate_version=3,
    )


async def dead_letters(broker: KafkaBroker, topic: str):
    received = []

    async def raw(_: KafkaMessage) -> None:
        return None  # a dead letter's value may be anything: keep the bytes

    @broker.subscriber(topic, group_id="test-dlq-reader", decoder=raw)
    async def collect(message: KafkaMessage) -> None:
        received.append((message.body, message.headers))

    return received


def headers_for(event_type: str, event_id: str) -> dict[str, str]:
    return build_headers(
        event_id=event_id, source="/x", event_type=event_type, subject="x", time=datetime.now(UTC)
    )


GOOD = status_changed([uuid.uuid4()]).model_dump_json().encode()
NO_ID = {k: v for k, v in headers_for("incident_status_changed", "x").items() if k != "ce_id"}
# (what is wrong, value, headers, the dlq_error_type, a phrase of dlq_error)
POISON = [
    ("failed contract", b'{"not": "an incident"}', headers_for("incident_status_changed", "p1"),
     "ValidationError", "contract: aggregate_version: Field required; incident_id"),
    ("invalid JSON", b"{oops", headers_for("incident_status_changed", "p2"),
     "ValidationError", "invalid JSON"),
    ("empty value", b"", headers_for("incident_status_changed", "p3"),
     "PoisonRecordError", "value is empty"),
    ("no headers", b"{}", {}, "InvalidEnvelopeError", "missing CloudEvents header(s): ce_id"),
    ("missing header", GOOD, NO_ID, "InvalidEnvelopeError", "ce_id"),
    ("wrong type", GOOD, headers_for("award_granted", "p4"),
     "PoisonRecordError", "does not belong on topic 'reporting.incident'"),
    ("foreign type", GOOD, {**headers_for("x", "p5"), "ce_type": "com.example.thing"},
     "PoisonRecordError", "not a vn.antt. event type"),
]  # fmt: skip


async def test_every_poison_kind_goes_to_the_dead_letter_topic_with_its_error(database_url):
    app = create_app(unit_settings(Settings, database_url))
    runtime = app.state.runtime
    received = await dead_letters(runtime.broker, "reporting.incident.dlq")
    async with running_app(app) as (client, runtime):
        for _, value, headers, _, _ in POISON:
            await runtime.broker.publish(value, topic="reporting.incident", headers=headers)
        assert len(received) == len(POISON)
        for (kind, value, headers, error_type, phrase), (body, dlq_headers) in zip(
            POISON, received, strict=True
        ):
            assert body == value, kind
            assert dlq_headers["dlq_original_topic"] == "reporting.incident", kind
            assert dlq_headers["dlq_consumer_group"] == "awards.reporting.incident", kind
            assert dlq_headers["dlq_error_type"] == error_type, kind
            assert phrase in dlq_headers["dlq_error"], kind
            assert dlq_headers.get("ce_id") == headers.get("ce_id"), kind
        metrics = (await client.get("/metrics")).text
        expected = f'antt_dead_letters_total{{topic="reporting.incident"}} {len(POISON)}.0'
        assert expected in metrics
        # the consumer keeps going after poison
        event = status_changed([uuid.uuid4()])
        await publish_event(runtime.broker, event)
        async with runtime.sessions() as session:
            rows = (await execute(session, select(runtime.inbox.table))).mappings().all()
        assert [row["event_type"] for row in rows] == ["incident_status_changed"]


async def test_a_type_the_service_does_not_handle_is_skipped_and_counted(database_url):
    app = create_app(unit_settings(Settings, database_url))
    runtime = app.state.runtime
    received = await dead_letters(runtime.broker, "registry.team.dlq")
    async with running_app(app) as (client, runtime):
        # a newer registry could publish a team event this awards does not know yet
        await runtime.broker.publish(
            b'{"team_id": "x"}', topic="registry.team", headers=headers_for("team_renamed", "s1")
        )
        metrics = (await client.get("/metrics")).text
        async with runtime.sessions() as session:
            rows = (await execute(session, select(runtime.inbox.table))).all()
    assert received == []
    assert rows == []
    assert (
        'antt_events_skipped_total{topic="registry.team",type="vn.antt.team_renamed"} 1.0'
        in metrics
    )


async def test_handler_that_keeps_failing_is_retried_then_dead_lettered(database_url, monkeypatch):
    app = create_app(unit_settings(Settings, database_url, consumer_max_attempts=3))
    runtime = app.state.runtime
    received = await dead_letters(runtime.broker, "reporting.incident.dlq")
    calls = 0

    async def broken(*_args):
        nonlocal calls
        calls += 1
        raise RuntimeError("database went away")

    async with running_app(app) as (_, runtime):
        service = runtime.consumer  # handlers close over the service; patch the method used
        from services.awards.service import AwardsService

        monkeypatch.setattr(AwardsService, "credit_resolution", broken)
        team = uuid.uuid4()
        await publish_event(runtime.broker, status_changed([team]))
        assert calls == 3
        assert len(received) == 1
        assert received[0][1]["dlq_attempts"] == "3"
        assert received[0][1]["dlq_error"] == "database went away"
        # nothing half-written: the inbox did not record the failed event
        async with runtime.sessions() as session:
            rows = (await execute(session, select(runtime.inbox.table))).all()
        assert rows == []
        assert service.max_attempts == 3


async def test_relay_keeps_rows_when_publishing_fails_and_sends_them_later(database_url):
    app = create_app(unit_settings(Settings, database_url, outbox_poll_seconds=60))
    runtime = app.state.runtime
    async with TestKafkaBroker(runtime.broker):
        from asgi_lifespan import LifespanManager

        async with LifespanManager(app):
            async with runtime.sessions() as session:
                for n in range(3):
                    await runtime.outbox.add(session, award(n))
                await session.commit()
            original = runtime.broker.publish
            attempts = 0

            async def failing(*args, **kwargs):
                nonlocal attempts
                attempts += 1
                raise ConnectionError("broker unreachable")

            runtime.broker.publish = failing  # type: ignore[method-assign]
            result = await runtime.relay.publish_pending()
            assert (result.published, result.failed, attempts) == (0, True, 1)
            runtime.broker.publish = original  # type: ignore[method-assign]
            result = await runtime.relay.publish_pending()
            assert (result.published, result.failed) == (3, False)
            async with runtime.sessions() as session:
                rows = (
                    (
                        await execute(
                            session,
                            select(runtime.outbox.table).order_by(runtime.outbox.table.c.id),
                        )
                    )
                    .mappings()
                    .all()
                )
            assert [row["attempts"] for row in rows] == [2, 1, 1]
            assert rows[0]["last_error"] == "broker unreachable"
            assert all(row["published_at"] for row in rows)


def award(n: int) -> AwardGranted:
    return AwardGranted(
        award_id=uuid.uuid4(),
        nomination_id=uuid.uuid4(),
        recipient_kind=RecipientKind.INDIVIDUAL,
        recipient_id=uuid.uuid4(),
        recipient_name=f"Người {n}",
        award_form="giay_khen",
        authority="ward_committee",
        reason="r",
        decision_number=f"{n}/QĐ",
        granted_on=datetime.now(UTC),
        aggregate_version=1,
    )


async def test_outbox_row_vanishes_with_a_rolled_back_transaction(database_url):
    app = create_app(unit_settings(Settings, database_url))
    async with running_app(app) as (_, runtime):
        async with runtime.sessions() as session:
            await runtime.outbox.add(session, award(1))
            await session.rollback()
        async with runtime.sessions() as session:
            assert (await runtime.outbox.pending_count(session))[0] == 0


async def test_purge_deletes_only_rows_published_longer_ago_than_kept(database_url):
    # The service's own purge (at start, then hourly) keeps all: only the calls below purge.
    settings = unit_settings(Settings, database_url, outbox_poll_seconds=60, outbox_keep_days=1e5)
    app = create_app(settings)
    runtime = app.state.runtime
    table = runtime.outbox.table
    async with TestKafkaBroker(runtime.broker):
        from asgi_lifespan import LifespanManager

        async with LifespanManager(app):
            async with runtime.sessions() as session:
                for n in range(3):
                    await runtime.outbox.add(session, award(n))
                await session.commit()
            assert (await runtime.relay.publish_pending()).published == 3
            async with runtime.sessions() as session:
                await runtime.outbox.add(session, award(9))  # still pending: never purged
                old = datetime(2020, 1, 1, tzinfo=UTC)
                await execute(
                    session, update(table).where(table.c.id == 1).values(published_at=old)
                )
                await session.commit()
            assert await runtime.relay.purge(keep_days=7) == 1
            assert await runtime.relay.purge(keep_days=7) == 0
            async with runtime.sessions() as session:
                rows = (await execute(session, select(table.c.id, table.c.published_at))).all()
            metrics = generate_latest(runtime.registry).decode()
    assert sorted(row[0] for row in rows) == [2, 3, 4]
    assert [row[0] for row in rows if row[1] is None] == [4]
    assert "antt_outbox_purged_rows_total 1.0" in metrics
