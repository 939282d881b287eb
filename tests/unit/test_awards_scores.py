"""Emulation scores from consumed events, the leaderboard, and suggested nominations that an
officer accepts or dismisses (never granted by themselves)."""

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Select, select, text
from sqlalchemy import event as sqlalchemy_event

from services.awards.nominations.models import Nomination
from services.awards.replicas.models import KnownPerson
from services.awards.scores.models import MemberCredit, ScoreEntry, ScoreMonth
from services.awards.scores.rules import month_of, today
from services.awards.suggestions.models import Suggestion
from shared.auth import Role
from shared.db import advisory_lock_key, execute
from shared.events import (
    ActivityLogged,
    ActivityMeasure,
    IncidentLinked,
    IncidentSource,
    MemberJoined,
    MemberLeft,
    TeamRole,
)
from tests.support import bearer, deliver_batch, event_record, eventually, publish_event
from tests.unit.test_awards import (
    GROUP,
    OFFICER,
    OTHER_TEAM,
    OTHER_WARD,
    PERSON_ID,
    TEAM_ID,
    WARD,
    count_rows,
    outbox,
    report_incident,
    resolved,
    resolved_count,
)
from tests.unit.test_awards import (
    awards as awards,
)

OTHER_OFFICER = bearer(Role.OFFICER, "HN-TH-NT")


