"""Settings every service shares, read from ``ANTT_*`` environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"


class ServiceSettings(BaseSettings):
    """Base for each service's settings; a subclass sets the service's own defaults."""

    model_config = SettingsConfigDict(env_prefix="ANTT_", extra="ignore")

    service_name: str = "antt"
    env: Literal["dev", "test", "prod"] = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Topics are created at start-up with these sizes; partitions bound how far a
    # consumer group can scale out. Six split evenly over 1, 2, 3 or 6 instances.
    kafka_create_topics: bool = True
    kafka_topic_partitions: int = Field(default=6, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    # With acks=all a write is acknowledged once this many replicas have it; one broker
    # of a 3-node cluster (factor 3, min ISR 2) can then be lost without refusing writes.
    kafka_min_insync_replicas: int = Field(default=1, ge=1)
    # Bearer tokens: an HMAC key of at least 32 bytes, from the variable or a file.
    # Without one the service refuses to start, unless ANTT_ENV=dev.
    jwt_secret: SecretStr | None = None
    jwt_secret_file: Path | None = None
    jwt_issuer: str = "antt"
    jwt_audience: str = "antt"
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    kafka_measure_lag: bool = True
    # How often gauges read from elsewhere (consumer lag, totals) are refreshed.
    metrics_refresh_seconds: float = Field(default=15.0, gt=0)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    # A warning or error repeated alike is shown once, then once per this many seconds with
    # `repeated` (how many were left out); 0 shows every one.
    log_repeat_window_seconds: float = Field(default=10.0, ge=0)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    # The relay sends up to this many rows before awaiting their acknowledgements, then
    # marks them sent in one UPDATE (an IN list of this many ids).
    outbox_batch_size: int = Field(default=2000, ge=1, le=10_000)
    # Published outbox rows are kept this long (for audits of what left), then purged;
    # Kafka's topics keep the events themselves for ever.
    outbox_keep_days: float = Field(default=7.0, ge=0)
    outbox_purge_interval_seconds: float = Field(default=3600.0, gt=0)
    # Idempotency-Key answers of creates (reporting, awards) are kept this long (an older
    # key is unknown), and purged this often (shared/idempotency.py).
    idempotency_keep_hours: float = Field(default=24.0, ge=0)
    idempotency_purge_interval_seconds: float = Field(default=3600.0, gt=0)
    # A message whose handler fails this many times in a row goes to <topic>.dlq.
    consumer_max_attempts: int = Field(default=3, ge=1)
    consumer_retry_backoff_seconds: float = Field(default=0.2, ge=0)
    # A consumer applies up to this many records in one transaction and one offset commit;
    # with nothing buffered it waits this long for a record, then as long again before it
    # asks anew (FastStream's batch loop): an idle consumer's events wait up to twice this.
    consumer_batch_max: int = Field(default=500, ge=1, le=5000)
    consumer_batch_wait_ms: int = Field(default=20, ge=1, le=60_000)

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_hosts(cls, value: str) -> str:
        return ",".join(bootstrap_list(value))

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> "ServiceSettings":
        if self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError(
                f"kafka_min_insync_replicas ({self.kafka_min_insync_replicas}) must not exceed "
                f"kafka_replication_factor ({self.kafka_replication_factor}): "
                "every write would be refused"
            )
        return self

    @property
    def kafka_bootstrap(self) -> list[str]:
        """The bootstrap brokers as a list: a client tries each until one answers."""
        return bootstrap_list(self.kafka_bootstrap_servers)

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file under var/ named after the service."""
        if self.database_url:
            return self.database_url
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{VAR_DIR / (self.service_name + '.db')}"


def bootstrap_list(servers: str) -> list[str]:
    """``host:port,host:port`` as a list; an empty entry or a missing port is refused."""
    hosts = [host.strip() for host in servers.split(",")]
    for host in hosts:
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"bootstrap servers must be a comma-separated list of host:port, got {host!r}"
            )
    return hosts
