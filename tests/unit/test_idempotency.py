"""Idempotency-Key on the create routes (reporting: incidents, activities, tips; awards:
nominations, awards): a retry answers what the first request answered and writes nothing,
on SQLite and PostgreSQL, concurrent retries included."""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import func, select, update

from services.awards.app import Settings as AwardsSettings
from services.awards.app import create_app as create_awards
from services.awards.awards.models import Award
from services.awards.nominations.models import Nomination
from services.reporting.app import Settings as ReportingSettings
from services.reporting.app import create_app as create_reporting
from services.reporting.models import Activity, Incident, ReportingTable, TipOff
from services.reporting.tips.service import InformantVault
from shared.auth import Role
from shared.db import execute, transaction
from shared.events import AreaLevel, AreaRegistered
from shared.idempotency import (
    Idempotency,
    IdempotencyKeyTakenError,
    IdempotentReplay,
    IdempotentRequest,
    fingerprint,
)
from tests.support import (
    TEST_INFORMANT_KEY,
    announce_area,
    announce_team,
    bearer,
    publish_event,
    running_app,
    unit_settings,
)

WARD, TEAM = uuid.uuid4(), uuid.uuid4()
PROVINCE, AWARD_WARD, AWARD_TEAM = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
INFORMANT_NAME, INFORMANT_CONTACT = "Phạm Thị Người Báo", "0987654321"


def incident() -> dict[str, Any]:
    return {
        "area_id": str(WARD),
        "category": "theft",
        "source": "patrol",
        "summary": "Trộm xe máy",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "team_ids": [str(TEAM)],
    }


def activity() -> dict[str, Any]:
    return {
        "area_id": str(WARD),
        "activity_type": "patrol",
        "occurred_on": date.today().isoformat(),
        "measures": [{"item": "patrols", "quantity": 2}, {"item": "participants", "quantity": 6}],
        "team_ids": [str(TEAM)],
    }


def tip() -> dict[str, Any]:
    return {
        "area_id": str(WARD),
        "category": "drugs",
        "summary": "Nghi có điểm mua bán ma túy",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=5)).isoformat(),
        "informant": {"full_name": INFORMANT_NAME, "contact": INFORMANT_CONTACT},
    }


def nomination() -> dict[str, Any]:
    return {
        "recipient_kind": "collective",
        "recipient_id": str(AWARD_TEAM),
        "recipient_name": "Tổ ANTT số 3",
        "award_form": "giay_khen",
        "authority": "ward_committee",
        "reason": "Thành tích xuất sắc",
    }


def award() -> dict[str, Any]:
    return {**nomination(), "decision_number": "12/QĐ-UBND", "decided_on": "2023-08-19"}


async def count(runtime: Any, table: Any) -> int:
    async with runtime.sessions() as session:
        return int((await execute(session, select(func.count()).select_from(table))).scalar_one())


async def counts(runtime: Any, record: Any) -> tuple[int, int, int, int]:
    """Records, outbox rows, audit entries and remembered keys."""
    idempotency = runtime.idempotency_table
    return (
        await count(runtime, record),
        await count(runtime, runtime.outbox.table),
        await count(runtime, runtime.audit.table),
        await count(runtime, idempotency),
    )


@pytest.fixture
async def reporting(database_url):
    app = create_reporting(unit_settings(ReportingSettings, database_url))
    async with running_app(app) as (client, runtime):
        runtime.idempotency_table = app.state.idempotency.table
        runtime.app = app
        await announce_area(runtime.broker, WARD, "TH-NS-HH", "Phường Hải Hòa")
        await announce_team(runtime.broker, TEAM, WARD)
        yield client, runtime


@pytest.fixture
async def awards(database_url):
    app = create_awards(unit_settings(AwardsSettings, database_url))
    async with running_app(app) as (client, runtime):
        runtime.idempotency_table = app.state.idempotency.table
        runtime.app = app
        await publish_event(
            runtime.broker,
            AreaRegistered(
                area_id=PROVINCE, code="HN", name="Hà Nội", level=AreaLevel.PROVINCE,
                aggregate_version=1,
            ),
        )  # fmt: skip
        await announce_area(runtime.broker, AWARD_WARD, "HN-QA", "Phường Quảng An", PROVINCE)
        await announce_team(runtime.broker, AWARD_TEAM, AWARD_WARD, "Tổ ANTT số 3")
        yield client, runtime


REPORTING_ROUTES = {
    "/incidents": (incident, Incident),
    "/activities": (activity, Activity),
    "/tips": (tip, Incident),
}
AWARDS_ROUTES = {"/nominations": (nomination, Nomination), "/awards": (award, Award)}


