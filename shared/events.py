"""The event contracts: the only coupling between the services.

Each class is one event type. Events are published on one topic per aggregate type,
``<service>.<aggregate>`` (Debezium's outbox convention), keyed by the aggregate id named in
``subject_field``, so Kafka keeps one aggregate's events in order; the event's name is its
CloudEvents type (``vn.antt.<event_type>``). Payloads are plain JSON; readers ignore fields
they do not know, so adding an optional field is not a breaking change. A breaking
change raises ``schema_version``.
"""

from datetime import date, datetime
from decimal import Decimal
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


class NominationDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class AwardKind(StrEnum):
    REGULAR = "regular"  # yearly (thường xuyên)
    AD_HOC = "ad_hoc"  # đột xuất
    CAMPAIGN = "campaign"  # a festival or a thematic drive


EVENT_TYPES: dict[str, type["IntegrationEvent"]] = {}
# topic → the event types published on it, in the order they are declared below
TOPIC_EVENTS: dict[str, list[type["IntegrationEvent"]]] = {}


class IntegrationEvent(BaseModel):
    """Base of every payload: its schema version and the aggregate's version number."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    subject_field: ClassVar[str]

    schema_version: int = Field(default=1, ge=1)
    aggregate_version: int = Field(ge=1, description="Version of the aggregate after this change")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            EVENT_TYPES[cls.event_type] = cls
            TOPIC_EVENTS.setdefault(cls.topic, []).append(cls)

    @property
    def subject(self) -> str:
        """The aggregate id: the Kafka key and the ``ce_subject`` header."""
        return str(getattr(self, self.subject_field))


class AreaEvent(IntegrationEvent):
    """An event of the area tree, on ``registry.area``, keyed by the area id."""

    topic: ClassVar[str] = "registry.area"
    subject_field: ClassVar[str] = "area_id"


class AreaRegistered(AreaEvent):
    """An area (province, district, ward/commune, residential group) joined the registry."""

    event_type: ClassVar[str] = "area_registered"

    area_id: UUID
    code: str
    name: str
    level: AreaLevel
    parent_id: UUID | None = None
    households: int | None = Field(
        default=None, ge=0, description="Households living in the area, when known"
    )


class AreaUpdated(AreaEvent):
    """An area was renamed or its household count changed (code, level, parent unchanged)."""

    event_type: ClassVar[str] = "area_updated"

    area_id: UUID
    code: str
    name: str
    households: int | None = Field(default=None, ge=0)


class AreaMoved(AreaEvent):
    """An area and its whole subtree moved under another parent (e.g. a district dissolved
    into the province). Descendants keep their parent; only this area's parent changes."""

    event_type: ClassVar[str] = "area_moved"

    area_id: UUID
    code: str
    from_parent_id: UUID | None
    to_parent_id: UUID | None


class FoundingDecision(BaseModel):
    """The decision that set a team up (số quyết định, ngày, cơ quan ban hành)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    number: str
    issued_on: date
    issuer: str


class TeamEvent(IntegrationEvent):
    """An event of a team or its roster, on ``registry.team``, keyed by the team id: a
    member's joining and leaving stay in order with the team's founding and dissolution."""

    topic: ClassVar[str] = "registry.team"
    subject_field: ClassVar[str] = "team_id"


class TeamRegistered(TeamEvent):
    """A team was set up in an area (its members follow as member_joined)."""

    event_type: ClassVar[str] = "team_registered"

    team_id: UUID
    area_id: UUID = Field(description="The area the team belongs to (its ward or group)")
    name: str
    kind: str
    founded_on: date | None = None
    covered_area_ids: list[UUID] = Field(
        default_factory=list, description="Residential groups the team covers"
    )
    founding_decision: FoundingDecision | None = None


class TeamUpdated(TeamEvent):
    """A team's name, kind, covered groups or founding decision changed: the full new state."""

    event_type: ClassVar[str] = "team_updated"

    team_id: UUID
    area_id: UUID
    name: str
    kind: str
    founded_on: date | None = None
    covered_area_ids: list[UUID] = Field(default_factory=list)
    founding_decision: FoundingDecision | None = None


