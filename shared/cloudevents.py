"""CloudEvents 1.0 in Kafka binary mode: attributes travel as ``ce_*`` headers, the
payload is plain JSON in the record value, the record key is the aggregate id."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
TYPE_PREFIX = "vn.antt."
CORRELATION_ID_HEADER = "correlation_id"
REQUIRED_HEADERS = ("ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time")


class InvalidEnvelopeError(ValueError):
    """A record that does not carry the CloudEvents headers this project promises."""


@dataclass(frozen=True)
class Envelope:
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    correlation_id: str | None = None

    @property
    def event_type(self) -> str:
        """The event name, which is also its topic: ``vn.antt.x`` → ``x``."""
        return self.type.removeprefix(TYPE_PREFIX)


def ce_type_for(event_type: str) -> str:
    return TYPE_PREFIX + event_type


def build_headers(
    *,
    event_id: str,
    source: str,
    event_type: str,
    subject: str,
    time: datetime,
    correlation_id: str | None = None,
) -> dict[str, str]:
    headers = {
        "ce_id": event_id,
        "ce_source": source,
        "ce_type": ce_type_for(event_type),
        "ce_specversion": SPEC_VERSION,
        "ce_time": time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "ce_subject": subject,
        "content-type": CONTENT_TYPE,
    }
    if correlation_id:
        headers[CORRELATION_ID_HEADER] = correlation_id
    return headers


def _as_text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def headers_to_dict(
    headers: Mapping[str, bytes | str] | Iterable[tuple[str, bytes | str]],
) -> dict[str, str]:
    """Kafka headers as aiokafka (a list of pairs) or FastStream (a dict) hands them over."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {key: _as_text(value) or "" for key, value in pairs}


def parse_headers(headers: Mapping[str, bytes | str]) -> Envelope:
    values = headers_to_dict(headers)
    missing = [name for name in REQUIRED_HEADERS if not values.get(name)]
    if missing:
        raise InvalidEnvelopeError(f"missing CloudEvents header(s): {', '.join(missing)}")
    if values["ce_specversion"] != SPEC_VERSION:
        raise InvalidEnvelopeError(
            f"ce_specversion must be {SPEC_VERSION}, got {values['ce_specversion']!r}"
        )
    try:
        time = datetime.fromisoformat(values["ce_time"].replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidEnvelopeError(f"ce_time is not RFC 3339: {values['ce_time']!r}") from exc
    return Envelope(
        id=values["ce_id"],
        source=values["ce_source"],
        type=values["ce_type"],
        time=time,
        subject=values.get("ce_subject") or None,
        correlation_id=values.get(CORRELATION_ID_HEADER) or None,
    )
