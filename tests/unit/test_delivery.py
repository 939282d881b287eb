"""The shared delivery machinery: CloudEvents headers, outbox relay, dead letters."""

import uuid
from datetime import UTC, datetime

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import select

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

    @broker.subscriber(topic, group_id="test-dlq-reader")
    async def collect(message: KafkaMessage) -> None:
        received.append((message.body, message.headers))

    return received


async def test_poison_message_goes_to_dead_letter_topic_with_error(database_url):
    app = create_app(unit_settings(Settings, database_url))
    runtime = app.state.runtime
    received = await dead_letters(runtime.broker, "incident_status_changed.dlq")
    async with running_app(app) as (client, runtime):
        await runtime.broker.publish(
            b'{"not": "an incident"}',
            topic="incident_status_changed",
            headers=build_headers(
                event_id="poison-1",
                source="/x",
                event_type="incident_status_changed",
                subject="x",
                time=datetime.now(UTC),
            ),
        )
        # a record with no CloudEvents headers at all is poison too
        await runtime.broker.publish(b"{}", topic="incident_status_changed")
        # and so is an event of another type on this topic, however well formed
        await runtime.broker.publish(
            status_changed([uuid.uuid4()]).model_dump_json().encode(),
            topic="incident_status_changed",
            headers=build_headers(
                event_id="wrong-type-1",
                source="/x",
                event_type="award_granted",
                subject="x",
                time=datetime.now(UTC),
            ),
        )
        assert len(received) == 3
        assert "does not belong on topic" in received[2][1]["dlq_error"]
        body, headers = received[0]
        assert body == b'{"not": "an incident"}'
        assert headers["dlq_original_topic"] == "incident_status_changed"
        assert headers["dlq_error_type"] == "ValidationError"
        assert headers["ce_id"] == "poison-1"
        assert "ce_id" in received[1][1]["dlq_error"]
        metrics = (await client.get("/metrics")).text
        assert 'antt_dead_lettered_messages_total{topic="incident_status_changed"} 3.0' in metrics
        # the consumer keeps going after a poison message
        await publish_event(runtime.broker, status_changed([uuid.uuid4()]))
        assert "inbox" in str(runtime.inbox.table.name)


async def test_handler_that_keeps_failing_is_retried_then_dead_lettered(database_url, monkeypatch):
    app = create_app(unit_settings(Settings, database_url, consumer_max_attempts=3))
    runtime = app.state.runtime
    received = await dead_letters(runtime.broker, "incident_status_changed.dlq")
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