class TeamDissolved(TeamEvent):
    """A team was dissolved; it stays in history but takes no new work or members."""

    event_type: ClassVar[str] = "team_dissolved"

    team_id: UUID
    area_id: UUID
    dissolved_on: date
    reason: str


class MemberJoined(TeamEvent):
    """A person joined a team as leader, deputy or member (no contact data, no birth date).
    A role change is published as member_left then member_joined with the new role."""

    event_type: ClassVar[str] = "member_joined"

    team_id: UUID
    area_id: UUID
    person_id: UUID
    full_name: str
    role: TeamRole
    joined_on: date | None = None


class MemberLeft(TeamEvent):
    """A person left a team (or left one role on it)."""

    event_type: ClassVar[str] = "member_left"

    team_id: UUID
    area_id: UUID
    person_id: UUID
    role: TeamRole
    left_on: date
    reason: str


class InitiativeEvent(IntegrationEvent):
    """An event of an initiative (mô hình), on ``registry.initiative``."""

    topic: ClassVar[str] = "registry.initiative"
    subject_field: ClassVar[str] = "initiative_id"


class InitiativeLaunched(InitiativeEvent):
    """An initiative (mô hình) was launched, or relaunched after a stop, in an area."""

    event_type: ClassVar[str] = "initiative_launched"

    initiative_id: UUID
    area_id: UUID
    name: str
    launched_on: date


class InitiativeStopped(InitiativeEvent):
    """An initiative was stopped, e.g. because it proved a formality."""

    event_type: ClassVar[str] = "initiative_stopped"

    initiative_id: UUID
    area_id: UUID
    stopped_on: date
    reason: str


class CameraEvent(IntegrationEvent):
    """An event of a community camera, on ``registry.camera``."""

    topic: ClassVar[str] = "registry.camera"
    subject_field: ClassVar[str] = "camera_id"


class CameraInstalled(CameraEvent):
    """A community security camera was installed in an area."""

    event_type: ClassVar[str] = "camera_installed"

    camera_id: UUID
    area_id: UUID
    installed_on: date
    funding: str = Field(description="Who paid: a funding source from the catalogue")


class CameraRemoved(CameraEvent):
    """A community camera was taken down."""

    event_type: ClassVar[str] = "camera_removed"

    camera_id: UUID
    area_id: UUID
    removed_on: date
    reason: str


class IncidentEvent(IntegrationEvent):
    """An event of an incident's lifecycle, on ``reporting.incident``."""

    topic: ClassVar[str] = "reporting.incident"
    subject_field: ClassVar[str] = "incident_id"


class IncidentReported(IncidentEvent):
    """An incident was reported in an area, crediting the teams that helped."""

    event_type: ClassVar[str] = "incident_reported"

    incident_id: UUID
    area_id: UUID
    category: str
    category_group: str | None = Field(default=None, description="The category's group")
    severity: str | None = None
    source: IncidentSource
    status: IncidentStatus
    occurred_at: datetime
    reported_at: datetime
    credited_team_ids: list[UUID] = Field(default_factory=list)


class IncidentStatusChanged(IncidentEvent):
    """An incident moved along reported → verified → resolved/mediated/referred/dismissed."""

    event_type: ClassVar[str] = "incident_status_changed"

    incident_id: UUID
    area_id: UUID
    category: str
    category_group: str | None = None
    source: IncidentSource | None = None
    from_status: IncidentStatus
    to_status: IncidentStatus
    changed_at: datetime
    occurred_at: datetime | None = None
    credited_team_ids: list[UUID] = Field(default_factory=list)


class IncidentLinked(IncidentEvent):
    """An incident was found to repeat an earlier one; counts should drop the duplicate."""

    event_type: ClassVar[str] = "incident_linked"

    incident_id: UUID = Field(description="The duplicate")
    duplicate_of: UUID = Field(description="The incident it repeats")
    area_id: UUID
    category: str
    linked_at: datetime


