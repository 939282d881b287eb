"""A comma-separated bootstrap list works in every Kafka client the project makes: the
service's broker, topic creation, the lag measure and the dead-letter tools. One host of
each list here has nothing listening, as when that broker is down: the first (which every
client tries first), or the last. (A cluster's middle host down is
``test_faults``'s one broker of three.)"""

import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from shared.bus import create_broker, ensure_topics
from shared.dead_letters import pending_dead_letters
from shared.events import dead_letter_topic
from shared.lag import measure_consumer_lag
from shared.local_kafka import LocalKafka, free_port
from shared.metrics import ConsumerLagMetrics
from shared.settings import PROJECT_ROOT, ServiceSettings
from tests.support import eventually

pytestmark = pytest.mark.integration


def with_a_dead_host_first(kafka: LocalKafka) -> str:
    return f"127.0.0.1:{free_port()}, {kafka.bootstrap_servers}"


def with_a_dead_host_last(kafka: LocalKafka) -> str:
    return f"{kafka.bootstrap_servers},127.0.0.1:{free_port()}"


@pytest.mark.parametrize(
    "listed", [with_a_dead_host_first, with_a_dead_host_last], ids=["dead-first", "dead-last"]
)
async def test_every_client_takes_a_list_and_skips_a_host_that_is_down(
    kafka: LocalKafka, listed: Callable[[LocalKafka], str]
):
    bootstrap = listed(kafka)
    settings = ServiceSettings(kafka_bootstrap_servers=bootstrap, service_name="list-test")
    topic = f"listed-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic, dead_letter_topic(topic)])

    broker = create_broker(settings, CollectorRegistry())
    await broker.start()
    try:
        await broker.publish(b"{}", topic=topic, key=b"k")
        assert await broker.ping(timeout=10)
    finally:
        await broker.stop()

    async def lag() -> int:
        measured = await measure_consumer_lag(
            bootstrap, {"list-test-group": topic}, ConsumerLagMetrics(CollectorRegistry())
        )
        return sum(measured.values())

    # The one record, not yet read by the group (once the new topic's leaders are known).
    assert await eventually(lag, within=20, interval=0.5) == 1
    assert await pending_dead_letters(bootstrap, topic) == 0


def test_the_dlq_command_takes_a_list_and_refuses_a_malformed_one(kafka: LocalKafka):
    def dlq_count(bootstrap: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", "dlq", "count", "reporting.incident"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "ANTT_KAFKA_BOOTSTRAP_SERVERS": bootstrap},
            check=False,
        )

    listed = dlq_count(with_a_dead_host_first(kafka))
    assert listed.returncode == 0, listed.stderr
    assert "reporting.incident.dlq:" in listed.stdout
    malformed = dlq_count(f"{kafka.bootstrap_servers},,")
    assert malformed.returncode == 2
    assert "comma-separated list of host:port" in malformed.stderr
