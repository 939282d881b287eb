"""The walking skeleton end to end: real Kafka, three service processes, plain clients."""

import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from shared.events import EVENT_TYPES
from shared.settings import PROJECT_ROOT
from tests.integration.conftest import NOT_HEARD_OF_YET
from tests.support import bearer

pytestmark = pytest.mark.integration

CE_HEADERS = ("ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject")


async def poll(check: Callable[[], Any], within: float = 30.0) -> Any:
    """Retry ``check`` until it returns something truthy (events take a moment to arrive)."""
    deadline = asyncio.get_running_loop().time() + within
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"not reached within {within}s; last: {last!r}")


def of_type(key: str, event_type: str) -> Callable[[ConsumerRecord], bool]:
    """Matches the record of one aggregate (``key``) of one event type."""
    return lambda r: (
        r.key == key.encode()
        and (dict(r.headers).get("ce_type") == f"vn.antt.{event_type}".encode())
    )


async def read_topic(
    bootstrap: str, topic: str, match: Callable[[ConsumerRecord], bool], within: float = 30.0
) -> ConsumerRecord:
    """Find a record with a plain aiokafka consumer: no project code on the reading side."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if match(record):
                        return record
    finally:
        await consumer.stop()
    raise AssertionError(f"no matching record on {topic} within {within}s")


def header_dict(record: ConsumerRecord) -> dict[str, str]:
    return {key: value.decode() for key, value in record.headers}


def check_cloudevent(record: ConsumerRecord, event_type: str, source: str, subject: str) -> dict:
    headers = header_dict(record)
    assert set(CE_HEADERS) <= set(headers), headers
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == f"vn.antt.{event_type}"
    assert headers["ce_source"] == source
    assert headers["ce_subject"] == subject
    assert headers["content-type"] == "application/json"
    datetime.fromisoformat(headers["ce_time"].replace("Z", "+00:00"))
    uuid.UUID(headers["ce_id"])
    assert record.key.decode() == subject
    payload = json.loads(record.value)
    assert payload["schema_version"] == 1 and payload["aggregate_version"] >= 1
    return payload


async def post(client: httpx.AsyncClient, url: str, body: dict, **kwargs: Any) -> dict:
    response = await client.post(url, json=body, **kwargs)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_slice_from_registry_through_reporting_and_awards_back_to_registry(stack):
    registry, reporting, awards = (stack.url(n) for n in ("registry", "reporting", "awards"))
    correlation_id = f"it-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        area = await post(
            client,
            f"{registry}/areas",
            {"code": f"QA-{uuid.uuid4().hex[:6]}", "name": "Phường Quảng An", "level": "ward"},
        )
        team = await post(
            client,
            f"{registry}/teams",
            {
                "area_id": area["id"],
                "name": "Tổ ANTT tổ dân phố số 3",
                "kind": "security_order",
                "members": [
                    {"full_name": "Nguyễn Chu Thực", "role": "leader"},
                    {"full_name": "Trần Văn Bình", "role": "deputy"},
                    {"full_name": "Lê Thị Cúc"},
                ],
            },
        )
        incident_body = {
            "area_id": area["id"],
            "category": "theft",
            "source": "resident_tip",
            "summary": "Trộm xe máy tại tổ dân phố số 3",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
            "team_ids": [team["id"]],
        }

        async def report() -> dict | None:
            # Reporting learns of the area and team from registry's events, a moment later.
            response = await client.post(
                f"{reporting}/incidents",
                json=incident_body,
                headers={"X-Correlation-ID": correlation_id},
            )
            if response.status_code in NOT_HEARD_OF_YET:
                return None
            assert response.status_code == 201, response.text
            return response.json()

        incident = await poll(report)
        for status in ("verified", "resolved"):
            await post(
                client,
                f"{reporting}/incidents/{incident['id']}/status",
                {"status": status, "reason": "Công an phường xác minh và giải quyết"},
                headers={"X-Correlation-ID": correlation_id},
            )

        async def resolved_count() -> int:
            response = await client.get(f"{awards}/contributions/teams/{team['id']}")
            return response.json()["resolved_incidents"]

        assert await poll(resolved_count) == 1

        nomination_body = {
            "recipient_kind": "collective",
            "recipient_id": team["id"],
            "recipient_name": team["name"],
            "award_form": "giay_khen",
            "authority": "ward_committee",
            "reason": "Thành tích xuất sắc trong phong trào toàn dân bảo vệ an ninh Tổ quốc",
        }

        async def nominate() -> dict | None:
            # Awards, too, learns of the team from registry's events.
            response = await client.post(f"{awards}/nominations", json=nomination_body)
            if response.status_code in NOT_HEARD_OF_YET:
                return None
            assert response.status_code == 201, response.text
            return response.json()

        nomination = await poll(nominate)
        award = await post(
            client,
            f"{awards}/nominations/{nomination['id']}/approve",
            {"decision_number": "19/QĐ-UBND", "decided_on": "2023-08-19"},
        )

        async def honours() -> list:
            return (await client.get(f"{registry}/teams/{team['id']}")).json()["honours"]

        shown = await poll(honours)
        assert [h["award_id"] for h in shown] == [award["id"]]
        listed = (await client.get(f"{awards}/awards", params={"limit": 200})).json()
        assert award["id"] in {a["id"] for a in listed}

    bootstrap = stack.kafka.bootstrap_servers
    reported = await read_topic(
        bootstrap, "reporting.incident", of_type(incident["id"], "incident_reported")
    )
    payload = check_cloudevent(reported, "incident_reported", "/antt/reporting", incident["id"])
    assert payload["area_id"] == area["id"]
    assert payload["credited_team_ids"] == [team["id"]]
    assert payload["status"] == "reported" and payload["category"] == "theft"
    assert header_dict(reported)["correlation_id"] == correlation_id

    granted = await read_topic(bootstrap, "awards.award", lambda r: r.key == award["id"].encode())
    payload = check_cloudevent(granted, "award_granted", "/antt/awards", award["id"])
    assert payload["recipient_id"] == team["id"]
    assert payload["decision_number"] == "19/QĐ-UBND"
    assert payload["award_form"] == "giay_khen"

    # The correlation id of the HTTP request reached the awards consumer's log lines.
    handled = [
        line
        for line in stack.services["awards"].log_lines()
        if line.get("event") == "event_batch_handled"
        and correlation_id in line.get("correlation_ids", [])  # type: ignore[operator]
    ]
    assert handled, "awards did not log the reporting request's correlation id"

    # Each service's consumers were counted by FastStream's Prometheus middleware.
    async with httpx.AsyncClient(timeout=10) as client:
        for name in ("registry", "reporting", "awards"):
            metrics = (await client.get(f"{stack.url(name)}/metrics")).text
            acked = [
                line
                for line in metrics.splitlines()
                if line.startswith("faststream_received_processed_messages_total{")
                and f'app_name="{name}"' in line
                and 'status="acked"' in line
            ]
            assert acked, f"{name} shows no processed messages"


async def replay_with_cli(bootstrap: str, topic: str) -> str:
    """`antt dlq replay TOPIC`, as ops run it; its output."""
    replay = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "dlq",
        "replay",
        topic,
        "--bootstrap",
        bootstrap,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=PROJECT_ROOT,
    )
    output, _ = await replay.communicate()
    assert replay.returncode == 0, output.decode()
    return output.decode()


def plain_record(
    event_type: str, subject: str, source: str, payload: dict, event_id: str | None = None
) -> dict:
    """A CloudEvents record built by hand, as a producer in any language would, on its
    aggregate's topic."""
    headers = {
        "ce_id": event_id or str(uuid.uuid4()),
        "ce_source": source,
        "ce_type": f"vn.antt.{event_type}",
        "ce_specversion": "1.0",
        "ce_time": datetime.now(UTC).isoformat(),
        "ce_subject": subject,
        "content-type": "application/json",
    }
    return {
        "topic": EVENT_TYPES[event_type].topic,
        "key": subject.encode(),
        "value": json.dumps({"schema_version": 1, **payload}).encode(),
        "headers": [(k, v.encode()) for k, v in headers.items()],
    }


