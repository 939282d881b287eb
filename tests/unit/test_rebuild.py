"""`antt rebuild`, the parts that need no Kafka: which tables each service empties and why,
that its handlers write nothing else (and no outbox row), that emptying keeps the service's
own records and sets foreign keys aside only meanwhile, that reporting's tally recount
equals the tallies it keeps change by change, and the refusal while an instance serves."""

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from services.awards.app import Settings as AwardsSettings
from services.awards.app import create_app as awards_app
from services.registry.app import Settings as RegistrySettings
from services.registry.app import create_app as registry_app
from services.reporting.app import Settings as ReportingSettings
from services.reporting.app import create_app as reporting_app
from services.reporting.models import IncidentTally, KnownArea
from shared.db import execute, transaction
from shared.events import (
    ActivityLogged,
    ActivityMeasure,
    AreaLevel,
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    AwardGranted,
    AwardRevoked,
    IncidentLinked,
    IncidentReported,
    IncidentSource,
    IncidentStatus,
    IncidentStatusChanged,
    MemberJoined,
    MemberLeft,
    RecipientKind,
    TeamDissolved,
    TeamRegistered,
    TeamRole,
    TeamUpdated,
)
from shared.rebuild import (
    Member,
    Reference,
    active_members,
    empty_tables,
    rebuild_plan,
    references_into,
    restore_references,
    running_message,
)
from tests.support import publish_event, running_app, unit_settings

# --- what each service declares ---------------------------------------------------------


def names(tables: Any) -> set[str]:
    return {table.name for table in tables}


