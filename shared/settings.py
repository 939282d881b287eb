"""Settings every service shares, read from ``ANTT_*`` environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"

# Asymmetric algorithms only: an HMAC algorithm would let anyone holding the issuer's
# public key sign tokens, and "none" signs nothing.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
)
ROLE_NAMES = frozenset({"admin", "officer", "tip_handler", "auditor", "service"})


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
    # People's and systems' tokens come from an OpenID Connect issuer (Keycloak): the URL
    # its tokens name as `iss`. The services read its discovery document and signing keys.
    oidc_issuer: str | None = None
    # Where the services read the discovery document when they reach the issuer by another
    # address than the one in `iss` (compose: keycloak:8080 inside, localhost outside).
    oidc_discovery_url: str | None = None
    oidc_audience: str = "antt"
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"], min_length=1)
    # Where a token carries its role names and its area codes (a dotted path into the claims).
    oidc_roles_claim: str = "realm_access.roles"
    oidc_areas_claim: str = "antt_areas"
    # The issuer's role name → this platform's role, for roles named differently there
    # (JSON, e.g. {"ward-police": "officer"}); a role not listed keeps its own name.
    oidc_role_names: dict[str, str] = Field(default_factory=dict)
    # For `antt login --service`: the client-credentials grant of a confidential client.
    oidc_client_id: str = "antt-service"
    oidc_client_secret: SecretStr | None = None
    # Development and test only: tokens signed with an HMAC key of at least 32 bytes, from
    # the variable or a file (`antt token issue`). With ANTT_ENV=prod HS256 is refused.
    jwt_secret: SecretStr | None = None
    jwt_secret_file: Path | None = None
    jwt_issuer: str = "antt"
    jwt_audience: str = "antt"
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # Peers trusted to say who their client is (X-Forwarded-For): the console, a reverse
    # proxy. Comma-separated addresses or networks; empty trusts none, since the header is
    # written by the client and would let anyone pick its own rate-limit bucket.
    forwarded_allow_ips: str = ""
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
    # with nothing buffered one fetch waits up to this long, handing over a record the
    # moment it comes, then the next begins: longer costs an idle service less CPU, never
    # an event's time.
    consumer_batch_max: int = Field(default=500, ge=1, le=5000)
    consumer_batch_wait_ms: int = Field(default=200, ge=1, le=60_000)

    @field_validator("env", mode="before")
    @classmethod
    def _production_is_prod(cls, value: object) -> object:
        return "prod" if value == "production" else value

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        # HMAC with a published key would let anyone sign; "none" signs nothing.
        refused = [name for name in value if name not in ASYMMETRIC_ALGORITHMS]
        if refused:
            raise ValueError(
                f"{', '.join(refused)} cannot verify an issuer's tokens; "
                f"use {', '.join(sorted(ASYMMETRIC_ALGORITHMS))}"
            )
        return value

    @field_validator("oidc_role_names")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value.values()) - ROLE_NAMES)
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} is not a role here; roles: {', '.join(sorted(ROLE_NAMES))}"
            )
        return value

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
