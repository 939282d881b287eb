"""``antt rebuild SERVICE``: throw a service's read models away and build them again from
Kafka's log, through the service's own consumer groups, inbox and event handlers.

Each service declares in its ``app.py`` what may be thrown away
(``ServiceRuntime.declare_read_models``): the tables only its handlers fill from other
services' events, and the tables its own records feed that handlers also move (reporting's
statistics tallies follow the area tree), with the function that recomputes those from the
service's own records. Everything else — the service's own records, its outbox and audit
trail, and whatever an officer decided — stays as it is.

The steps, in an order that leaves the service restartable whichever step fails:

1. refuse, leaving the read models as they are, while Kafka is unreachable, while a
   consumer group of the service has members (an instance is serving), or while a topic no
   longer holds its whole history (records deleted by retention cannot be replayed);
2. note each partition's end offset: the rebuild reads up to there;
3. reset the service's consumer groups to the earliest offset (a service started now would
   read everything again, and its inbox would skip every event it already applied);
4. empty the read models, the recomputed tables and the groups' inbox rows in one
   transaction (foreign keys from the service's own tables into read models are set aside
   for that transaction on SQLite, and until step 6 on PostgreSQL);
5. start the service's broker — its subscribers only: no HTTP, no outbox relay, and one
   handler transaction at a time (``one_at_a_time``) — and wait until every group's
   committed offset reaches the offsets noted in step 2;
6. stop the broker, recompute, put the foreign keys back, discard any outbox row a handler
   wrote (the relay never ran: those would publish events the log already holds), report.
"""

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.protocol.admin import (
    DescribeGroupsRequest_v0,
    DescribeGroupsRequest_v1,
    DescribeGroupsRequest_v2,
)
from aiokafka.protocol.api import Request
from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData, Table, delete, exists, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus import ensure_topics
from shared.db import SessionFactory, transaction
from shared.migrations import upgrade_to_head
from shared.settings import bootstrap_list

if TYPE_CHECKING:
    from shared.runtime import ServiceRuntime

Recompute = Callable[[AsyncSession], Awaitable[object]]
T = TypeVar("T")
# Tables no rebuild may empty: what the service itself wrote and published, and who did it.
NEVER_EMPTIED = frozenset({"outbox", "inbox", "audit_entry", "alembic_version"})
# Consumer group states in which an instance is (or is becoming) a member.
ACTIVE_STATES = frozenset({"Stable", "PreparingRebalance", "CompletingRebalance"})


class RebuildError(RuntimeError):
    """The rebuild refused to start, or could not finish; the message says what to do."""


# --- what a service declares --------------------------------------------------------------


@dataclass(frozen=True)
class RebuildPlan:
    """``read_models`` are filled only by the service's event handlers: emptied, then refilled
    by the replay. ``recomputed`` are kept from the service's own records and moved by
    handlers too: emptied before the replay, refilled by ``recompute`` after it."""

    read_models: tuple[Table, ...]
    recomputed: tuple[Table, ...] = ()
    recompute: Recompute | None = None

    @property
    def emptied(self) -> tuple[Table, ...]:
        return self.read_models + self.recomputed


def _table(model: Any) -> Table:
    table = model if isinstance(model, Table) else getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model!r} is not a table")
    return table


def rebuild_plan(
    metadata: MetaData,
    read_models: Iterable[Any],
    recomputed: Iterable[Any] = (),
    recompute: Recompute | None = None,
) -> RebuildPlan:
    """A plan over tables (or SQLModel table classes) of ``metadata``, checked."""
    plan = RebuildPlan(
        tuple(_table(m) for m in read_models), tuple(_table(m) for m in recomputed), recompute
    )
    for table in plan.emptied:
        if metadata.tables.get(table.name) is not table:
            raise ValueError(f"{table.name} is not a table of this service")
        if table.name in NEVER_EMPTIED:
            raise ValueError(f"{table.name} is never emptied by a rebuild")
    if plan.recomputed and recompute is None:
        raise ValueError("recomputed tables need the function that recomputes them")
    return plan


# --- consumer groups ----------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    group: str
    state: str
    client_id: str
    client_host: str


def active_members(groups: Iterable[dict[str, Any]]) -> list[Member]:
    """Members of DescribeGroups group entries (``Response.to_object()["groups"]``); a group
    in a rebalance with no member listed yet counts as one member."""
    found: list[Member] = []
    for group in groups:
        members = group.get("members") or []
        for member in members:
            found.append(
                Member(group["group"], group["state"], member["client_id"], member["client_host"])
            )
        if not members and group.get("state") in ACTIVE_STATES:
            found.append(Member(group["group"], group["state"], "", ""))
    return found


