"""Consumer lag, measured from Kafka itself: for each of this service's consumer groups and
each partition of its topic, the end offset minus the group's committed offset."""

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from shared.metrics import ConsumerLagMetrics
from shared.settings import bootstrap_list


async def measure_consumer_lag(
    bootstrap_servers: str, groups: dict[str, str], metrics: ConsumerLagMetrics
) -> dict[tuple[str, str, int], int]:
    """Set the lag gauge for ``groups`` (consumer group → topic); returns what it set."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_list(bootstrap_servers))
    offsets = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_list(bootstrap_servers), enable_auto_commit=False
    )
    measured: dict[tuple[str, str, int], int] = {}
    try:
        # Inside: a start that fails (the broker is gone) still closes both clients.
        await admin.start()
        await offsets.start()
        descriptions = await admin.describe_topics(sorted(set(groups.values())))
        partitions = {
            d["topic"]: [TopicPartition(d["topic"], p["partition"]) for p in d["partitions"]]
            for d in descriptions
            if d["error_code"] == 0
        }
        every = [tp for tps in partitions.values() for tp in tps]
        if not every:
            return measured
        ends = await offsets.end_offsets(every)
        beginnings = await offsets.beginning_offsets(every)
        for group, topic in groups.items():
            try:
                committed = await admin.list_consumer_group_offsets(group)
            except GroupCoordinatorNotAvailableError:
                continue  # the broker is still electing it: measure again next round

            for tp in partitions.get(topic, []):
                position = committed[tp].offset if tp in committed else -1
                start = position if position >= 0 else beginnings[tp]
                lag = max(0, ends[tp] - start)
                metrics.lag.labels(
                    consumer_group=group, topic=topic, partition=str(tp.partition)
                ).set(lag)
                measured[(group, topic, tp.partition)] = lag
    finally:
        await offsets.stop()
        await admin.close()
    return measured