@contextlib.contextmanager
def statements_run(engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside the block."""
    run: list[str] = []

    def statement(_conn, _cursor, sql: str, *_: object) -> None:
        run.append(" ".join(sql.split()))

    sqlalchemy_event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        yield run
    finally:
        sqlalchemy_event.remove(engine.sync_engine, "before_cursor_execute", statement)


async def solve(broker, **fields) -> uuid.UUID:
    incident = await report_incident(broker, **fields)
    await publish_event(broker, resolved(incident))
    return incident


async def assert_months_add_up(runtime) -> None:
    """The monthly totals the thresholds read say what the score entries say."""
    async with runtime.sessions() as session:
        entries = await execute(
            session, select(ScoreEntry.subject, ScoreEntry.subject_id, ScoreEntry.occurred_on,
                            ScoreEntry.points, ScoreEntry.voided)
        )  # fmt: skip
        expected: Counter[tuple[str, str, str]] = Counter()
        for subject, subject_id, day, entry_points, voided in entries:
            if not voided:
                expected[(str(subject), str(subject_id), month_of(day))] += entry_points
        months = await execute(
            session,
            select(ScoreMonth.subject, ScoreMonth.subject_id, ScoreMonth.month, ScoreMonth.points),
        )
        held = {(str(s), str(i), m): p for s, i, m, p in months if p}
    assert held == {key: total for key, total in expected.items() if total}


async def points(client, subject, subject_id, **headers) -> int:
    response = await client.get(f"/scores/{subject}/{subject_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["points"]


def activity(kind, *measures, outcome=None, teams=(TEAM_ID,), area=GROUP):
    return ActivityLogged(
        activity_id=uuid.uuid4(),
        area_id=area,
        activity_type=kind,
        occurred_on=date.today(),
        measures=[ActivityMeasure(item=i, unit=u, quantity=Decimal(q)) for i, u, q in measures],
        outcome=outcome,
        team_ids=list(teams),
        aggregate_version=1,
    )


async def test_a_solved_incident_scores_for_its_team_members_and_area(awards):
    client, runtime = awards
    incident = await report_incident(runtime.broker, source=IncidentSource.RESIDENT_TIP)
    event = resolved(incident)
    await publish_event(runtime.broker, event)
    # reporting publishing the same resolution again (a new event id) scores nothing more
    await publish_event(runtime.broker, event)
    assert await points(client, "team", TEAM_ID) == 10
    assert await points(client, "person", PERSON_ID) == 2
    assert await points(client, "area", GROUP) == 5  # the tip came from the residents
    score = (await client.get(f"/scores/team/{TEAM_ID}")).json()
    assert score["period"] == str(today().year)
    assert [(e["rule"], e["points"], e["source_id"]) for e in score["entries"]] == [
        ("incident_solved", 10, str(incident))
    ]
    assert (await client.get(f"/scores/team/{TEAM_ID}?period=2019")).json()["points"] == 0

    board = (await client.get("/leaderboard", params={"area_id": str(WARD)})).json()
    assert [(r["rank"], r["subject"], r["name"], r["points"]) for r in board["rows"]] == [
        (1, "team", "Tổ ANTT tổ dân phố số 3", 10),
        (2, "area", "Tổ dân phố số 3", 5),
        (3, "person", "Nguyễn Chu Thực", 2),
    ]
    teams = await client.get("/leaderboard", params={"area_id": str(WARD), "subject": "team"})
    assert [r["subject"] for r in teams.json()["rows"]] == ["team"]
    elsewhere = await client.get("/leaderboard", params={"area_id": str(OTHER_WARD)})
    assert elsewhere.json()["rows"] == []

    # Scopes: another ward's officer sees neither the score nor this ward's leaderboard.
    response = await client.get(f"/scores/team/{TEAM_ID}", headers=OTHER_OFFICER)
    assert response.status_code == 404
    response = await client.get("/leaderboard?area_id=" + str(WARD), headers=OTHER_OFFICER)
    assert response.status_code == 404
    assert (await client.get(f"/scores/team/{TEAM_ID}?period=2023-13")).status_code == 422
    assert (await client.get(f"/scores/team/{TEAM_ID}?period=2023-Q3")).status_code == 200


async def test_a_resolution_published_again_scores_once_in_one_batch_or_in_the_next(awards):
    """Nothing is read before the score entries and member credits are written: their
    unique keys leave a second resolution of the same incident out, whether it comes in
    the same batch or a later one, and the monthly totals count what went in."""
    client, runtime = awards
    incident = await report_incident(runtime.broker, source=IncidentSource.RESIDENT_TIP)
    event = resolved(incident)
    await deliver_batch(runtime.broker, [event_record(event), event_record(event, offset=1)])
    await deliver_batch(runtime.broker, [event_record(event, offset=2)])
    assert await points(client, "team", TEAM_ID) == 10
    assert await points(client, "person", PERSON_ID) == 2
    assert await points(client, "area", GROUP) == 5
    assert await count_rows(runtime, ScoreEntry) == 3  # team, member, area: once each
    assert await count_rows(runtime, MemberCredit) == 1
    await assert_months_add_up(runtime)
    # A second incident in a batch beside a repeat of the first still scores.
    other = await report_incident(runtime.broker)
    await deliver_batch(
        runtime.broker, [event_record(event, offset=3), event_record(resolved(other), offset=4)]
    )
    assert await points(client, "team", TEAM_ID) == 20
    await assert_months_add_up(runtime)


async def test_a_resolution_is_applied_with_statements_built_before(awards, monkeypatch):
    """A batch of one pays for running its SQL, not for building it: a resolution builds no
    SELECT (the incidents, rosters, teams' areas, monthly totals and earlier suggestions
    were five built per batch, a sixth of the CPU of a batch of one), and still scores."""
    client, runtime = awards
    await solve(runtime.broker)
    await solve(runtime.broker)  # 20 points: suggested, so the next one looks for it
    incident = await report_incident(runtime.broker)
    handling = asyncio.current_task()  # the test broker applies the event in this task
    built: list[object] = []
    build = Select.__init__

    def counting(self, *entities, **options) -> None:
        if asyncio.current_task() is handling:
            built.append(entities)
        build(self, *entities, **options)

    monkeypatch.setattr(Select, "__init__", counting)
    await publish_event(runtime.broker, resolved(incident))
    monkeypatch.setattr(Select, "__init__", build)
    assert built == []
    assert await points(client, "team", TEAM_ID) == 30
    assert await points(client, "person", PERSON_ID) == 6
    assert len((await client.get("/suggestions", headers=OFFICER)).json()) == 1
    await assert_months_add_up(runtime)


async def test_activities_score_by_their_measures(awards):
    client, runtime = awards
    for event in (
        activity("outreach", ("sessions", "count", "2"), ("people_reached", "people", "250")),
        activity("mediation", ("cases", "count", "1"), outcome="successful"),
        activity("mediation", ("cases", "count", "1"), outcome="unsuccessful"),
        activity("patrol", ("patrols", "count", "3"), ("participants", "people", "12")),
        activity("household_pledge", ("households", "households", "120"), teams=()),
    ):
        await publish_event(runtime.broker, event)
    # outreach 250 people: 2 (per 100); mediation: 10; patrols: 3
    assert await points(client, "team", TEAM_ID) == 2 + 10 + 3
    # outreach: 2; pledges 120 households: 2 (per 50)
    assert await points(client, "area", GROUP) == 2 + 2


async def test_a_duplicate_incident_loses_its_points(awards):
    client, runtime = awards
    duplicate = await solve(runtime.broker)
    assert await points(client, "team", TEAM_ID) == 10
    await publish_event(
        runtime.broker,
        IncidentLinked(
            incident_id=duplicate,
            duplicate_of=uuid.uuid4(),
            area_id=GROUP,
            category="theft",
            linked_at=datetime.now(UTC),
            aggregate_version=4,
        ),
    )
    assert await points(client, "team", TEAM_ID) == 0
    assert (await client.get(f"/scores/team/{TEAM_ID}")).json()["entries"] == []
    await assert_months_add_up(runtime)
    await solve(runtime.broker)  # 10 points again, not 20: no suggestion yet
    assert (await client.get("/suggestions", headers=OFFICER)).json() == []
    await assert_months_add_up(runtime)


async def test_crossing_the_threshold_suggests_a_nomination_once(awards):
    client, runtime = awards
    with statements_run(runtime.engine) as sql:
        await solve(runtime.broker)  # 10 points: below every threshold
    # Nothing more is read for suggestions while no total reaches a threshold.
    assert [s for s in sql if "FROM suggestion" in s or "knownteam.name" in s] == []
    assert (await client.get("/suggestions")).json() == []
    with statements_run(runtime.engine) as sql:
        await solve(runtime.broker)  # 20 points: the ward committee's threshold
    assert [s for s in sql if "FROM suggestion" in s]
    suggestions = (await client.get("/suggestions", headers=OFFICER)).json()
    assert [
        (s["subject"], s["subject_id"], s["threshold"], s["points"], s["status"])
        for s in suggestions
    ] == [("team", str(TEAM_ID), 20, 20, "suggested")]
    suggestion = suggestions[0]
    assert (suggestion["award_form"], suggestion["authority"]) == ("giay_khen", "ward_committee")
    assert suggestion["recipient_kind"] == "collective"
    with statements_run(runtime.engine) as sql:
        await solve(runtime.broker)  # 30: the same threshold again does not suggest twice
    assert len((await client.get("/suggestions")).json()) == 1
    # Suggested before: the look for it is enough, and no name is read.
    assert [s for s in sql if "FROM suggestion" in s]
    assert [s for s in sql if "knownteam.name" in s] == []
    # Nothing is nominated, let alone granted, without an officer.
    assert await count_rows(runtime, Nomination) == 0
    assert [topic for topic, _ in await outbox(runtime)] == []
    assert (await client.get("/suggestions", headers=OTHER_OFFICER)).json() == []

    url = f"/suggestions/{suggestion['id']}"
    assert (await client.post(f"{url}/dismiss", json={})).status_code == 422
    response = await client.post(
        f"{url}/dismiss", json={"reason": "Đã khen đột xuất"}, headers=OTHER_OFFICER
    )
    assert response.status_code == 404
    response = await client.post(f"{url}/dismiss", json={"reason": "Đã khen đột xuất"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["dismissal_reason"]) == (
        "dismissed",
        "Đã khen đột xuất",
    )
    await solve(runtime.broker)
    assert await count_rows(runtime, Suggestion) == 1  # dismissed stays dismissed
    assert (await client.post(f"{url}/accept", json={})).status_code == 409
    assert (await client.get("/suggestions?status=suggested")).json() == []


async def test_accepting_a_suggestion_nominates_with_the_achievements_behind_it(awards):
    client, runtime = awards
    incidents = sorted([await solve(runtime.broker), await solve(runtime.broker)], key=str)
    (suggestion,) = (await client.get("/suggestions")).json()
    url = f"/suggestions/{suggestion['id']}/accept"
    assert (await client.post(url, headers=OTHER_OFFICER)).status_code == 404
    response = await client.post(url, headers=OFFICER)
    assert response.status_code == 201, response.text
    nomination = response.json()
    assert nomination["suggested"] is True and nomination["status"] == "nominated"
    assert nomination["recipient_id"] == str(TEAM_ID)
    assert (nomination["award_form"], nomination["authority"]) == ("giay_khen", "ward_committee")
    assert sorted(a["ref_id"] for a in nomination["achievements"]) == [str(i) for i in incidents]
    (created,) = [p for topic, p in await outbox(runtime) if topic == "nomination_created"]
    assert created["suggested"] is True and created["nomination_id"] == nomination["id"]
    accepted = (await client.get("/suggestions")).json()[0]
    assert (accepted["status"], accepted["nomination_id"]) == ("accepted", nomination["id"])
    assert (await client.post(url)).status_code == 409
    response = await client.post(
        f"/nominations/{nomination['id']}/approve", json={"decision_number": "7/QĐ-UBND"}
    )
    assert response.status_code == 201


async def test_members_score_for_the_days_they_were_on_the_team_whatever_comes_first(awards):
    client, runtime = awards
    broker = runtime.broker
    day = today()
    late, former, newcomer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def joined(person, version, since=None):
        return MemberJoined(
            team_id=TEAM_ID,
            area_id=GROUP,
            person_id=person,
            full_name="Người",
            role=TeamRole.MEMBER,
            joined_on=since,
            aggregate_version=version,
        )

    def left(person, version, on):
        return MemberLeft(
            team_id=TEAM_ID,
            area_id=GROUP,
            person_id=person,
            role=TeamRole.MEMBER,
            left_on=on,
            reason="chuyển đi",
            aggregate_version=version,
        )

    # the credit first, then the roster events of the same days
    await solve(broker)
    await publish_event(broker, joined(late, 10, since=date(2020, 1, 1)))
    await publish_event(broker, joined(former, 11, since=date(2020, 1, 1)))
    await publish_event(broker, left(former, 12, on=date(2020, 6, 30)))
    await publish_event(broker, joined(newcomer, 13, since=date(day.year + 1, 1, 1)))
    assert await points(client, "person", late) == 2  # on the team that day
    assert await points(client, "person", former) == 0  # had left years before
    assert await points(client, "person", newcomer) == 0  # joined after it
    # a later achievement pays the people on the team on its day, as before
    await solve(broker)
    assert await points(client, "person", late) == 4
    assert await points(client, "person", former) == 0
    await assert_months_add_up(runtime)


async def test_a_roster_change_and_a_credit_of_one_team_at_once_miss_nothing(awards, database_url):
    """Two consumers in two transactions: the join is written but not committed when the
    credit comes. Under READ COMMITTED each would miss the other without the team lock."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: the second transaction cannot start")
    client, runtime = awards
    service = client._transport.app.state.scores  # type: ignore[attr-defined]
    incident = await report_incident(runtime.broker)
    newcomer = uuid.uuid4()
    join = MemberJoined(
        team_id=TEAM_ID,
        area_id=GROUP,
        person_id=newcomer,
        full_name="Người mới",
        role=TeamRole.MEMBER,
        aggregate_version=50,
    )
    async with runtime.sessions() as roster:
        await service.remember_member(roster, join)  # holds the team until it commits
        credit = asyncio.create_task(credit_in_own_transaction(runtime, service, incident))
        await asyncio.sleep(0.5)
        assert not credit.done()  # waiting for the roster's transaction
        await roster.commit()
    await asyncio.wait_for(credit, timeout=10)
    assert await points(client, "person", newcomer) == 2