def running_message(service: str, members: Sequence[Member]) -> str:
    by_group: dict[str, list[Member]] = {}
    for member in members:
        by_group.setdefault(member.group, []).append(member)
    lines = [f"{service} is being served: its consumer groups have active members —"]
    for group, listed in sorted(by_group.items()):
        who = ", ".join(
            f"{m.client_id or '?'} on {m.client_host.lstrip('/') or '?'}" for m in listed
        )
        lines.append(f"  {group} ({listed[0].state}): {len(listed)} member(s): {who}")
    lines.append(
        f"Stop every instance of {service} first — Ctrl-C the `antt run` or "
        f"`antt serve {service}` that runs it, or `docker compose stop {service}` — then run "
        f"`antt rebuild {service}` again. Nothing was changed. (A process killed without a "
        "clean stop stays a member until the broker's session timeout, some seconds.)"
    )
    return "\n".join(lines)


async def retrying(call: Callable[[], Awaitable[T]], within: float = 30.0) -> T:
    """``call()`` again while Kafka answers with a retriable error (a fresh broker still
    electing the group coordinator, say), for up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await call()
        except KafkaError as exc:
            if not getattr(exc, "retriable", False) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)


async def connect_admin(bootstrap_servers: str, within: float = 20.0) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_list(bootstrap_servers),
        client_id="antt-rebuild",
        request_timeout_ms=15000,
    )
    try:
        await asyncio.wait_for(admin.start(), within)
    except (KafkaError, OSError, TimeoutError) as exc:
        with contextlib.suppress(Exception):
            await admin.close()
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise RebuildError(
            f"Kafka is unreachable at {bootstrap_servers} ({reason}). Start it (`antt kafka "
            "start`, or `docker compose up -d kafka`) or point ANTT_KAFKA_BOOTSTRAP_SERVERS at "
            "it, then run the rebuild again. Nothing was changed."
        ) from exc
    return admin


class _DescribeGroups(
    Request[DescribeGroupsRequest_v0 | DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2]
):
    """DescribeGroups at v0–v2 only. aiokafka 0.14's own request goes up to v3 but decodes
    the broker's v3 answer with the v2 schema (without ``authorized_operations``), which
    fails ("Buffer underrun decoding string") as soon as a group has a member."""

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: type[Any]) -> Any:
        return request_struct_class(self._groups)


async def group_members(admin: AIOKafkaAdminClient, groups: Sequence[str]) -> list[Member]:
    """The members of ``groups`` (by DescribeGroups to each group's coordinator)."""
    by_coordinator: dict[int, list[str]] = {}
    for group in groups:
        by_coordinator.setdefault(await admin.find_coordinator(group), []).append(group)
    found = []
    for node, listed in by_coordinator.items():
        response = await admin._send_request(_DescribeGroups(listed), node)
        found += active_members(response.to_object()["groups"])
    return found


async def topic_partitions(
    admin: AIOKafkaAdminClient, topics: Sequence[str]
) -> dict[str, list[TopicPartition]]:
    """Each existing topic's partitions (a topic that does not exist has nothing to read)."""
    if not topics:
        return {}
    found: dict[str, list[TopicPartition]] = {}
    for description in await admin.describe_topics(list(topics)):
        if description["error_code"] == 0:
            found[description["topic"]] = sorted(
                TopicPartition(description["topic"], p["partition"])
                for p in description["partitions"]
            )
    return found


async def reset_group(
    bootstrap_servers: str, group: str, offsets: dict[TopicPartition, int]
) -> None:
    """Commit ``offsets`` for ``group`` (the broker refuses while the group has members)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_list(bootstrap_servers),
        group_id=group,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def committed_offsets(
    admin: AIOKafkaAdminClient, groups: dict[str, str], partitions: dict[str, list[TopicPartition]]
) -> dict[tuple[str, TopicPartition], int]:
    """Each group's committed offset on each partition of its topic (-1: none yet)."""
    found: dict[tuple[str, TopicPartition], int] = {}
    for group, topic in groups.items():
        committed = await admin.list_consumer_group_offsets(group)
        for tp in partitions.get(topic, []):
            found[(group, tp)] = committed[tp].offset if tp in committed else -1
    return found


# --- the database ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A foreign key from a table the rebuild keeps into a table it empties."""

    table: str
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    ondelete: str | None = None

    @property
    def default_name(self) -> str:
        # PostgreSQL's own name for an unnamed foreign key, as the migrations created them.
        return f"{self.table}_{'_'.join(self.columns)}_fkey"


def references_into(metadata: MetaData, tables: Iterable[Table]) -> list[Reference]:
    emptied = {table.name for table in tables}
    found = []
    for table in metadata.sorted_tables:
        if table.name in emptied:
            continue
        for fk in table.foreign_key_constraints:
            if fk.referred_table.name in emptied:
                found.append(
                    Reference(
                        table=table.name,
                        columns=tuple(fk.column_keys),
                        referred_table=fk.referred_table.name,
                        referred_columns=tuple(element.column.name for element in fk.elements),
                        ondelete=fk.ondelete,
                    )
                )
    return found


async def _reflected_names(connection: AsyncConnection, reference: Reference) -> list[str]:
    def names(sync_connection: Any) -> list[str]:
        return [
            fk["name"]
            for fk in inspect(sync_connection).get_foreign_keys(reference.table)
            if fk["name"]
            and fk["referred_table"] == reference.referred_table
            and tuple(fk["constrained_columns"]) == reference.columns
        ]

    return await connection.run_sync(names)


async def empty_tables(
    engine: AsyncEngine,
    plan: RebuildPlan,
    inbox: Table,
    groups: Iterable[str],
    references: Sequence[Reference],
) -> tuple[dict[str, int], dict[Reference, str]]:
    """Empty the plan's tables and the groups' inbox rows in one transaction; returns the
    rows removed per table, and the PostgreSQL foreign keys dropped (by reference) that
    ``restore_references`` puts back. On SQLite the keys stay, unenforced for this
    transaction only."""
    removed: dict[str, int] = {}
    dropped: dict[Reference, str] = {}
    sqlite = engine.dialect.name == "sqlite"
    async with engine.connect() as connection:
        if sqlite and references:
            # Outside a transaction (SQLite ignores it inside one); put back below.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            async with connection.begin():
                if not sqlite:
                    quote = connection.dialect.identifier_preparer.quote
                    for reference in references:
                        for name in await _reflected_names(connection, reference):
                            await connection.exec_driver_sql(
                                f"ALTER TABLE {quote(reference.table)} "
                                f"DROP CONSTRAINT {quote(name)}"
                            )
                            dropped[reference] = name
                order = {table.name: index for index, table in enumerate(plan.emptied)}
                for table in sorted(plan.emptied, key=lambda t: -order[t.name]):
                    result = await connection.execute(delete(table))
                    removed[table.name] = result.rowcount
                result = await connection.execute(
                    delete(inbox).where(inbox.c.consumer.in_(sorted(groups)))
                )
                removed[inbox.name] = result.rowcount
        finally:
            if sqlite and references:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()
    return removed, dropped


async def restore_references(
    engine: AsyncEngine,
    metadata: MetaData,
    references: Sequence[Reference],
    dropped: dict[Reference, str],
) -> list[str]:
    """Check every reference into the rebuilt tables and put PostgreSQL's foreign keys back
    (any missing, e.g. after an interrupted rebuild); a problem per reference whose rows
    point at something the rebuilt tables lack (then the key comes back NOT VALID: it holds
    for new rows, and ``VALIDATE CONSTRAINT`` checks the old ones once they are fixed)."""
    problems = []
    async with engine.begin() as connection:
        quote = connection.dialect.identifier_preparer.quote
        for reference in references:
            child = metadata.tables[reference.table]
            parent = metadata.tables[reference.referred_table]
            columns = [child.c[name] for name in reference.columns]
            dangling = [column.is_not(None) for column in columns] + [
                ~exists().where(
                    *(
                        parent.c[referred] == column
                        for referred, column in zip(
                            reference.referred_columns, columns, strict=True
                        )
                    )
                )
            ]
            count = (
                await connection.execute(select(func.count()).select_from(child).where(*dangling))
            ).scalar_one()
            if count:
                examples = (
                    await connection.execute(select(*columns).where(*dangling).distinct().limit(5))
                ).all()
                problems.append(
                    f"{count} {reference.table} row(s) refer through "
                    f"{', '.join(reference.columns)} to {reference.referred_table} rows the log "
                    f"did not rebuild (e.g. {', '.join(str(row[0]) for row in examples)})"
                )
            if engine.dialect.name == "sqlite" or await _reflected_names(connection, reference):
                continue
            name = dropped.get(reference, reference.default_name)
            statement = (
                f"ALTER TABLE {quote(reference.table)} ADD CONSTRAINT {quote(name)} "
                f"FOREIGN KEY ({', '.join(quote(c) for c in reference.columns)}) "
                f"REFERENCES {quote(reference.referred_table)} "
                f"({', '.join(quote(c) for c in reference.referred_columns)})"
            )
            if reference.ondelete:
                statement += f" ON DELETE {reference.ondelete}"
            await connection.exec_driver_sql(statement + (" NOT VALID" if count else ""))
    return problems


async def _row_count(engine: AsyncEngine, table: Table, *where: Any) -> int:
    async with engine.connect() as connection:
        query = select(func.count()).select_from(table)
        return int((await connection.execute(query.where(*where))).scalar_one())


async def _max_id(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as connection:
        found = (await connection.execute(select(func.max(table.c.id)))).scalar_one()
        return int(found or 0)


# --- progress and report --------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    lag: int
    elapsed: float

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class TopicReport:
    topic: str
    group: str
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead_lettered: int = 0


@dataclass
class RebuildReport:
    service: str
    emptied: dict[str, int] = field(default_factory=dict)
    recomputed: dict[str, int] = field(default_factory=dict)
    topics: list[TopicReport] = field(default_factory=list)
    replay_seconds: float = 0.0
    seconds: float = 0.0
    lag_left: int = 0
    discarded_outbox_rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return sum(topic.applied for topic in self.topics)

    @property
    def read(self) -> int:
        return sum(topic.read for topic in self.topics)

    @property
    def complete(self) -> bool:
        return self.lag_left == 0 and not self.problems


def _sample_sum(registry: CollectorRegistry, name: str, topic: str) -> int:
    total = 0.0
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == name and sample.labels.get("topic") == topic:
                total += sample.value
    return int(total)


# --- the rebuild ----------------------------------------------------------------------------


async def rebuild(
    runtime: "ServiceRuntime",
    give_up_after: float,
    on_progress: Callable[[Progress], None] | None = None,
    poll_seconds: float = 0.5,
) -> RebuildReport:
    """Rebuild ``runtime``'s read models from the log (see the module's docstring)."""
    began = time.monotonic()
    settings = runtime.settings
    service = settings.service_name
    plan = runtime.rebuild_plan
    if plan is None:
        raise RebuildError(f"{service} declares no read models to rebuild")
    groups = dict(runtime.consumer.groups)  # consumer group → topic
    report = RebuildReport(service)
    bootstrap = settings.kafka_bootstrap_servers
    admin = await connect_admin(bootstrap)
    try:
        running = await retrying(lambda: group_members(admin, sorted(groups)))
        if running:
            raise RebuildError(running_message(service, running))
        await upgrade_to_head(runtime.engine, service)
        if settings.kafka_create_topics:
            await ensure_topics(settings, runtime.all_topics())
        partitions = await topic_partitions(admin, sorted(set(groups.values())))
        every = [tp for tps in partitions.values() for tp in tps]
        reader = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
        )
        await reader.start()
        try:
            beginnings = await reader.beginning_offsets(every) if every else {}
            ends = await reader.end_offsets(every) if every else {}
        finally:
            await reader.stop()
        truncated = sorted(
            f"{tp.topic}[{tp.partition}] starts at offset {offset}"
            for tp, offset in beginnings.items()
            if offset > 0
        )
        if truncated:
            raise RebuildError(
                "The log no longer holds the whole history: "
                + "; ".join(truncated)
                + ". Records before those offsets were deleted (retention), so a rebuild "
                "would lose what they said; the read models were left as they are. Keep "
                "topics for ever (retention.ms=-1, as the services create them)."
            )

        # Step 3 before step 4: if emptying fails, a restarted service re-reads the log and
        # its inbox (still whole) skips everything; never the other way round.
        for group, topic in groups.items():
            offsets = {tp: beginnings[tp] for tp in partitions.get(topic, [])}
            if not offsets:
                continue
            try:
                await retrying(functools.partial(reset_group, bootstrap, group, offsets))
            except KafkaError as exc:
                raise RebuildError(
                    f"Could not reset consumer group {group} to the earliest offset "
                    f"({type(exc).__name__}: {exc}). Did an instance of {service} start "
                    "meanwhile? Stop it and run the rebuild again."
                ) from exc

        references = references_into(runtime.metadata, plan.emptied)
        report.emptied, dropped = await empty_tables(
            runtime.engine, plan, runtime.inbox.table, groups, references
        )
        outbox = runtime.outbox.table
        outbox_before = await _max_id(runtime.engine, outbox)
        try:
            try:
                report.lag_left = await _replay(
                    runtime, admin, groups, partitions, beginnings, ends, give_up_after,
                    on_progress, poll_seconds, report,
                )  # fmt: skip
                if plan.recompute is not None:
                    async with transaction(runtime.sessions) as session:
                        await plan.recompute(session)
                    for table in plan.recomputed:
                        report.recomputed[table.name] = await _row_count(runtime.engine, table)
            finally:
                report.problems += await restore_references(
                    runtime.engine, runtime.metadata, references, dropped
                )
        except Exception as exc:
            raise RebuildError(
                f"The rebuild of {service} did not finish ({type(exc).__name__}: {exc}): its "
                f"read models are incomplete. Run `antt rebuild {service}` again before "
                "starting the service."
            ) from exc
        async with runtime.engine.begin() as connection:
            result = await connection.execute(delete(outbox).where(outbox.c.id > outbox_before))
            report.discarded_outbox_rows = result.rowcount
        committed = await retrying(lambda: committed_offsets(admin, groups, partitions))
    finally:
        await admin.close()
    for group, topic in sorted(groups.items(), key=lambda item: item[1]):
        inbox = runtime.inbox.table
        registry = runtime.registry
        report.topics.append(
            TopicReport(
                topic=topic,
                group=group,
                read=sum(
                    max(0, committed[(group, tp)] - beginnings[tp])
                    for tp in partitions.get(topic, [])
                ),
                applied=await _row_count(runtime.engine, inbox, inbox.c.consumer == group),
                duplicates=_sample_sum(registry, "antt_inbox_duplicates_skipped_total", topic),
                skipped=_sample_sum(registry, "antt_events_skipped_total", topic),
                dead_lettered=_sample_sum(registry, "antt_dead_letters_total", topic),
            )
        )
    report.seconds = time.monotonic() - began
    return report


def one_at_a_time(sessions: SessionFactory) -> SessionFactory:
    """A session factory whose sessions are open one at a time. The replay reads every topic
    at once, far faster than live traffic arrives, so two handlers of different topics would
    often run side by side; in one transaction each, neither sees what the other writes (on
    PostgreSQL's READ COMMITTED), and a fill-in that depends on the other's row is lost.
    One transaction at a time, whichever comes second sees the first; offsets are still
    committed to Kafka concurrently."""
    lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def session() -> AsyncIterator[AsyncSession]:
        async with lock, sessions() as opened:
            yield opened

    return cast(SessionFactory, session)


async def _replay(
    runtime: "ServiceRuntime",
    admin: AIOKafkaAdminClient,
    groups: dict[str, str],
    partitions: dict[str, list[TopicPartition]],
    beginnings: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    give_up_after: float,
    on_progress: Callable[[Progress], None] | None,
    poll_seconds: float,
    report: RebuildReport,
) -> int:
    """Run the service's subscribers until every group has committed up to ``ends``;
    returns the lag left (0 unless the timeout came first)."""
    targets = {
        (group, tp): (beginnings[tp], ends[tp])
        for group, topic in groups.items()
        for tp in partitions.get(topic, [])
    }
    total = sum(end - begin for begin, end in targets.values())
    started = time.monotonic()

    def measure(committed: dict[tuple[str, TopicPartition], int]) -> Progress:
        done = sum(
            min(max(committed.get(key, -1), begin), end) - begin
            for key, (begin, end) in targets.items()
        )
        return Progress(done, total, total - done, time.monotonic() - started)

    progress = Progress(0, total, total, 0.0)
    if on_progress:
        on_progress(progress)
    if total == 0:
        return 0
    runtime.consumer.sessions = one_at_a_time(runtime.sessions)
    await runtime.broker.start()
    try:
        while True:
            committed = await retrying(lambda: committed_offsets(admin, groups, partitions))
            progress = measure(committed)
            if on_progress:
                on_progress(progress)
            if progress.lag == 0 or progress.elapsed >= give_up_after:
                break
            await asyncio.sleep(poll_seconds)
    finally:
        await runtime.broker.stop()
        report.replay_seconds = time.monotonic() - started
    if progress.lag:
        report.problems.append(
            f"stopped after {give_up_after:.0f}s with {progress.lag} event(s) still to read; run "
            f"`antt rebuild {runtime.settings.service_name}` again (with a longer --timeout) "
            "before starting the service"
        )
    return progress.lag
