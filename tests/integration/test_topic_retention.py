"""Topics keep every event for ever: the services create them so, and warn about one that
would expire its history."""

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from structlog.testing import capture_logs

from shared.bus import ensure_topics, topic_retention
from shared.events import TOPIC_EVENTS, dead_letter_topic
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


async def retention(bootstrap: str, topics: list[str]) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await topic_retention(admin, topics)
    finally:
        await admin.close()


async def test_the_services_topics_keep_their_records_for_ever(stack):
    topics = [*TOPIC_EVENTS, *(dead_letter_topic(t) for t in ("registry.team",))]
    found = await retention(stack.kafka.bootstrap_servers, topics)
    assert found == dict.fromkeys(topics, "-1")


async def test_a_topic_that_expires_history_is_named_in_a_warning(kafka):
    bootstrap = kafka.bootstrap_servers
    kept, expiring = f"kept-{uuid.uuid4().hex[:8]}", f"expiring-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        week = {"retention.ms": str(7 * 24 * 3600 * 1000)}
        await admin.create_topics([NewTopic(expiring, 1, 1, topic_configs=week)])
    finally:
        await admin.close()
    settings = ServiceSettings(
        kafka_bootstrap_servers=bootstrap, log_format="json", service_name="retention-test"
    )
    with capture_logs() as logged:
        await ensure_topics(settings, [kept, expiring])
    assert await retention(bootstrap, [kept, expiring]) == {kept: "-1", expiring: "604800000"}
    warnings = [entry for entry in logged if entry["event"] == "topic_expires_history"]
    assert [(w["topic"], w["found"]) for w in warnings] == [(expiring, "604800000")]
    assert "retention.ms=-1" in warnings[0]["fix"]


async def test_each_way_a_topic_differs_from_the_settings_is_named(kafka):
    bootstrap = kafka.bootstrap_servers
    narrow, matching = f"narrow-{uuid.uuid4().hex[:8]}", f"matching-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(narrow, 2, 1, topic_configs={"min.insync.replicas": "2"})]
        )
    finally:
        await admin.close()
    settings = ServiceSettings(
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_partitions=3,
        service_name="settings-test",
    )
    await ensure_topics(settings, [matching])  # created as the settings say: nothing to warn
    with capture_logs() as logged:
        differences = await ensure_topics(settings, [narrow, matching])
    assert {(d.topic, d.setting, d.found, d.wanted) for d in differences} == {
        (narrow, "partitions", "2", "3"),
        (narrow, "min.insync.replicas", "2", "1"),
    }
    warned = [e for e in logged if e["event"] == "topic_differs_from_settings"]
    assert sorted((w["topic"], w["setting"]) for w in warned) == [
        (narrow, "min.insync.replicas"),
        (narrow, "partitions"),
    ]
    assert all(w["fix"] and narrow in w["fix"] for w in warned)

    # Settings asking for more replicas than the (one-broker) topics have: existing topics
    # are only compared, so nothing is created and each one is named.
    replicated = ServiceSettings(
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_partitions=2,
        kafka_replication_factor=3,
        kafka_min_insync_replicas=2,
        service_name="settings-test",
    )
    with capture_logs() as logged:
        differences = await ensure_topics(replicated, [narrow, matching])
    assert {(d.topic, d.setting, d.found, d.wanted) for d in differences} == {
        (narrow, "replication_factor", "1", "3"),
        (matching, "replication_factor", "1", "3"),
        (matching, "min.insync.replicas", "1", "2"),
    }
    warned = [e for e in logged if e["event"] == "topic_differs_from_settings"]
    replication = {w["topic"]: w["fix"] for w in warned if w["setting"] == "replication_factor"}
    assert replication.keys() == {narrow, matching}
    assert all("kafka-reassign-partitions" in fix for fix in replication.values())
