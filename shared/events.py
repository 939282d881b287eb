"""The event contracts: the only coupling between the services.

Each class is one event type, published on the topic of the same name, keyed by the
aggregate id named in ``subject_field``. Payloads are plain JSON; readers ignore fields
they do not know, so adding an optional field is not a breaking change. A breaking
change raises ``schema_version``.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class AreaLevel(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    WARD = "ward"
    COMMUNE = "commune"
    RESIDENTIAL_GROUP = "residential_group"


class TeamRole(StrEnum):
    LEADER = "leader"
    DEPUTY = "deputy"
    MEMBER = "member"


class IncidentStatus(StrEnum):
    REPORTED = "reported"
    VERIFIED = "verified"
    RESOLVED = "resolved"
    MEDIATED = "mediated"
    REFERRED = "referred"
    DISMISSED = "dismissed"


class IncidentSource(StrEnum):
    RESIDENT_TIP = "resident_tip"
    PATROL = "patrol"
    CAMERA = "camera"
    POLICE = "police"
    OTHER = "other"


class RecipientKind(StrEnum):
    INDIVIDUAL = "individual"
    COLLECTIVE = "collective"
    HOUSEHOLD = "household"


EVENT_TYPES: dict[str, type["IntegrationEvent"]] = {}


class IntegrationEvent(BaseModel):
    """Base of every payload: its schema version and the aggregate's version number."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    subject_field: ClassVar[str]

    schema_version: int = Field(default=1, ge=1)
    aggregate_version: int = Field(ge=1, description="Version of the aggregate after this change")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            EVENT_TYPES[cls.event_type] = cls

    @property
    def subject(self) -> str:
        """The aggregate id: the Kafka key and the ``ce_subject`` header."""
        return str(getattr(self, self.subject_field))


class AreaRegistered(IntegrationEvent):
    """An area (province, district, ward/commune, residential group) joined the registry."""

    event_type: ClassVar[str] = "area_registered"
    subject_field: ClassVar[str] = "area_id"

    area_id: UUID
    code: str
    name: str
    level: AreaLevel
    parent_id: UUID | None = None


class TeamRegistered(IntegrationEvent):
    """A team was set up in an area (its members follow as member_joined)."""

    event_type: ClassVar[str] = "team_registered"
    subject_field: ClassVar[str] = "team_id"

    team_id: UUID
    area_id: UUID
    name: str
    kind: str
    founded_on: datetime | None = None


class MemberJoined(IntegrationEvent):
    """A person joined a team as leader, deputy or member (no contact data)."""

    event_type: ClassVar[str] = "member_joined"
    subject_field: ClassVar[str] = "team_id"

    team_id: UUID
    area_id: UUID
    person_id: UUID
    full_name: str
    role: TeamRole


class IncidentReported(IntegrationEvent):
    """An incident was reported in an area, crediting the teams that helped."""

    event_type: ClassVar[str] = "incident_reported"
    subject_field: ClassVar[str] = "incident_id"

    incident_id: UUID
    area_id: UUID
    category: str
    source: IncidentSource
    status: IncidentStatus
    occurred_at: datetime
    reported_at: datetime
    credited_team_ids: list[UUID] = Field(default_factory=list)


class IncidentStatusChanged(IntegrationEvent):
    """An incident moved along reported → verified → resolved/mediated/referred/dismissed."""

    event_type: ClassVar[str] = "incident_status_changed"
    subject_field: ClassVar[str] = "incident_id"

    incident_id: UUID
    area_id: UUID
    category: str
    from_status: IncidentStatus
    to_status: IncidentStatus
    changed_at: datetime
    credited_team_ids: list[UUID] = Field(default_factory=list)


class AwardGranted(IntegrationEvent):
    """A nomination was approved into an award with a decision number."""

    event_type: ClassVar[str] = "award_granted"
    subject_field: ClassVar[str] = "award_id"

    award_id: UUID
    nomination_id: UUID
    recipient_kind: RecipientKind
    recipient_id: UUID
    recipient_name: str
    award_form: str
    authority: str
    reason: str
    decision_number: str
    granted_on: datetime
    area_id: UUID | None = Field(default=None, description="The recipient's area")


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"
