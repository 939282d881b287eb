"""The canary: an informant's name and contact, made unique, go through the whole flow;
afterwards they are nowhere but encrypted in reporting's own database: not in any Kafka
topic, log line, metrics page, error message, or another service's database."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.fernet import Fernet

from shared.auth import Role
from tests.integration.conftest import NOT_HEARD_OF_YET
from tests.support import TEST_INFORMANT_KEY, bearer

pytestmark = pytest.mark.integration


async def all_kafka_bytes(bootstrap: str) -> bytes:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if not t.startswith("__")]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    chunks: list[bytes] = []
    try:
        idle_rounds = 0
        while idle_rounds < 4:
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                idle_rounds += 1
            for records in batch.values():
                for record in records:
                    chunks += [record.key or b"", record.value or b""]
                    chunks += [k.encode() + b"=" + (v or b"") for k, v in record.headers]
    finally:
        await consumer.stop()
    assert topics and chunks, "read nothing from Kafka: the search would prove nothing"
    return b"\n".join(chunks)


async def database_text(url: str) -> str:
    """Every row of every table, as PostgreSQL prints it."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        tables = await connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        rows = []
        for table in tables:
            rows += [
                str(row[0]) for row in await connection.fetch(f'SELECT t::text FROM "{table[0]}" t')
            ]
        return "\n".join(rows)
    finally:
        await connection.close()


def test_informant_identity_never_leaves_reporting(stack):
    marker = uuid.uuid4().hex[:12]
    name, contact = f"CanaryName{marker}", f"canary-{marker}@example.test"
    admin = httpx.Client(timeout=15, headers=bearer())
    registry, reporting = stack.url("registry"), stack.url("reporting")
    ward_code = f"W-{uuid.uuid4().hex[:10]}"  # not the marker: areas are public
    ward = admin.post(
        f"{registry}/areas", json={"code": ward_code, "name": "Phường Canary", "level": "ward"}
    ).json()
    tip_body = {
        "area_id": ward["id"],
        "category": "drugs",
        "summary": "Nghi có điểm mua bán ma túy",
        "occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "informant": {"full_name": name, "contact": contact},
    }
    deadline = time.monotonic() + 30
    while (tip := httpx.post(f"{reporting}/tips", json=tip_body)).status_code in NOT_HEARD_OF_YET:
        assert time.monotonic() < deadline, tip.text  # reporting learns the ward from events
        time.sleep(0.25)
    assert tip.status_code == 201, tip.text
    receipt = tip.json()
    assert name not in tip.text and contact not in tip.text

    # Bad input carrying the markers: the error names the field, never echoes the value.
    bad = httpx.post(
        f"{reporting}/tips",
        json={**tip_body, "informant": {"full_name": name * 20, "contact": contact}},
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "informant", "full_name"]
    assert marker not in bad.text

    # The whole flow: follow, find, read as a tip handler, verify and resolve.
    followed = httpx.get(
        f"{reporting}/tips/{receipt['tip_number']}", headers={"X-Tip-Secret": receipt["secret"]}
    )
    assert followed.status_code == 200 and followed.json()["status"] == "reported"
    assert (
        httpx.get(
            f"{reporting}/tips/{receipt['tip_number']}",
            headers={"X-Tip-Secret": "wrong-secret-123"},
        ).status_code
        == 404
    )
    incident_id = next(
        entry["object_id"]
        for entry in admin.get(f"{reporting}/audit", params={"action": "submit_tip"}).json()
        if entry["area_id"] == ward["id"]
    )
    handler = bearer(Role.TIP_HANDLER, ward_code, subject="tip-handler-1")
    officer = bearer(Role.OFFICER, ward_code)
    informant = httpx.get(f"{reporting}/incidents/{incident_id}/informant", headers=handler)
    assert informant.status_code == 200
    assert (informant.json()["full_name"], informant.json()["contact"]) == (name, contact)
    assert (
        httpx.get(f"{reporting}/incidents/{incident_id}/informant", headers=officer).status_code
        == 403
    )
    incident = httpx.get(f"{reporting}/incidents/{incident_id}", headers=officer)
    assert incident.status_code == 200 and marker not in incident.text
    # Nor in the lists, the exports or the statistics.
    for path in ("/incidents", "/incidents.csv"):
        listed = httpx.get(f"{reporting}{path}", headers=officer)
        assert listed.status_code == 200 and incident_id in listed.text
        assert marker not in listed.text, path
    today = datetime.now(UTC).date().isoformat()
    for path in ("/statistics", "/statistics.csv"):
        figures = httpx.get(
            f"{reporting}{path}",
            params={"area_id": ward["id"], "from": "2020-01-01", "to": today},
            headers=officer,
        )
        assert figures.status_code == 200 and marker not in figures.text, path
    for status in ("verified", "resolved"):
        moved = httpx.post(
            f"{reporting}/incidents/{incident_id}/status",
            headers=officer,
            json={"status": status, "reason": "Đã xác minh và xử lý"},
        )
        assert moved.status_code == 200
    assert (
        httpx.get(
            f"{reporting}/tips/{receipt['tip_number']}", headers={"X-Tip-Secret": receipt["secret"]}
        ).json()["status"]
        == "resolved"
    )
    audit = admin.get(f"{reporting}/audit", params={"object_id": incident_id}).json()
    assert "read_informant" in {entry["action"] for entry in audit}

    # Let the events reach every consumer before searching.
    time.sleep(3)
    needles = [name.encode(), contact.encode(), marker.encode()]

    kafka_bytes = asyncio.run(all_kafka_bytes(stack.kafka.bootstrap_servers))
    assert incident_id.encode() in kafka_bytes  # the incident's events are there ...
    assert not [n for n in needles if n in kafka_bytes]  # ... its informant is not

    logs = [service.log_file for service in stack.services.values()]
    logs += [stack.kafka.log_file, stack.postgres.data_dir / "server.log"]
    for log in logs:
        content = log.read_bytes()
        assert content, f"{log} is empty: the search would prove nothing"
        assert not [n for n in needles if n in content], log

    for service in stack.services.values():
        metrics = httpx.get(f"{service.url}/metrics").text
        assert marker not in metrics, service.name

    for name_of_service in ("registry", "awards"):
        text = asyncio.run(database_text(stack.services[name_of_service].database_url))
        assert text and marker not in text, name_of_service

    # In reporting's own database the details exist only encrypted, under the key.
    reporting_text = asyncio.run(database_text(stack.services["reporting"].database_url))
    assert marker not in reporting_text
    tip_rows = [line for line in reporting_text.splitlines() if receipt["tip_number"] in line]
    assert len(tip_rows) == 1
    fernet = Fernet(TEST_INFORMANT_KEY.encode())
    sealed = [field for field in tip_rows[0].strip("()").split(",") if field.startswith("gAAAA")]
    assert {fernet.decrypt(token.encode()).decode() for token in sealed} == {name, contact}
