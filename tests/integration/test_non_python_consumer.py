"""A consumer that is not Python: kcat (librdkafka, C) reads the events the three services
publish on real Kafka, and the committed AsyncAPI documents are all it needs to check them.
Nothing on the reading side comes from this project's code."""

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from shared.settings import PROJECT_ROOT
from tests.integration.conftest import NOT_HEARD_OF_YET
from tests.support import bearer

pytestmark = pytest.mark.integration

CONTRACTS = PROJECT_ROOT / "docs" / "asyncapi"
UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def kcat(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record of ``topic`` so far, as kcat's JSON envelope (key, payload, headers)."""
    command = ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q"]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        return []  # e.g. the topic is not there yet: the caller asks again
    records = []
    # Other tests put poison on the same topics (a header that is not UTF-8, say), which
    # kcat prints as it is: a consumer passes over what it cannot read, and so does this.
    for line in done.stdout.decode("utf-8", errors="replace").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            records.append(json.loads(line))
    return records


def kcat_headers(record: dict[str, Any]) -> dict[str, str]:
    """kcat lists headers as [name, value, name, value, …]."""
    flat = record.get("headers") or []
    return dict(zip(flat[::2], flat[1::2], strict=True))


async def consume(
    bootstrap: str, topic: str, match: Callable[[dict[str, Any]], bool], within: float = 60.0
) -> dict[str, Any]:
    """The first record of ``topic`` that ``match``es, read with kcat until it shows up."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        records = await asyncio.to_thread(kcat, bootstrap, topic)
        found = [record for record in records if match(record)]
        if found:
            return found[0]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"kcat found no matching record on {topic} in {within}s")
        await asyncio.sleep(0.5)


def of(key: str, event_type: str) -> Callable[[dict[str, Any]], bool]:
    def match(record: dict[str, Any]) -> bool:
        headers = kcat_headers(record)
        return record.get("key") == key and headers.get("ce_type") == f"vn.antt.{event_type}"

    return match


class Contract:
    """One service's committed AsyncAPI document, read as any other language would."""

    def __init__(self, service: str) -> None:
        self.document = yaml.safe_load((CONTRACTS / f"{service}.yaml").read_text("utf-8"))
        self.uri = f"urn:antt:asyncapi:{service}"
        resource = Resource.from_contents(self.document, default_specification=DRAFT7)
        self.registry: Registry[Any] = Registry().with_resource(self.uri, resource)

    def message(self, topic: str, ce_type: str) -> str:
        """The JSON pointer of the message ``ce_type`` names on ``topic``'s channel."""
        (channel,) = [c for c in self.document["channels"].values() if c["address"] == topic]
        reference: str = channel["messages"][ce_type.removeprefix("vn.antt.")]["$ref"]
        return reference.removeprefix("#")

    def validator(self, pointer: str) -> Draft7Validator:
        return Draft7Validator(
            {"$ref": f"{self.uri}#{pointer}"},
            registry=self.registry,
            format_checker=FormatChecker(),
        )


def check_record(
    record: dict[str, Any], service: str, event_type: str, subject: str, correlation_id: str
) -> dict[str, Any]:
    """The record holds to the CloudEvents layout and to the committed contract; returns
    its payload."""
    headers = kcat_headers(record)
    assert headers["ce_type"] == f"vn.antt.{event_type}"
    assert headers["ce_source"] == f"/antt/{service}"
    assert headers["ce_specversion"] == "1.0"
    assert headers["content-type"] == "application/json"
    assert headers["ce_subject"] == subject == record["key"]
    assert UTC_TIME.match(headers["ce_time"]), headers["ce_time"]
    uuid.UUID(headers["ce_id"])
    assert headers["correlation_id"] == correlation_id
    contract = Contract(service)
    message = contract.message(record["topic"], headers["ce_type"])
    header_errors = list(contract.validator(f"{message}/headers").iter_errors(headers))
    assert not header_errors, [error.message for error in header_errors]
    payload = json.loads(record["payload"])
    payload_errors = list(contract.validator(f"{message}/payload").iter_errors(payload))
    assert not payload_errors, [error.message for error in payload_errors]
    # The key is the aggregate's id, as the message's Kafka binding describes it.
    assert contract.validator(f"{message}/bindings/kafka/key").is_valid(record["key"])
    assert not contract.validator(f"{message}/bindings/kafka/key").is_valid("not-an-id")
    assert payload["schema_version"] == 1 and payload["aggregate_version"] >= 1
    return payload


async def post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(url, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def until_known(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict:
    """POST until the service has learnt the references from another service's events."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        response = await client.post(url, json=body)
        if (
            response.status_code not in NOT_HEARD_OF_YET
            or asyncio.get_running_loop().time() > deadline
        ):
            assert response.status_code == 201, response.text
            return response.json()
        await asyncio.sleep(0.25)


async def test_kcat_reads_every_service_events_by_the_committed_contract(stack):
    assert shutil.which("kcat"), "kcat is missing: `make kcat` installs Debian's package"
    registry, reporting, awards = (stack.url(n) for n in ("registry", "reporting", "awards"))
    correlation_id = f"kcat-{uuid.uuid4().hex}"
    headers = {**bearer(), "X-Correlation-ID": correlation_id}
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        area = await post(
            client,
            f"{registry}/areas",
            {"code": f"KC-{uuid.uuid4().hex[:6]}", "name": "Phường Kim Chung", "level": "ward"},
        )
        team = await post(
            client,
            f"{registry}/teams",
            {
                "area_id": area["id"],
                "name": "Tổ ANTT tổ dân phố số 7",
                "kind": "security_order",
                "members": [{"full_name": "Phạm Thị Dung", "role": "leader"}],
            },
        )
        incident = await until_known(
            client,
            f"{reporting}/incidents",
            {
                "area_id": area["id"],
                "category": "theft",
                "source": "patrol",
                "summary": "Trộm xe đạp",
                "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
                "team_ids": [team["id"]],
            },
        )
        nomination = await until_known(
            client,
            f"{awards}/nominations",
            {
                "recipient_kind": "collective",
                "recipient_id": team["id"],
                "recipient_name": team["name"],
                "award_form": "giay_khen",
                "authority": "ward_committee",
                "reason": "Tuần tra đêm đều đặn",
            },
        )
        award = await post(
            client,
            f"{awards}/nominations/{nomination['id']}/approve",
            {"decision_number": "21/QĐ-UBND", "decided_on": "2026-11-20"},
        )

    bootstrap = stack.kafka.bootstrap_servers
    caused = [
        ("registry", "registry.area", "area_registered", area["id"]),
        ("registry", "registry.team", "team_registered", team["id"]),
        ("registry", "registry.team", "member_joined", team["id"]),
        ("reporting", "reporting.incident", "incident_reported", incident["id"]),
        ("awards", "awards.nomination", "nomination_created", nomination["id"]),
        ("awards", "awards.award", "award_granted", award["id"]),
    ]
    payloads = {}
    for service, topic, event_type, subject in caused:
        record = await consume(bootstrap, topic, of(subject, event_type))
        payloads[event_type] = check_record(record, service, event_type, subject, correlation_id)
    assert payloads["area_registered"]["area_id"] == area["id"]
    assert payloads["area_registered"]["level"] == "ward"
    assert payloads["team_registered"]["team_id"] == team["id"]
    assert payloads["team_registered"]["area_id"] == area["id"]
    assert payloads["member_joined"]["role"] == "leader"
    assert "phone" not in payloads["member_joined"]
    assert payloads["incident_reported"]["incident_id"] == incident["id"]
    assert payloads["incident_reported"]["credited_team_ids"] == [team["id"]]
    assert payloads["incident_reported"]["source"] == "patrol"
    assert payloads["nomination_created"]["recipient_id"] == team["id"]
    assert payloads["award_granted"]["award_id"] == award["id"]
    assert payloads["award_granted"]["decision_number"] == "21/QĐ-UBND"
