"""`antt rebuild` on real Kafka and PostgreSQL: the three services, as processes, live through
a history driven over HTTP (area moves, a renamed area, team dissolutions, members joining
and leaving, incidents through their statuses, duplicate links, activities,
awards granted and revoked, a suggestion accepted) plus records delivered twice; then, with
the services stopped, each rebuild reads the log again through the service's own handlers
and must land on the same read models, row for row, leaving the services' own tables as
they were. While an instance serves, the rebuild refuses.

The services get a Kafka broker of their own: the session broker is shared with the
session ``stack``, whose services join the very same consumer groups (``awards.registry.team``
…) — they would split the partitions with these, and the rebuild would rightly refuse to run
while they are members."""

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData, select

from services.awards.app import READ_MODELS as AWARDS_READ_MODELS
from services.awards.models import AwardsTable
from services.registry.app import READ_MODELS as REGISTRY_READ_MODELS
from services.registry.models import RegistryTable
from services.reporting.app import READ_MODELS as REPORTING_READ_MODELS
from services.reporting.app import RECOUNTED
from services.reporting.models import ReportingTable
from shared.db import create_engine
from shared.lag import measure_consumer_lag
from shared.local_kafka import LocalKafka
from shared.metrics import ConsumerLagMetrics
from shared.migrations import define_shared_tables
from shared.rebuild import connect_admin, group_members, topic_partitions
from shared.settings import PROJECT_ROOT
from tests.integration.conftest import (
    NOT_HEARD_OF_YET,
    SERVICES,
    Service,
    start_service,
    wait_ready,
)
from tests.support import bearer

pytestmark = pytest.mark.integration

# Each service's consumer groups (group → topic): <service>.<topic> of what it handles.
GROUPS = {
    "registry": {"registry.awards.award": "awards.award"},
    "reporting": {
        "reporting.registry.area": "registry.area",
        "reporting.registry.team": "registry.team",
    },
    "awards": {
        "awards.registry.area": "registry.area",
        "awards.registry.team": "registry.team",
        "awards.reporting.incident": "reporting.incident",
        "awards.reporting.activity": "reporting.activity",
    },
}
METADATA: dict[str, MetaData] = {
    "registry": RegistryTable.metadata,
    "reporting": ReportingTable.metadata,
    "awards": AwardsTable.metadata,
}
REBUILT = {
    "registry": {model.__table__.name for model in REGISTRY_READ_MODELS},
    "reporting": {model.__table__.name for model in REPORTING_READ_MODELS + RECOUNTED},
    "awards": {model.__table__.name for model in AWARDS_READ_MODELS},
}
# Columns that legitimately differ after a rebuild, because they say when or by which random
# draw a row was made, not what it holds: the surrogate ids (uuid4) of score entries and
# member credits, the moment an entry was scored, the moment an inbox row claimed its
# event. Everything else must be equal.
WALL_CLOCK = {
    "scoreentry": {"id", "created_at"},
    "membercredit": {"id"},
    "inbox": {"processed_at"},
}
# A tally row a change left at zero says nothing; a recount does not make it again.
TALLY_VALUES = {"incidenttally": "incidents", "activitytally": "activities",
                "measuretally": "quantity_milli"}  # fmt: skip


def stop(service: Service) -> None:
    if service.process.poll() is None:
        service.process.terminate()
    try:
        service.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        service.process.kill()
        service.process.wait()