async def announce_teams(stack, *team_ids: str) -> None:
    """team_registered for made-up teams, as registry would publish it, so awards knows them."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for team_id in team_ids:
            payload = {
                "aggregate_version": 1,
                "team_id": team_id,
                "area_id": str(uuid.uuid4()),
                "name": "Tổ thử",
                "kind": "security_order",
            }
            await producer.send_and_wait(
                **plain_record("team_registered", team_id, "/antt/registry", payload)
            )
    finally:
        await producer.stop()


def status_changed_record(incident_id: str, team_id: str, event_id: str) -> dict:
    payload = {
        "aggregate_version": 3,
        "incident_id": incident_id,
        "area_id": str(uuid.uuid4()),
        "category": "theft",
        "from_status": "verified",
        "to_status": "resolved",
        "changed_at": datetime.now(UTC).isoformat(),
        "credited_team_ids": [team_id],
    }
    return plain_record(
        "incident_status_changed", incident_id, "/antt/reporting", payload, event_id
    )


async def test_same_event_delivered_twice_takes_effect_once(stack):
    awards = stack.url("awards")
    incident_id, team_id, sentinel_team = (str(uuid.uuid4()) for _ in range(3))
    event_id = str(uuid.uuid4())
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        # Same key, same partition: the sentinel is handled after both copies.
        await producer.send_and_wait(**status_changed_record(incident_id, team_id, event_id))
        await producer.send_and_wait(**status_changed_record(incident_id, team_id, event_id))
        await producer.send_and_wait(
            **status_changed_record(incident_id, sentinel_team, str(uuid.uuid4()))
        )
    finally:
        await producer.stop()

    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:

        async def count(team: str) -> int:
            response = await client.get(f"{awards}/contributions/teams/{team}")
            return response.json()["resolved_incidents"] if response.status_code == 200 else 0

        await announce_teams(stack, team_id, sentinel_team)
        assert await poll(lambda: count(sentinel_team)) == 1
        assert await count(team_id) == 1
        metrics = (await client.get(f"{awards}/metrics")).text
    assert 'antt_inbox_duplicates_skipped_total{topic="reporting.incident"}' in metrics


async def test_poison_message_lands_in_dead_letter_topic(stack):
    marker = f"poison-{uuid.uuid4()}"
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            "reporting.incident", key=marker.encode(), value=b"not json at all"
        )
    finally:
        await producer.stop()
    record = await read_topic(
        stack.kafka.bootstrap_servers,
        "reporting.incident.dlq",
        lambda r: r.key is not None and r.key.decode() == marker,
    )
    headers = header_dict(record)
    assert record.value == b"not json at all"
    assert headers["dlq_original_topic"] == "reporting.incident"
    assert headers["dlq_consumer_group"] == "awards.reporting.incident"
    assert "ce_id" in headers["dlq_error"]


async def test_every_service_is_ready_and_serves_faststream_metrics(stack):
    async with httpx.AsyncClient(timeout=10) as client:
        for name in ("registry", "reporting", "awards"):
            url = stack.url(name)
            assert (await client.get(f"{url}/ready")).status_code == 200
            assert (await client.get(f"{url}/docs")).status_code == 200
            metrics = (await client.get(f"{url}/metrics")).text
            assert "# TYPE faststream_received_processed_messages_total counter" in metrics, name
            assert "# TYPE antt_outbox_pending_messages gauge" in metrics, name


async def test_dead_letters_can_be_replayed_once_the_cause_is_fixed(stack):
    """A valid event that once failed waits in the DLQ; `antt dlq replay` brings it back."""
    from shared.dead_letters import pending_dead_letters

    bootstrap = stack.kafka.bootstrap_servers
    team_id = str(uuid.uuid4())
    record = status_changed_record(str(uuid.uuid4()), team_id, str(uuid.uuid4()))
    record["topic"] = "reporting.incident.dlq"
    record["headers"].append(("dlq_error", b"database went away"))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(**record)
    finally:
        await producer.stop()
    waiting = await pending_dead_letters(bootstrap, "reporting.incident")
    assert waiting >= 1

    async def dlq_list() -> dict:
        listing = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.cli",
            "dlq",
            "list",
            "reporting.incident",
            "--bootstrap",
            bootstrap,
            "--json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=PROJECT_ROOT,
        )
        output, errors = await listing.communicate()
        assert listing.returncode == 0, errors.decode()
        letters = [json.loads(line) for line in output.decode().splitlines()]
        return next(letter for letter in letters if letter["key"] == record["key"].decode())

    before = await dlq_list()
    assert (before["error"], before["replayed"]) == ("database went away", False)

    output = await replay_with_cli(bootstrap, "reporting.incident")
    # Everything waiting went back; a poison message from another test fails again and
    # returns to the DLQ as a new record, which this replay does not loop over.
    assert f"Replayed {waiting} of {waiting} waiting" in output
    assert (await dlq_list())["replayed"] is True

    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:

        async def count() -> int:
            response = await client.get(f"{stack.url('awards')}/contributions/teams/{team_id}")
            return response.json()["resolved_incidents"] if response.status_code == 200 else 0

        await announce_teams(stack, team_id)
        assert await poll(count) == 1