async def retry_returns_the_first_answer(
    client: httpx.AsyncClient, runtime: Any, path: str, body: dict[str, Any], record: Any
) -> dict[str, Any]:
    key = str(uuid.uuid4())
    first = await client.post(path, json=body, headers={KEY: key})
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    written = await counts(runtime, record)
    assert written[0] == 1 and written[1] >= 1 and written[2] >= 1 and written[3] == 1
    # The same request again, its JSON written otherwise (key order, spaces): same request.
    again = json.dumps(dict(reversed(list(body.items()))), indent=2, ensure_ascii=False)
    retry = await client.post(
        path, content=again.encode(), headers={KEY: key, "Content-Type": "application/json"}
    )
    assert retry.status_code == 201, retry.text
    assert retry.headers[REPLAYED] == "true"
    assert retry.json() == first.json()
    assert await counts(runtime, record) == written  # no row, event, audit entry or key more
    return first.json()


@pytest.mark.parametrize("path", REPORTING_ROUTES)
async def test_a_reporting_retry_returns_the_first_answer_and_writes_nothing(reporting, path):
    client, runtime = reporting
    make, record = REPORTING_ROUTES[path]
    first = await retry_returns_the_first_answer(client, runtime, path, make(), record)
    if path != "/tips":
        assert (await client.get(f"{path}/{first['id']}")).json() == first


@pytest.mark.parametrize("path", AWARDS_ROUTES)
async def test_an_awards_retry_returns_the_first_answer_and_writes_nothing(awards, path):
    client, runtime = awards
    make, record = AWARDS_ROUTES[path]
    first = await retry_returns_the_first_answer(client, runtime, path, make(), record)
    assert (await client.get(f"{path}/{first['id']}")).json() == first


async def test_the_same_key_for_another_request_is_refused(reporting):
    client, runtime = reporting
    body = incident()
    assert (await client.post("/incidents", json=body, headers={KEY: "k-1"})).status_code == 201
    written = await counts(runtime, Incident)
    for path, other in (
        ("/incidents", {**body, "summary": "Trộm xe đạp"}),  # another body
        ("/activities", activity()),  # another route
    ):
        response = await client.post(path, json=other, headers={KEY: "k-1"})
        assert response.status_code == 422, response.text
        [detail] = response.json()["detail"]
        assert detail["loc"] == ["header", KEY]
        assert "already used for a different request" in detail["msg"]
        assert detail["type"] == "idempotency_key_reused"
        assert REPLAYED not in response.headers
    assert await counts(runtime, Incident) == written
    assert await count(runtime, Activity) == 0


async def test_keys_belong_to_their_caller(reporting):
    client, runtime = reporting
    body = incident()
    mine = await client.post("/incidents", json=body, headers={KEY: "shared-key"})
    other = bearer(Role.ADMIN, subject="another-admin")
    theirs = await client.post("/incidents", json=body, headers={KEY: "shared-key", **other})
    assert mine.status_code == theirs.status_code == 201
    assert REPLAYED not in theirs.headers and theirs.json()["id"] != mine.json()["id"]
    assert await count(runtime, Incident) == 2
    assert await count(runtime, runtime.idempotency_table) == 2


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("", "it is empty"),
        ("k" * 256, "it is longer"),
        ("khóa".encode(), "other characters"),
        ("tab\there", "other characters"),
    ],
)
async def test_a_malformed_key_is_refused_naming_the_header(reporting, key, rule):
    client, runtime = reporting
    response = await client.post("/incidents", json=incident(), headers={KEY: key})
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["header", KEY] and detail["type"] == "invalid_idempotency_key"
    assert "1 to 255 printable ASCII characters" in detail["msg"] and rule in detail["msg"]
    assert await counts(runtime, Incident) == (0, 0, 0, 0)
    longest = await client.post("/incidents", json=incident(), headers={KEY: "k" * 255})
    assert longest.status_code == 201


async def test_a_refused_request_is_not_remembered(reporting):
    client, runtime = reporting
    wrong = await client.post(
        "/incidents", json={**incident(), "area_id": str(uuid.uuid4())}, headers={KEY: "fix-me"}
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "area_id"]
    assert await counts(runtime, Incident) == (0, 0, 0, 0)
    body = incident()
    corrected = await client.post("/incidents", json=body, headers={KEY: "fix-me"})
    assert corrected.status_code == 201 and REPLAYED not in corrected.headers
    retried = await client.post("/incidents", json=body, headers={KEY: "fix-me"})
    assert retried.headers[REPLAYED] == "true" and retried.json() == corrected.json()