def test_each_service_declares_its_read_models(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    registry = registry_app(unit_settings(RegistrySettings, url)).state.runtime
    reporting = reporting_app(unit_settings(ReportingSettings, url)).state.runtime
    awards = awards_app(unit_settings(AwardsSettings, url)).state.runtime

    assert names(registry.rebuild_plan.read_models) == {"honour", "revokedaward"}
    assert registry.rebuild_plan.recomputed == ()
    assert names(reporting.rebuild_plan.read_models) == {"knownarea", "knownteam"}
    assert names(reporting.rebuild_plan.recomputed) == {
        "incidenttally",
        "activitytally",
        "measuretally",
    }
    assert reporting.rebuild_plan.recompute is not None
    assert names(awards.rebuild_plan.read_models) == {
        "knownarea",
        "knownteam",
        "knownperson",
        "knownmembership",
        "trackedincident",
        "trackedactivity",
        "teamcontribution",
        "scoreentry",
        "scoremonth",
        "membercredit",
    }
    # Officers' decisions stay: suggestions (accepted or dismissed), nominations, awards,
    # rewarded achievements, certifications.
    kept = set(awards.metadata.tables) - names(awards.rebuild_plan.emptied)
    assert {
        "suggestion",
        "nomination",
        "award",
        "rewardedachievement",
        "certification",
        "certificationevaluation",
    } <= kept

    # Only reporting's own records point into its read models.
    assert references_into(registry.metadata, registry.rebuild_plan.emptied) == []
    assert references_into(awards.metadata, awards.rebuild_plan.emptied) == []
    assert {
        (r.table, r.columns, r.referred_table)
        for r in references_into(reporting.metadata, reporting.rebuild_plan.emptied)
    } == {
        ("incident", ("area_id",), "knownarea"),
        ("activity", ("area_id",), "knownarea"),
        ("incidentteam", ("team_id",), "knownteam"),
        ("activityteam", ("team_id",), "knownteam"),
    }


def test_a_plan_never_empties_what_the_service_wrote_itself(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    runtime = reporting_app(unit_settings(ReportingSettings, url)).state.runtime
    for own in (runtime.outbox.table, runtime.inbox.table, runtime.audit.table):
        with pytest.raises(ValueError, match="never emptied"):
            rebuild_plan(runtime.metadata, [own])
    with pytest.raises(ValueError, match="not a table of this service"):
        registry = registry_app(unit_settings(RegistrySettings, url)).state.runtime
        rebuild_plan(runtime.metadata, [registry.metadata.tables["honour"]])
    with pytest.raises(ValueError, match="recomputes them"):
        rebuild_plan(runtime.metadata, [KnownArea], recomputed=[IncidentTally])


# --- the handlers write nothing but the declared tables -------------------------------------


def _value(value: Any) -> Any:
    return json.dumps(value, default=str, sort_keys=True)


async def snapshot(runtime) -> dict[str, set[tuple]]:
    """Every row of every table of the service (as text, so JSON columns compare); of the
    outbox only which events it holds (the relay marks them sent meanwhile)."""
    outbox = runtime.outbox.table
    async with runtime.engine.connect() as connection:
        return {
            table.name: {
                tuple(_value(v) for v in row)
                for row in await connection.execute(
                    select(outbox.c.event_id) if table is outbox else select(table)
                )
            }
            for table in runtime.metadata.sorted_tables
        }


def changed(before: dict[str, set], after: dict[str, set]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def area(area_id, code, level, parent=None, version=1) -> AreaRegistered:
    return AreaRegistered(
        area_id=area_id, code=code, name=code, level=level, parent_id=parent,
        aggregate_version=version,
    )  # fmt: skip


def team(team_id, area_id, version=1) -> TeamRegistered:
    return TeamRegistered(
        team_id=team_id, area_id=area_id, name="Tổ ANTT", kind="security_order",
        aggregate_version=version,
    )  # fmt: skip


async def test_awards_handlers_write_only_read_models_and_suggestions(database_url) -> None:
    app = awards_app(unit_settings(AwardsSettings, database_url))
    async with running_app(app) as (_, runtime):
        before = await snapshot(runtime)
        ward, group, team_id, person = (uuid.uuid4() for _ in range(4))
        now = datetime.now(UTC)
        incidents = [uuid.uuid4() for _ in range(3)]
        events: list[Any] = [
            area(ward, "W", AreaLevel.WARD),
            area(group, "W-1", AreaLevel.RESIDENTIAL_GROUP, ward),
            AreaUpdated(
                area_id=group, code="W-1", name="TDP 1", households=80, aggregate_version=2,
            ),
            AreaMoved(
                area_id=group, code="W-1", from_parent_id=ward, to_parent_id=None,
                aggregate_version=3,
            ),
            team(team_id, group),
            TeamUpdated(
                team_id=team_id, area_id=group, name="Tổ 1", kind="security_order",
                aggregate_version=2,
            ),
            MemberJoined(
                team_id=team_id, area_id=group, person_id=person, full_name="Lê Thị Cúc",
                role=TeamRole.LEADER, aggregate_version=3,
            ),
        ]  # fmt: skip
        for incident in incidents:
            common = {"incident_id": incident, "area_id": group, "category": "theft"}
            events += [
                IncidentReported(
                    **common, category_group="crime", source=IncidentSource.PATROL,
                    status=IncidentStatus.REPORTED, occurred_at=now, reported_at=now,
                    credited_team_ids=[team_id], aggregate_version=1,
                ),
                IncidentStatusChanged(
                    **common, from_status=IncidentStatus.REPORTED,
                    to_status=IncidentStatus.RESOLVED, changed_at=now,
                    credited_team_ids=[team_id], aggregate_version=2,
                ),
            ]  # fmt: skip
        events += [
            IncidentLinked(
                incident_id=incidents[2], duplicate_of=incidents[0], area_id=group,
                category="theft", linked_at=now, aggregate_version=3,
            ),
            ActivityLogged(
                activity_id=uuid.uuid4(), area_id=group, activity_type="patrol",
                occurred_on=now.date(), team_ids=[team_id], aggregate_version=1,
                measures=[ActivityMeasure(item="patrols", unit="count", quantity=Decimal(3))],
            ),
            MemberLeft(
                team_id=team_id, area_id=group, person_id=person, role=TeamRole.LEADER,
                left_on=now.date(), reason="Chuyển đi", aggregate_version=4,
            ),
            TeamDissolved(
                team_id=team_id, area_id=group, dissolved_on=now.date(), reason="Sáp nhập",
                aggregate_version=5,
            ),
        ]  # fmt: skip
        for event in events:
            await publish_event(runtime.broker, event)
        after = await snapshot(runtime)

    plan = runtime.rebuild_plan
    assert changed(before, after) == names(plan.read_models) | {"inbox", "suggestion"}
    # A suggestion is the one row handlers add outside the read models: officers decide
    # on it, so a rebuild keeps it, and the replay finds it there instead of adding another.
    assert len(after["suggestion"]) == 1


async def test_reporting_handlers_write_only_read_models(database_url) -> None:
    app = reporting_app(unit_settings(ReportingSettings, database_url))
    async with running_app(app) as (_, runtime):
        before = await snapshot(runtime)
        ward_a, ward_b, group, team_id = (uuid.uuid4() for _ in range(4))
        for event in (
            area(ward_a, "W-A", AreaLevel.WARD),
            area(ward_b, "W-B", AreaLevel.WARD),
            area(group, "W-A-1", AreaLevel.RESIDENTIAL_GROUP, ward_a),
            AreaUpdated(area_id=group, code="W-A-1", name="TDP 1", aggregate_version=2),
            AreaMoved(
                area_id=group, code="W-A-1", from_parent_id=ward_a, to_parent_id=ward_b,
                aggregate_version=3,
            ),
            team(team_id, group),
            TeamUpdated(
                team_id=team_id, area_id=group, name="Tổ 1", kind="security_order",
                aggregate_version=2,
            ),
            TeamDissolved(
                team_id=team_id, area_id=group, dissolved_on=date.today(), reason="Sáp nhập",
                aggregate_version=3,
            ),
        ):  # fmt: skip
            await publish_event(runtime.broker, event)
        after = await snapshot(runtime)
    assert changed(before, after) == {"knownarea", "knownteam", "inbox"}


async def test_registry_handlers_write_only_the_honours(database_url) -> None:
    app = registry_app(unit_settings(RegistrySettings, database_url))
    async with running_app(app) as (client, runtime):
        ward = await client.post("/areas", json={"code": "HN-W", "name": "P", "level": "ward"})
        team_body = {
            "area_id": ward.json()["id"],
            "name": "Tổ bảo vệ dân phố",
            "kind": "civil_defence",
            "members": [{"full_name": "Nguyễn Chu Thực", "role": "leader"}],
        }
        created = await client.post("/teams", json=team_body)
        assert created.status_code == 201, created.text
        team_id = uuid.UUID(created.json()["id"])
        before = await snapshot(runtime)
        award_id, elsewhere = uuid.uuid4(), uuid.uuid4()
        common = {"recipient_kind": RecipientKind.COLLECTIVE, "reason": "Thành tích"}
        granted = {
            **common, "nomination_id": uuid.uuid4(), "recipient_name": "Tổ",
            "award_form": "giay_khen", "authority": "ward_committee", "decision_number": "1/QĐ",
            "granted_on": datetime.now(UTC), "aggregate_version": 1,
        }  # fmt: skip
        for event in (
            AwardGranted(award_id=award_id, recipient_id=team_id, **granted),
            AwardRevoked(
                award_id=award_id, recipient_id=team_id, revoked_on=date.today(),
                aggregate_version=2, **common,
            ),
            # an area's award: not on a registry profile, its revocation is remembered
            AwardGranted(award_id=elsewhere, recipient_id=uuid.uuid4(), **granted),
            AwardRevoked(
                award_id=elsewhere, recipient_id=uuid.uuid4(), revoked_on=date.today(),
                aggregate_version=2, **common,
            ),
        ):  # fmt: skip
            await publish_event(runtime.broker, event)
        after = await snapshot(runtime)
    assert changed(before, after) == {"honour", "revokedaward", "inbox"}


# --- emptying, and the foreign keys meanwhile -------------------------------------------


async def foreign_keys(runtime) -> dict[str, bool]:
    """Reporting's foreign keys into its read models: name → validated (PostgreSQL)."""
    async with runtime.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            return {}
        rows = await connection.execute(
            text(
                "SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' "
                "AND confrelid::regclass::text IN ('knownarea', 'knownteam')"
            )
        )
        return dict(rows.all())


async def seeded_reporting(runtime, client) -> list[Any]:
    ward, group, team_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = [
        area(ward, "W-A", AreaLevel.WARD),
        area(group, "W-A-1", AreaLevel.RESIDENTIAL_GROUP, ward),
        team(team_id, group),
    ]
    for event in events:
        await publish_event(runtime.broker, event)
    incident = {
        "area_id": str(group),
        "category": "theft",
        "source": "patrol",
        "summary": "Trộm xe máy",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
        "team_ids": [str(team_id)],
    }
    assert (await client.post("/incidents", json=incident)).status_code == 201
    activity = {
        "area_id": str(ward),
        "activity_type": "patrol",
        "occurred_on": date.today().isoformat(),
        "measures": [{"item": "patrols", "quantity": 2}],
        "team_ids": [str(team_id)],
    }
    assert (await client.post("/activities", json=activity)).status_code == 201
    return events


async def test_emptying_keeps_own_records_and_sets_foreign_keys_aside(database_url) -> None:
    app = reporting_app(unit_settings(ReportingSettings, database_url))
    async with running_app(app) as (client, runtime):
        events = await seeded_reporting(runtime, client)
        inbox = runtime.inbox.table
        async with transaction(runtime.sessions) as session:
            await execute(
                session,
                inbox.insert().values(
                    event_id="e", consumer="reporting.some-old-group", event_type="x",
                    processed_at=datetime.now(UTC),
                )
            )  # fmt: skip
        keys = await foreign_keys(runtime)
        before = await snapshot(runtime)
        plan = runtime.rebuild_plan
        references = references_into(runtime.metadata, plan.emptied)

        removed, dropped = await empty_tables(
            runtime.engine, plan, inbox, runtime.consumer.groups, references
        )
        after = await snapshot(runtime)
        assert (removed["knownarea"], removed["knownteam"], removed["inbox"]) == (2, 1, 3)
        assert removed["incidenttally"] > 0 and removed["measuretally"] > 0
        for name in names(plan.emptied):
            assert after[name] == set(), name
        kept = set(before) - names(plan.emptied) - {"inbox"}
        assert {name for name in kept if before[name] != after[name]} == set()
        assert [row[1] for row in after["inbox"]] == [_value("reporting.some-old-group")]
        if runtime.engine.dialect.name == "postgresql":
            assert len(keys) == 4 and all(keys.values())
            assert set(dropped.values()) == set(keys) and await foreign_keys(runtime) == {}

        # The log tells it all again: every reference is whole, the keys come back as before.
        for event in events:
            await publish_event(runtime.broker, event)
        problems = await restore_references(runtime.engine, runtime.metadata, references, dropped)
        assert problems == []
        assert await foreign_keys(runtime) == keys

        # Had the log lost the team, the rows pointing at it are named, and on PostgreSQL
        # the key comes back NOT VALID (it holds for new rows).
        removed, dropped = await empty_tables(
            runtime.engine, plan, inbox, runtime.consumer.groups, references
        )
        await publish_event(runtime.broker, events[0])
        await publish_event(runtime.broker, events[1])
        problems = await restore_references(runtime.engine, runtime.metadata, references, dropped)
        assert len(problems) == 2
        assert all("knownteam rows the log did not rebuild" in problem for problem in problems)
        if runtime.engine.dialect.name == "postgresql":
            now = await foreign_keys(runtime)
            assert set(now) == set(keys)
            assert {name for name, valid in now.items() if not valid} == {
                "incidentteam_team_id_fkey",
                "activityteam_team_id_fkey",
            }


async def test_a_key_lost_by_an_interrupted_rebuild_comes_back(database_url) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite keeps its keys: a rebuild only stops enforcing them for a moment")
    app = reporting_app(unit_settings(ReportingSettings, database_url))
    async with running_app(app) as (client, runtime):
        await seeded_reporting(runtime, client)
        keys = await foreign_keys(runtime)
        async with runtime.engine.begin() as connection:
            await connection.execute(
                text("ALTER TABLE incident DROP CONSTRAINT incident_area_id_fkey")
            )
        references = references_into(runtime.metadata, runtime.rebuild_plan.emptied)
        assert await restore_references(runtime.engine, runtime.metadata, references, {}) == []
        assert await foreign_keys(runtime) == keys

        def reflected(sync_connection: Any) -> list[Any]:
            return inspect(sync_connection).get_foreign_keys("incident")

        async with runtime.engine.connect() as connection:
            fks = await connection.run_sync(reflected)
        assert [(fk["name"], fk["referred_table"]) for fk in fks] == [
            ("incident_area_id_fkey", "knownarea")
        ]


# --- reporting's tallies: a recount equals what was kept change by change ------------------


async def tallies(runtime) -> dict[str, set[tuple]]:
    """Every tally row but those left at zero (a recount does not make them again)."""
    found = await snapshot(runtime)
    return {
        name: {row for row in found[name] if row[-1] not in ("0", '"0"')}
        for name in ("incidenttally", "activitytally", "measuretally")
    }


async def test_recounted_tallies_equal_the_tallies_kept_with_each_change(database_url) -> None:
    app = reporting_app(unit_settings(ReportingSettings, database_url))
    async with running_app(app) as (client, runtime):
        province, ward_a, ward_b, group_a, group_b = (uuid.uuid4() for _ in range(5))
        late_ward, late_group, team_a = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        for event in (
            area(province, "P", AreaLevel.PROVINCE),
            area(ward_a, "W-A", AreaLevel.WARD, province),
            area(ward_b, "W-B", AreaLevel.WARD, province),
            area(group_a, "W-A-1", AreaLevel.RESIDENTIAL_GROUP, ward_a),
            area(group_b, "W-B-1", AreaLevel.RESIDENTIAL_GROUP, ward_b),
            # a group whose ward is not known yet
            area(late_group, "L-1", AreaLevel.RESIDENTIAL_GROUP, late_ward),
            team(team_a, group_a),
        ):
            await publish_event(runtime.broker, event)

        async def report(where, hours_ago: float, category="theft", teams=()) -> str:
            body = {
                "area_id": str(where),
                "category": category,
                "source": "resident_tip",
                "summary": "Vụ việc",
                "occurred_at": (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat(),
                "team_ids": [str(t) for t in teams],
            }
            response = await client.post("/incidents", json=body)
            assert response.status_code == 201, response.text
            return response.json()["id"]

        async def status(incident: str, to: str) -> None:
            response = await client.post(
                f"/incidents/{incident}/status", json={"status": to, "reason": "xác minh"}
            )
            assert response.status_code == 200, response.text

        first = await report(group_a, 2, teams=[team_a])
        for to in ("verified", "resolved"):
            await status(first, to)
        second = await report(group_a, 30, category="drugs")  # another local day
        await status(second, "dismissed")
        repeat = await report(group_a, 3)
        linked = await client.post(
            f"/incidents/{repeat}/duplicate-of", json={"duplicate_of": first, "reason": "trùng"}
        )
        assert linked.status_code == 200, linked.text
        await report(ward_b, 24 * 40, category="fraud")  # another month
        await report(late_group, 5)
        for body in (
            {"activity_type": "patrol", "measures": [{"item": "patrols", "quantity": 3}]},
            {
                "activity_type": "mediation",
                "outcome": "successful",
                "measures": [{"item": "cases", "quantity": 1}],
            },
            {
                "activity_type": "weapons_handover",
                "measures": [{"item": "explosives", "unit": "kg", "quantity": "1.5"}],
            },
        ):
            body = {"area_id": str(group_a), "occurred_on": date.today().isoformat(), **body}
            assert (await client.post("/activities", json=body)).status_code == 201
        # The group moves to ward B; the late ward arrives under the province.
        for event in (
            AreaMoved(
                area_id=group_a, code="W-A-1", from_parent_id=ward_a, to_parent_id=ward_b,
                aggregate_version=2,
            ),
            area(late_ward, "L", AreaLevel.WARD, province),
        ):  # fmt: skip
            await publish_event(runtime.broker, event)

        kept = await tallies(runtime)
        assert all(kept.values())
        async with transaction(runtime.sessions) as session:
            await app.state.service.recount_statistics(session)
        assert await tallies(runtime) == kept


# --- refusing while an instance serves ------------------------------------------------------


def test_a_group_with_members_or_in_a_rebalance_means_an_instance_is_serving() -> None:
    groups = [
        {"group": "awards.registry.area", "state": "Empty", "members": []},
        {"group": "awards.registry.team", "state": "Dead", "members": []},
        {
            "group": "awards.reporting.incident",
            "state": "Stable",
            "members": [
                {"member_id": "m1", "client_id": "awards", "client_host": "/10.0.0.7"},
                {"member_id": "m2", "client_id": "awards", "client_host": "/10.0.0.8"},
            ],
        },
        {"group": "awards.reporting.activity", "state": "PreparingRebalance", "members": []},
    ]
    members = active_members(groups)
    assert members == [
        Member("awards.reporting.incident", "Stable", "awards", "/10.0.0.7"),
        Member("awards.reporting.incident", "Stable", "awards", "/10.0.0.8"),
        Member("awards.reporting.activity", "PreparingRebalance", "", ""),
    ]
    message = running_message("awards", members)
    assert "awards.reporting.incident (Stable): 2 member(s): awards on 10.0.0.7" in message
    assert "awards.reporting.activity" in message
    assert "`antt serve awards`" in message and "docker compose stop awards" in message
    assert active_members(groups[:2]) == []


def test_a_reference_is_named_as_postgresql_names_it() -> None:
    reference = Reference("incidentteam", ("team_id",), "knownteam", ("id",))
    assert reference.default_name == "incidentteam_team_id_fkey"


def test_the_rebuild_refuses_when_kafka_is_unreachable(tmp_path) -> None:
    from typer.testing import CliRunner

    from services.cli import app
    from shared.local_kafka import free_port
    from tests.support import TEST_SIGNING_KEY

    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = CliRunner().invoke(
        app,
        ["rebuild", "registry", "--timeout", "5"],
        env={
            "ANTT_ENV": "test",
            "ANTT_JWT_SECRET": TEST_SIGNING_KEY,
            "ANTT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}",
            "ANTT_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        },
    )
    output = " ".join(result.output.split())
    assert result.exit_code == 1, output
    assert f"Kafka is unreachable at {bootstrap}" in output
    assert "Nothing was changed" in output
    assert not (tmp_path / "registry.db").exists()  # not even migrated


async def test_kafka_answers_that_say_try_again_are_tried_again() -> None:
    from aiokafka.errors import GroupCoordinatorNotAvailableError, UnknownMemberIdError

    from shared.rebuild import retrying

    calls: list[int] = []

    async def electing() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise GroupCoordinatorNotAvailableError()
        return "found"

    assert await retrying(electing) == "found" and len(calls) == 3

    async def refused() -> None:
        calls.append(1)
        raise UnknownMemberIdError()  # a member joined: not worth another try

    calls.clear()
    with pytest.raises(UnknownMemberIdError):
        await retrying(refused)
    assert len(calls) == 1


async def test_replayed_handlers_take_their_transactions_one_at_a_time(tmp_path) -> None:
    import asyncio

    from shared.db import create_engine, create_session_factory
    from shared.rebuild import one_at_a_time

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    sessions = one_at_a_time(create_session_factory(engine))
    inside: list[int] = []
    overlapped = []

    async def handler(number: int) -> None:
        async with transaction(sessions) as session:
            overlapped.append(bool(inside))
            inside.append(number)
            await execute(session, text("SELECT 1"))
            await asyncio.sleep(0.01)  # a handler awaiting its database
            inside.remove(number)

    await asyncio.gather(*(handler(n) for n in range(5)))
    await engine.dispose()
    assert overlapped == [False] * 5
