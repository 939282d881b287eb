"""Prometheus metrics: one registry per service instance, served on ``/metrics``."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.responses import Response

# From a millisecond (a hop on one machine) to a minute (a broker outage).
DELAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class DeliveryMetrics:
    """Outbox, inbox and dead-letter figures every service reports alike."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.outbox_pending = Gauge(
            "antt_outbox_pending_messages",
            "Outbox rows written but not yet published",
            registry=registry,
        )
        self.outbox_oldest_age = Gauge(
            "antt_outbox_oldest_pending_age_seconds",
            "Age of the oldest unpublished outbox row",
            registry=registry,
        )
        self.relay_published = Counter(
            "antt_outbox_published_messages",
            "Outbox rows published to Kafka",
            ["topic"],
            registry=registry,
        )
        self.relay_failures = Counter(
            "antt_outbox_publish_failures",
            "Failed attempts to publish an outbox row",
            registry=registry,
        )
        self.inbox_duplicates = Counter(
            "antt_inbox_duplicates_skipped",
            "Redelivered events the inbox recognised and skipped",
            ["topic"],
            registry=registry,
        )
        self.handler_failures = Counter(
            "antt_consumer_handler_failures",
            "Handler attempts that raised and were retried or dead-lettered",
            ["topic"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "antt_dead_letters",
            "Records sent to a dead-letter topic: undecodable, or failing every attempt",
            ["topic"],
            registry=registry,
        )
        self.batch_size = Histogram(
            "antt_consumer_batch_events",
            "Events a consumer applied in one transaction and one offset commit",
            ["topic"],
            buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=registry,
        )
        self.event_age = Histogram(
            "antt_consumer_event_age_seconds",
            "From a record's Kafka timestamp (the relay sent it) to the commit that applied it",
            ["topic"],
            buckets=DELAY_BUCKETS,
            registry=registry,
        )
        self.outbox_delay = Histogram(
            "antt_outbox_publish_delay_seconds",
            "From an outbox row's writing to Kafka's acknowledgement of its record",
            buckets=DELAY_BUCKETS,
            registry=registry,
        )
        self.batch_failures = Counter(
            "antt_consumer_batch_failures",
            "Batches whose one transaction failed and were re-applied event by event",
            ["topic"],
            registry=registry,
        )
        self.skipped = Counter(
            "antt_events_skipped",
            "Events of a type this service does not handle, read and passed over",
            ["topic", "type"],
            registry=registry,
        )
        self.outbox_purged = Counter(
            "antt_outbox_purged_rows",
            "Published outbox rows deleted after ANTT_OUTBOX_KEEP_DAYS",
            registry=registry,
        )


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class HttpMetrics:
    """Requests by route template (never the raw path: ids would explode the series)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "antt_http_requests",
            "HTTP requests answered",
            ["route", "method", "status_class"],
            registry=registry,
        )
        self.duration = Histogram(
            "antt_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route", "method"],
            registry=registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, method=method, status_class=f"{status // 100}xx").inc()
        self.duration.labels(route=route, method=method).observe(seconds)


class ConsumerLagMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Gauge(
            "antt_consumer_lag_messages",
            "Messages on a partition not yet committed by the consumer group",
            ["consumer_group", "topic", "partition"],
            registry=registry,
        )