async def test_without_a_key_every_request_writes(reporting):
    client, runtime = reporting
    body = incident()
    for _ in range(2):
        response = await client.post("/incidents", json=body)
        assert response.status_code == 201 and REPLAYED not in response.headers
    assert await counts(runtime, Incident) == (2, 2, 2, 0)


async def test_an_expired_key_is_unknown(database_url):
    settings = unit_settings(ReportingSettings, database_url, idempotency_keep_hours=0)
    async with running_app(create_reporting(settings)) as (client, runtime):
        await announce_area(runtime.broker, WARD, "TH-NS-HH")
        await announce_team(runtime.broker, TEAM, WARD)
        body = incident()
        first = await client.post("/incidents", json=body, headers={KEY: "old"})
        again = await client.post("/incidents", json=body, headers={KEY: "old"})
        assert first.status_code == again.status_code == 201
        assert REPLAYED not in again.headers and again.json()["id"] != first.json()["id"]
        assert await count(runtime, Incident) == 2
        # The expired row was replaced by the new one: a retry within the period replays it.
        table = create_reporting_idempotency(runtime).table
        async with runtime.sessions() as session:
            rows = (await execute(session, select(table.c.response))).scalars().all()
        assert [json.loads(row)["id"] for row in rows] == [again.json()["id"]]


def create_reporting_idempotency(runtime: Any, keep_hours: float = 24) -> Idempotency:
    return Idempotency(ReportingTable.metadata, runtime.sessions, keep_hours)


async def test_the_purge_removes_expired_keys_only(reporting):
    client, runtime = reporting
    for key in ("old-1", "old-2", "fresh"):
        response = await client.post("/incidents", json=incident(), headers={KEY: key})
        assert response.status_code == 201
    idempotency: Idempotency = runtime.app.state.idempotency
    table = idempotency.table
    async with transaction(runtime.sessions) as session:
        await execute(
            session,
            update(table)
            .where(table.c.request_key.in_(["old-1", "old-2"]))
            .values(created_at=datetime.now(UTC) - timedelta(hours=25)),
        )
    # Expired and not purged yet: unknown already, so the same key is a new request.
    old = await client.post("/incidents", json=incident(), headers={KEY: "old-2"})
    assert old.status_code == 201 and REPLAYED not in old.headers
    assert await idempotency.purge() == 1
    async with runtime.sessions() as session:
        kept = (await execute(session, select(table.c.request_key))).scalars().all()
    assert sorted(kept) == ["fresh", "old-2"]
    assert await idempotency.purge() == 0


async def with_both_past_the_lookup(
    idempotency: Idempotency, requests: list[Callable[[], Awaitable[httpx.Response]]]
) -> list[httpx.Response]:
    """Run ``requests`` at once, each let past the key lookup only when all have looked
    (and found nothing): every one then writes, and the key's constraint decides."""
    barrier = asyncio.Barrier(len(requests))
    looked_up = 0
    check = idempotency.check

    async def check_then_wait(pending: IdempotentRequest) -> None:
        nonlocal looked_up
        await check(pending)
        looked_up += 1
        if looked_up <= len(requests):  # the losers' second look does not wait
            await asyncio.wait_for(barrier.wait(), timeout=30)

    idempotency.check = check_then_wait  # type: ignore[method-assign]
    try:
        return list(await asyncio.gather(*(request() for request in requests)))
    finally:
        idempotency.check = check  # type: ignore[method-assign]