class ActivityMeasure(BaseModel):
    """One quantity of an activity: what was counted, in which unit, how much."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    item: str = Field(description="What is counted, e.g. sessions, people_reached, explosives")
    unit: str = Field(description="e.g. count, people, households, piece, kg")
    quantity: Decimal = Field(
        ge=0, description='A decimal; JSON carries it as a string, e.g. "1.5"'
    )


class ActivityEvent(IntegrationEvent):
    """An event of an activity, on ``reporting.activity``."""

    topic: ClassVar[str] = "reporting.activity"
    subject_field: ClassVar[str] = "activity_id"


class ActivityLogged(ActivityEvent):
    """An activity was recorded: outreach, patrol, training, mediation, household pledge,
    weapons handed in, footage extraction, e-ID help, with its own quantities."""

    event_type: ClassVar[str] = "activity_logged"

    activity_id: UUID
    area_id: UUID
    activity_type: str
    occurred_on: date
    measures: list[ActivityMeasure] = Field(default_factory=list)
    outcome: str | None = Field(default=None, description="e.g. a mediation's result")
    team_ids: list[UUID] = Field(default_factory=list)
    incident_id: UUID | None = None


class AwardEvent(IntegrationEvent):
    """An event of an award, on ``awards.award``, keyed by the award id."""

    topic: ClassVar[str] = "awards.award"
    subject_field: ClassVar[str] = "award_id"


class AwardGranted(AwardEvent):
    """A nomination was approved into an award with a decision number."""

    event_type: ClassVar[str] = "award_granted"

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
    authority_level: str | None = None
    award_kind: AwardKind | None = None
    campaign: str | None = None


class NominationEvent(IntegrationEvent):
    """An event of a nomination, on ``awards.nomination``."""

    topic: ClassVar[str] = "awards.nomination"
    subject_field: ClassVar[str] = "nomination_id"


class NominationCreated(NominationEvent):
    """Someone was nominated for an award (or the scores suggested it and an officer
    accepted the suggestion)."""

    event_type: ClassVar[str] = "nomination_created"

    nomination_id: UUID
    recipient_kind: RecipientKind
    recipient_id: UUID
    recipient_name: str
    area_id: UUID | None = None
    award_form: str
    authority: str
    award_kind: AwardKind
    campaign: str | None = None
    suggested: bool = Field(default=False, description="Came from an emulation-score suggestion")


class NominationDecided(NominationEvent):
    """A nomination was approved or rejected (rejections carry the reason)."""

    event_type: ClassVar[str] = "nomination_decided"

    nomination_id: UUID
    decision: NominationDecision
    reason: str | None = None
    decided_at: datetime
    area_id: UUID | None = None


class AwardRevoked(AwardEvent):
    """An award was revoked (e.g. obtained by fraud); profiles stop showing it."""

    event_type: ClassVar[str] = "award_revoked"

    award_id: UUID
    recipient_kind: RecipientKind
    recipient_id: UUID
    reason: str
    revoked_on: date
    area_id: UUID | None = None


class CriterionResult(BaseModel):
    """One safe-area criterion: met or not, with the value found and the rule applied."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    criterion: str
    met: bool
    value: str = Field(description='What the data showed, e.g. "4" or "0.93"')
    rule: str = Field(description='The rule in words, e.g. "at most last year\'s 5"')


class CertificationEvent(IntegrationEvent):
    """An event of a safe-area certification, on ``awards.certification``."""

    topic: ClassVar[str] = "awards.certification"
    subject_field: ClassVar[str] = "certification_id"


class CertificationDecided(CertificationEvent):
    """A yearly safe-area certification was decided (or re-decided after late events)."""

    event_type: ClassVar[str] = "certification_decided"

    certification_id: UUID
    area_id: UUID
    year: int
    certified: bool
    criteria: list[CriterionResult]
    decided_at: datetime
    evaluation: int = Field(
        default=1, ge=1, description="1 for the first decision, 2 after a re-evaluation, …"
    )


# Set on a dead letter whose original value was null, which Kafka tells apart from empty.
DLQ_NULL_VALUE_HEADER = "dlq_value_null"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"