async def credit_in_own_transaction(runtime, service, incident, changed_at=None) -> None:
    event = resolved(incident)
    if changed_at is not None:
        event = event.model_copy(update={"changed_at": changed_at})
    async with runtime.sessions() as session:
        await service.credit_resolution(session, event, str(uuid.uuid4()))
        await session.commit()


async def advisory_keys_waited_for(runtime) -> list[int]:
    """The advisory locks some transaction is waiting for now, as ``advisory_lock_key`` ids."""
    async with runtime.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = "
                "'advisory' AND NOT granted AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
        keys = [(high << 32) | low for high, low in rows]
    return [key - (1 << 64) if key >= 1 << 63 else key for key in keys]


async def test_two_credits_of_one_team_in_two_months_reach_a_threshold_together(
    awards, database_url
):
    """Two instances credit the team at once, 10 points each in two months of the year: 20
    together, the first threshold. Each sees its own month's row only, so the second must
    wait for the first before it reads the totals, and only there: past the roster (which
    two credits share) to the team's score lock."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: the second transaction cannot start")
    client, runtime = awards
    service = client._transport.app.state.scores  # type: ignore[attr-defined]
    year = today().year
    january, february = (datetime(year, month, 15, 5, tzinfo=UTC) for month in (1, 2))
    first = await report_incident(runtime.broker)
    second = await report_incident(runtime.broker)
    async with runtime.sessions() as holder:
        event = resolved(first).model_copy(update={"changed_at": january})
        await service.credit_resolution(holder, event, str(uuid.uuid4()))
        other = asyncio.create_task(
            credit_in_own_transaction(runtime, service, second, changed_at=february)
        )
        waited: list[int] = []

        async def waiting() -> bool:
            waited[:] = await advisory_keys_waited_for(runtime)
            return bool(waited)

        await eventually(waiting, within=5)
        assert not other.done()
        await holder.commit()
    await asyncio.wait_for(other, timeout=10)
    assert waited == [advisory_lock_key(f"team-score:{TEAM_ID}")]
    suggestions = (await client.get("/suggestions", headers=OFFICER)).json()
    assert [(s["subject_id"], s["threshold"], s["points"]) for s in suggestions] == [
        (str(TEAM_ID), 20, 20)
    ]
    assert await points(client, "team", TEAM_ID) == 20
    assert await resolved_count(client) == 2
    await assert_months_add_up(runtime)


async def test_a_persons_area_and_name_follow_their_latest_join_whatever_the_order(awards):
    _, runtime = awards
    first, second = uuid.uuid4(), uuid.uuid4()

    def join(person, team, area, since, name):
        return MemberJoined(
            team_id=team,
            area_id=area,
            person_id=person,
            full_name=name,
            role=TeamRole.MEMBER,
            joined_on=since,
            aggregate_version=60,
        )

    early = (TEAM_ID, GROUP, date(2021, 3, 1), "Phạm Thị D")
    late = (OTHER_TEAM, OTHER_WARD, date(2023, 9, 1), "Phạm Thị Dung")
    for person, order in ((first, (early, late)), (second, (late, early))):
        for team, area, since, name in order:
            await publish_event(runtime.broker, join(person, team, area, since, name))
    async with runtime.sessions() as session:
        people = [await session.get(KnownPerson, person) for person in (first, second)]
    assert [(p.area_id, p.full_name) for p in people] == [(OTHER_WARD, "Phạm Thị Dung")] * 2
    # leaving the later team, the person belongs to the team they are still on
    await publish_event(
        runtime.broker,
        MemberLeft(
            team_id=OTHER_TEAM,
            area_id=OTHER_WARD,
            person_id=first,
            role=TeamRole.MEMBER,
            left_on=date(2024, 1, 1),
            reason="chuyển",
            aggregate_version=61,
        ),
    )
    async with runtime.sessions() as session:
        assert (await session.get(KnownPerson, first)).area_id == GROUP