async def test_concurrent_retries_make_one_incident(reporting):
    client, runtime = reporting
    body, key = incident(), {KEY: "at-once"}
    responses = await with_both_past_the_lookup(
        runtime.app.state.idempotency,
        [lambda: client.post("/incidents", json=body, headers=key) for _ in range(3)],
    )
    assert [r.status_code for r in responses] == [201, 201, 201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sorted(r.headers.get(REPLAYED, "") for r in responses) == ["", "true", "true"]
    assert await counts(runtime, Incident) == (1, 1, 1, 1)
    # And without the barrier: many at once, still one.
    burst = await asyncio.gather(
        *(client.post("/incidents", json=body, headers={KEY: "burst"}) for _ in range(5))
    )
    assert {r.status_code for r in burst} == {201}
    assert len({r.json()["id"] for r in burst}) == 1
    assert await counts(runtime, Incident) == (2, 2, 2, 2)


async def test_concurrent_retries_make_one_nomination(awards):
    client, runtime = awards
    body, key = nomination(), {KEY: "at-once"}
    responses = await with_both_past_the_lookup(
        runtime.app.state.idempotency,
        [lambda: client.post("/nominations", json=body, headers=key) for _ in range(2)],
    )
    assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await counts(runtime, Nomination) == (1, 1, 1, 1)


async def test_concurrent_different_requests_with_one_key_make_one_record(reporting):
    client, runtime = reporting
    key = {KEY: "same-key-two-bodies"}
    first, second = incident(), {**incident(), "summary": "Khác"}
    responses = await with_both_past_the_lookup(
        runtime.app.state.idempotency,
        [
            lambda: client.post("/incidents", json=first, headers=key),
            lambda: client.post("/incidents", json=second, headers=key),
        ],
    )
    assert sorted(r.status_code for r in responses) == [201, 422]
    refused = next(r for r in responses if r.status_code == 422)
    assert refused.json()["detail"][0]["loc"] == ["header", KEY]
    assert await counts(runtime, Incident) == (1, 1, 1, 1)


async def test_a_key_taken_but_not_visible_answers_409_with_retry_after(reporting):
    _, runtime = reporting
    idempotency = create_reporting_idempotency(runtime)
    app = FastAPI()
    idempotency.install(app)
    pending = IdempotentRequest(idempotency, "someone", "gone", "0" * 64, 201, sealed=False)

    @app.post("/raced")
    async def raced() -> None:
        raise IdempotencyKeyTakenError(pending)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/raced")
    assert response.status_code == 409 and response.headers["Retry-After"] == "1"
    assert response.json()["detail"][0]["loc"] == ["header", KEY]


async def test_a_tip_replay_keeps_its_secret_sealed(reporting):
    client, runtime = reporting
    body = tip()
    first = await client.post("/tips", json=body, headers={KEY: "tip-1"})
    assert first.status_code == 201, first.text
    receipt = first.json()
    retry = await client.post("/tips", json=body, headers={KEY: "tip-1"})
    assert retry.headers[REPLAYED] == "true" and retry.json() == receipt
    followed = await client.get(
        f"/tips/{receipt['tip_number']}", headers={"X-Tip-Secret": retry.json()["secret"]}
    )
    assert followed.status_code == 200
    assert await count(runtime, TipOff) == 1
    # Another tip under the same key learns nothing of the first.
    other = await client.post(
        "/tips", json={**body, "summary": "Tụ tập đánh bạc"}, headers={KEY: "tip-1"}
    )
    assert other.status_code == 422
    assert receipt["secret"] not in other.text and receipt["tip_number"] not in other.text
    assert await count(runtime, TipOff) == 1
    # Stored sealed: no secret, tip number, informant or hash of what the informant sent.
    table = runtime.idempotency_table
    async with runtime.sessions() as session:
        [row] = (await execute(session, select(table))).mappings().all()
    stored = json.dumps({name: str(value) for name, value in row.items()}, ensure_ascii=False)
    plain_fingerprint = fingerprint("POST", "/tips", "anonymous", json.dumps(body).encode())
    for value in (
        receipt["secret"], receipt["tip_number"], INFORMANT_NAME, INFORMANT_CONTACT,
        plain_fingerprint,
    ):  # fmt: skip
        assert value not in stored
    assert row["sealed"] is True and row["caller"] == "anonymous"
    assert row["response"].startswith("gAAAA") and row["fingerprint"].startswith("gAAAA")
    vault = InformantVault([TEST_INFORMANT_KEY])
    assert json.loads(vault.open_text(row["response"])) == receipt
    assert vault.open_text(row["fingerprint"]) == plain_fingerprint

    # Informant key rotation reseals the kept receipts too: the old key may then go.
    new_key = Fernet.generate_key().decode()
    rotated = Idempotency(
        ReportingTable.metadata,
        runtime.sessions,
        24,
        sealer=InformantVault([new_key, TEST_INFORMANT_KEY]),
    )
    async with transaction(runtime.sessions) as session:
        assert await rotated.reseal(session) == 1
    only_new = Idempotency(
        ReportingTable.metadata, runtime.sessions, 24, sealer=InformantVault([new_key])
    )
    pending = IdempotentRequest(only_new, "anonymous", "tip-1", plain_fingerprint, 201, True)
    with pytest.raises(IdempotentReplay) as replayed:
        await only_new.check(pending)
    assert json.loads(replayed.value.body) == receipt


async def test_a_tip_replay_does_not_count_against_the_tip_limit(database_url):
    settings = unit_settings(ReportingSettings, database_url, tips_per_client_per_minute=1)
    async with running_app(create_reporting(settings)) as (client, runtime):
        await announce_area(runtime.broker, WARD, "TH-NS-HH")
        body = tip()
        first = await client.post("/tips", json=body, headers={KEY: "tip-limit"})
        retry = await client.post("/tips", json=body, headers={KEY: "tip-limit"})
        assert first.status_code == retry.status_code == 201
        assert retry.json() == first.json()
        assert (await client.post("/tips", json=tip())).status_code == 429