def antt(service: Service, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The `antt` command with the same ANTT_* environment as the service's process."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=PROJECT_ROOT,
        env=service.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- the database, read as it is -------------------------------------------------------------


def _text(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True, ensure_ascii=False)


async def snapshot(name: str, url: str) -> dict[str, Counter[str]]:
    """Every row of every table of the service, each as one line of text (a multiset per
    table), without the wall-clock columns and zero tallies."""
    metadata = MetaData()
    for table in METADATA[name].sorted_tables:
        table.to_metadata(metadata)
    define_shared_tables(metadata)
    engine = create_engine(url)
    found: dict[str, Counter[str]] = {}
    try:
        async with engine.connect() as connection:
            for table in metadata.sorted_tables:
                rows = (await connection.execute(select(table))).mappings().all()
                lines: Counter[str] = Counter()
                for row in rows:
                    if table.name in TALLY_VALUES and row[TALLY_VALUES[table.name]] == 0:
                        continue
                    skip = WALL_CLOCK.get(table.name, set())
                    lines[_text({k: v for k, v in row.items() if k not in skip})] += 1
                found[table.name] = lines
    finally:
        await engine.dispose()
    return found


def differences(before: dict[str, Counter[str]], after: dict[str, Counter[str]]) -> list[str]:
    found = []
    for table in sorted(before):
        missing = before[table] - after[table]
        extra = after[table] - before[table]
        for line in missing.elements():
            found.append(f"{table}: lost    {line}")
        for line in extra.elements():
            found.append(f"{table}: gained  {line}")
    return found


async def pending_outbox(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            metadata = MetaData()
            define_shared_tables(metadata)
            outbox = metadata.tables["outbox"]
            query = select(outbox.c.id).where(outbox.c.published_at.is_(None))
            return len((await connection.execute(query)).all())
    finally:
        await engine.dispose()


async def wait_idle(kafka: LocalKafka, services: dict[str, Service], within: float = 120) -> None:
    """Until every outbox is published and no consumer group lags, twice in a row."""
    groups = {group: topic for name in SERVICES for group, topic in GROUPS[name].items()}
    deadline = time.monotonic() + within
    quiet = 0
    last: Any = None
    while quiet < 2:
        assert time.monotonic() < deadline, f"the services did not become idle: {last}"
        outboxes = {name: await pending_outbox(s.database_url) for name, s in services.items()}
        lag = await measure_consumer_lag(
            kafka.bootstrap_servers, groups, ConsumerLagMetrics(CollectorRegistry())
        )
        lagging = {key: value for key, value in lag.items() if value}
        last = (outboxes, lagging)
        idle = not any(outboxes.values()) and not lagging and len(lag) >= len(groups)
        quiet = quiet + 1 if idle else 0
        await asyncio.sleep(1.0)


async def members_of(kafka: LocalKafka, name: str) -> list[Any]:
    admin = await connect_admin(kafka.bootstrap_servers)
    try:
        return await group_members(admin, sorted(GROUPS[name]))
    finally:
        await admin.close()


async def until(check: Callable[[], Any], within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.5)


# --- the history ----------------------------------------------------------------------------


class Client:
    def __init__(self, services: dict[str, Service]) -> None:
        self.urls = {name: service.url for name, service in services.items()}
        self.http = httpx.AsyncClient(timeout=20, headers=bearer())

    async def call(self, service: str, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, self.urls[service] + path, json=body)
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
        return response.json()

    async def post(self, service: str, path: str, body: Any = None) -> Any:
        return await self.call(service, "POST", path, body if body is not None else {})

    async def eventually(self, service: str, path: str, body: Any) -> Any:
        """POST until the service has heard of what the body names (409 not_yet_known or
        422 until then)."""

        async def attempt() -> Any:
            response = await self.http.post(self.urls[service] + path, json=body)
            if response.status_code in NOT_HEARD_OF_YET:
                return None
            assert response.status_code in (200, 201), f"POST {path}: {response.text}"
            return response.json()

        return await until(attempt)


async def drive_history(client: Client, tag: str) -> None:
    registry = "registry"

    async def area(code: str, level: str, parent: str | None = None) -> str:
        body = {"code": f"{tag}-{code}", "name": code, "level": level, "parent_id": parent}
        return (await client.post(registry, "/areas", body))["id"]

    province = await area("P", "province")
    ward_a = await area("WA", "ward", province)
    ward_b = await area("WB", "ward", province)
    group_a = await area("WA-1", "residential_group", ward_a)
    group_b = await area("WB-1", "residential_group", ward_b)

    async def team(name: str, where: str, members: list[tuple[str, str]]) -> dict:
        body = {
            "area_id": where,
            "name": name,
            "kind": "security_order",
            "members": [{"full_name": n, "role": role} for n, role in members],
        }
        return await client.post(registry, "/teams", body)

    team_a = await team(
        "Tổ ANTT số 1",
        group_a,
        [("Nguyễn Chu Thực", "leader"), ("Trần Văn Bình", "deputy"), ("Lê Thị Cúc", "member")],
    )
    team_b = await team("Tổ ANTT số 2", group_b, [("Phạm Văn Dũng", "leader")])
    team_c = await team("Tổ bảo vệ dân phố", ward_b, [("Hoàng Thị Em", "leader")])
    member = next(m for m in team_a["members"] if m["role"] == "member")["person_id"]
    await client.post(registry, f"/teams/{team_b['id']}/members", {"full_name": "Vũ Văn Giang"})

    now = datetime.now(UTC)

    async def incident(where: str, teams: list[dict], hours: float, **extra: Any) -> str:
        body = {
            "area_id": where,
            "category": "theft",
            "source": "patrol",
            "summary": "Trộm xe máy",
            "occurred_at": (now - timedelta(hours=hours)).isoformat(),
            "team_ids": [t["id"] for t in teams],
            **extra,
        }
        return (await client.eventually("reporting", "/incidents", body))["id"]

    async def status(incident_id: str, *statuses: str) -> None:
        for to in statuses:
            await client.post(
                "reporting",
                f"/incidents/{incident_id}/status",
                {"status": to, "reason": "xác minh"},
            )

    async def duplicate(incident_id: str, of: str) -> None:
        body = {"duplicate_of": of, "reason": "Cùng một vụ"}
        await client.post("reporting", f"/incidents/{incident_id}/duplicate-of", body)

    first = await incident(group_a, [team_a], 2)
    await status(first, "verified", "resolved")
    second = await incident(group_a, [team_a], 30, category="drugs")
    await status(second, "verified", "resolved")
    repeat = await incident(group_a, [team_a], 3)
    await duplicate(repeat, first)
    mediated = await incident(group_b, [team_b], 5, category="dispute")
    await status(mediated, "verified", "mediated")
    tip = await incident(group_b, [team_b], 6, source="resident_tip")
    await status(tip, "verified", "resolved")
    late_repeat = await incident(group_b, [team_b], 7)
    await status(late_repeat, "verified", "resolved")
    await duplicate(late_repeat, tip)  # a resolved incident proves a duplicate afterwards
    false_alarm = await incident(ward_b, [team_c], 24 * 35, category="fraud")
    await status(false_alarm, "dismissed")
    await client.post(
        "reporting",
        "/tips",
        {
            "area_id": group_b,
            "category": "drugs",
            "summary": "Nghi có điểm mua bán",
            "occurred_at": (now - timedelta(hours=1)).isoformat(),
            "informant": {"full_name": "Người báo tin", "contact": "09xx"},
        },
    )
    today = date.today().isoformat()
    for body in (
        {"area_id": group_a, "activity_type": "patrol", "team_ids": [team_a["id"]],
         "measures": [{"item": "patrols", "quantity": 3}]},
        {"area_id": group_b, "activity_type": "mediation", "outcome": "successful",
         "team_ids": [team_b["id"]], "measures": [{"item": "cases", "quantity": 1}]},
        {"area_id": ward_a, "activity_type": "outreach", "team_ids": [team_a["id"]],
         "measures": [{"item": "sessions", "quantity": 2},
                      {"item": "people_reached", "quantity": 250}]},
        {"area_id": group_b, "activity_type": "household_pledge",
         "measures": [{"item": "households", "quantity": 120}]},
        {"area_id": group_a, "activity_type": "weapons_handover",
         "measures": [{"item": "explosives", "unit": "kg", "quantity": "1.5"}]},
    ):  # fmt: skip
        await client.eventually("reporting", "/activities", {"occurred_on": today, **body})

    # awards: team A is nominated and honoured; team B's award is revoked; a person is
    # honoured; an area's award (not on any registry profile) is revoked.
    async def award(recipient_kind: str, recipient_id: str, reason: str) -> dict:
        body = {
            "recipient_kind": recipient_kind,
            "recipient_id": recipient_id,
            "award_form": "giay_khen",
            "authority": "ward_committee",
            "reason": reason,
        }
        nomination = await client.eventually("awards", "/nominations", body)
        decision = {"decision_number": f"{uuid.uuid4().hex[:4]}/QĐ-UBND", "decided_on": today}
        return await client.post("awards", f"/nominations/{nomination['id']}/approve", decision)

    await award("collective", team_a["id"], "Bắt quả tang trộm xe máy")
    revoked = await award("collective", team_b["id"], "Hoà giải thành")
    await award("individual", member, "Tích cực tuần tra")
    await client.post("awards", f"/awards/{revoked['id']}/revoke", {"reason": "Gian dối"})
    area_award = await client.post(
        "awards",
        "/awards",
        {
            "recipient_kind": "collective",
            "recipient_id": ward_b,
            "award_form": "giay_khen",
            "authority": "ward_committee",
            "reason": "Phường an toàn",
            "decision_number": "7/QĐ-UBND",
            "decided_on": today,
        },
    )
    await client.post("awards", f"/awards/{area_award['id']}/revoke", {"reason": "Nhầm"})

    # team A's 20 points suggested a nomination: an officer accepts it
    async def suggestion() -> Any:
        listed = await client.call("awards", "GET", "/suggestions?limit=200")
        return next((s for s in listed if s["subject_id"] == team_a["id"]), None)

    accepted = await until(suggestion)
    await client.post("awards", f"/suggestions/{accepted['id']}/accept")

    # registry changes: group A moves to ward B, ward A is renamed, the member leaves team A,
    # team C is dissolved, team B is renamed
    await client.post(registry, f"/areas/{group_a}/move", {"parent_id": ward_b})
    await client.call(registry, "PATCH", f"/areas/{ward_a}", {"name": "Phường Quảng An"})
    await client.post(
        registry, f"/teams/{team_a['id']}/members/{member}/leave", {"reason": "Chuyển đi"}
    )
    await client.post(
        registry, f"/teams/{team_c['id']}/dissolve", {"dissolved_on": today, "reason": "Sáp nhập"}
    )
    await client.call(registry, "PATCH", f"/teams/{team_b['id']}", {"name": "Tổ ANTT số 2B"})
    # and more work after the moves: incidents in the moved group
    after_move = await incident(group_a, [team_a], 1)
    await status(after_move, "verified", "resolved")


async def deliver_again(kafka: LocalKafka) -> int:
    """Publish some already-delivered records a second time, as they were (same ce_id)."""
    wanted = {
        "registry.area": {"vn.antt.area_moved": 1, "vn.antt.area_registered": 1},
        "registry.team": {"vn.antt.member_joined": 2, "vn.antt.team_dissolved": 1},
        "reporting.incident": {"vn.antt.incident_status_changed": 3, "vn.antt.incident_linked": 1},
        "reporting.activity": {"vn.antt.activity_logged": 1},
        "awards.award": {"vn.antt.award_granted": 1, "vn.antt.award_revoked": 1},
    }
    admin = await connect_admin(kafka.bootstrap_servers)
    try:
        partitions = await topic_partitions(admin, sorted(wanted))
    finally:
        await admin.close()
    reader = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    picked = []
    await reader.start()
    try:
        for topic, types in wanted.items():
            tps = partitions[topic]
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            ends = await reader.end_offsets(tps)
            left = dict(types)
            while sum(left.values()):
                for records in (await reader.getmany(timeout_ms=1000)).values():
                    for record in records:
                        ce_type = dict(record.headers).get("ce_type", b"").decode()
                        if left.get(ce_type):
                            left[ce_type] -= 1
                            picked.append(record)
                read_all = [await reader.position(tp) >= ends[tp] for tp in tps]
                assert not all(read_all) or not sum(left.values()), f"{topic}: no {left}"
    finally:
        await reader.stop()
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for record in picked:
            await producer.send_and_wait(
                record.topic, value=record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()
    return len(picked)


# --- the test ----------------------------------------------------------------------------------


async def test_rebuilt_read_models_equal_those_built_live(own_kafka, postgres, tmp_path):
    urls = {name: await postgres.create_database(f"rebuild_{name}") for name in SERVICES}
    services = {name: start_service(name, own_kafka, tmp_path, urls[name]) for name in SERVICES}
    try:
        for service in services.values():
            wait_ready(service)
        client = Client(services)
        try:
            await drive_history(client, uuid.uuid4().hex[:6].upper())
        finally:
            await client.http.aclose()
        await wait_idle(own_kafka, services)
        assert await deliver_again(own_kafka) == 12
        await wait_idle(own_kafka, services)
        for name, service in services.items():
            skipped = [
                line
                for line in service.log_lines()
                if line.get("event") in ("event_duplicates_skipped", "event_duplicate_skipped")
            ]
            assert skipped, f"{name} saw no duplicate delivery"
            assert not [
                line for line in service.log_lines() if line.get("event") == "event_dead_lettered"
            ], name
    finally:
        for service in services.values():
            stop(service)
    live = {name: await snapshot(name, urls[name]) for name in SERVICES}
    for name, tables in REBUILT.items():
        for table in tables:
            assert live[name][table], f"the history left {name}.{table} empty"

    # While an instance serves, the rebuild refuses and changes nothing.
    awards = start_service("awards", own_kafka, tmp_path, urls["awards"])
    try:
        wait_ready(awards)
        await until(lambda: members_of(own_kafka, "awards"))
        refused = antt(awards, "rebuild", "awards")
        output = " ".join((refused.stdout + refused.stderr).split())  # Rich wraps lines
        assert refused.returncode == 1, output
        assert "awards is being served" in output and "awards.registry.team" in output
        assert "docker compose stop awards" in output and "antt serve awards" in output
    finally:
        stop(awards)
    await until(lambda: no_members(own_kafka, "awards"))
    assert await snapshot("awards", urls["awards"]) == live["awards"]

    timings = {}
    for name in ("awards", "reporting", "registry"):
        started = time.monotonic()
        done = antt(services[name], "rebuild", name, "--timeout", "300")
        timings[name] = time.monotonic() - started
        output = done.stdout + done.stderr
        print(f"\n--- antt rebuild {name} ({timings[name]:.1f}s) ---\n{output}")
        assert done.returncode == 0, output
        assert "event(s) applied" in output

    found = []
    for name in SERVICES:
        found += [
            f"{name}.{line}" for line in differences(live[name], await snapshot(name, urls[name]))
        ]
    memberships = "\n".join(
        f"(live) awards.knownmembership: {line}" for line in live["awards"]["knownmembership"]
    )
    assert not found, "after the rebuilds:\n" + "\n".join(found) + "\n" + memberships


async def no_members(kafka: LocalKafka, name: str) -> bool:
    return not await members_of(kafka, name)
