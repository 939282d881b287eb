"""How long awards takes to learn a ward's import: 142 teams and 3,464 members, the figures
of the ward in the issue that measured 33 member_joined a second, on SQLite and on
PostgreSQL, against a bare aiokafka consumer reading the same records, in the same run.

    .venv/bin/python -m benchmarks.member_import [--teams 142] [--members 3464] [--rounds 3]
        [--max-seconds 60] [--databases sqlite,postgres] [--keep-logs DIR] [--profile DIR]

Starts a Kafka broker and a PostgreSQL cluster of its own, and publishes on
``registry.area`` and ``registry.team``, as registry does after an import: the ward,
``--teams`` ``team_registered`` and ``--members`` ``member_joined`` spread over those teams.
Then, alternating, ``--rounds`` times:

- **bare**: an aiokafka consumer (assigned every partition, no group) reads
  ``registry.team`` from the start (no decoding, no database);
- **awards, SQLite / PostgreSQL**: the awards service as a process on a fresh database,
  its consumer groups reset to the start, learns the teams and their members (decoded,
  claimed in the inbox, rosters and people written, in batches). Members/s run from the
  first applied ``member_joined`` seen in its inbox to the last, so start-up is not counted.

Until awards has applied them, it answers "not yet known" for those people (HTTP 409), so the
notes also give the seconds from the first member applied to the last. Prints the medians
and ratios and writes the ``member_import`` section of ``benchmarks/results/latest.md``.
About a minute at the defaults on the 2-core machine. Timings are never asserted.
"""

import argparse
import statistics as stats
import uuid

from benchmarks.consumer import NAMES, Run, bare_read, watch
from benchmarks.harness import (
    Infrastructure,
    Probe,
    Record,
    bench_parser,
    console,
    create_topics,
    event_record,
    publish_records,
    reset_service_groups,
    run_part,
    start_service,
)
from benchmarks.results import BenchRow
from shared.events import AreaLevel, AreaRegistered, MemberJoined, TeamRegistered, TeamRole

TEAMS_TOPIC = "registry.team"
JOINED = "SELECT count(*) FROM inbox WHERE event_type = 'member_joined'"


def ward_import(teams: int, members: int) -> tuple[list[Record], int]:
    """A ward, its teams and their members as registry publishes them; the count of records
    on ``registry.team`` (what the bare consumer reads)."""
    ward = uuid.uuid4()
    registry = "/antt/registry"
    area = AreaRegistered(
        area_id=ward, code="IMPORT-1", name="Phường", level=AreaLevel.WARD, aggregate_version=1
    )
    records = [event_record(area, source=registry)]
    team_ids = [uuid.uuid4() for _ in range(teams)]
    versions = dict.fromkeys(team_ids, 1)
    for number, team in enumerate(team_ids):
        registered = TeamRegistered(
            team_id=team, area_id=ward, name=f"Tổ {number}", kind="security_order",
            aggregate_version=1,
        )  # fmt: skip
        records.append(event_record(registered, source=registry))
    for number in range(members):
        team = team_ids[number % teams]
        versions[team] += 1
        joined = MemberJoined(
            team_id=team, area_id=ward, person_id=uuid.uuid4(), full_name=f"Thành viên {number}",
            role=TeamRole.MEMBER, aggregate_version=versions[team],
        )  # fmt: skip
        records.append(event_record(joined, source=registry))
    return records, teams + members


async def awards_learns(infra: Infrastructure, kind: str, members: int, max_seconds: float) -> Run:
    """One awards process on a fresh database learns the whole import."""
    assert infra.kafka is not None
    url = await infra.database(kind, "awards")
    await reset_service_groups(infra.kafka.bootstrap_servers, "awards")
    service = start_service(infra, "awards", url)
    probe = Probe(url)
    try:
        return await watch(
            infra, probe, [service], members, max_seconds, applied=JOINED, miscount=None
        )
    finally:
        await probe.close()
        service.stop()


async def main(arguments: argparse.Namespace) -> list[BenchRow]:
    databases = [name.strip() for name in arguments.databases.split(",") if name.strip()]
    bare: list[Run] = []
    learned: dict[str, list[Run]] = {kind: [] for kind in databases}
    with Infrastructure(arguments.keep_logs, profile=arguments.profile) as infra:
        kafka = infra.start_kafka()
        if "postgres" in databases:
            infra.start_postgres()
        await create_topics(kafka.bootstrap_servers, {"registry.area": 3, TEAMS_TOPIC: 3})
        records, on_teams_topic = ward_import(arguments.teams, arguments.members)
        await publish_records(kafka.bootstrap_servers, records)
        for round_ in range(arguments.rounds):
            console.print(f"round {round_ + 1}/{arguments.rounds}")
            bare.append(
                await bare_read(
                    kafka.bootstrap_servers, on_teams_topic, arguments.max_seconds, TEAMS_TOPIC
                )
            )
            console.print(f"  bare read: {bare[-1].rate:,.0f} records/s")
            for kind in databases:
                learned[kind].append(
                    await awards_learns(infra, kind, arguments.members, arguments.max_seconds)
                )
                last = learned[kind][-1]
                console.print(
                    f"  awards on {NAMES[kind]}: {last.rate:,.0f} members/s, "
                    f"{last.cpu_ms:.2f} CPU ms each ({last.applied:,} applied)"
                )
    rows = []
    for kind in databases:
        runs = learned[kind]
        rate = stats.median(run.rate for run in runs)
        notes = [
            f"{arguments.teams} teams, then {arguments.members:,} members: every member known "
            f"about {arguments.members / rate:.1f} s after the first (median)"
            if rate
            else "nothing applied"
        ]
        if any(run.partial for run in runs):
            notes.append(f"a run stopped after --max-seconds {arguments.max_seconds:.0f}")
        rows.append(
            BenchRow(
                f"awards learns a ward's import: member_joined ({NAMES[kind]})",
                "members/s",
                [run.rate for run in runs],
                [run.rate for run in bare],
                "bare aiokafka read",
                notes=notes,
            )
        )
    return rows


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(__doc__, max_seconds=60.0)
    parser.add_argument("--teams", type=int, default=142)
    parser.add_argument("--members", type=int, default=3464)
    return parser.parse_args(argv)


def cli() -> None:
    arguments = parse()
    title = (
        f"member_import: awards learns {arguments.teams} teams and {arguments.members:,} "
        f"members against a bare read, {arguments.rounds} rounds, medians"
    )
    run_part("member_import", title, main(arguments), arguments.profile)


if __name__ == "__main__":
    cli()
