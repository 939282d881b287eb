"""The contract, committed: each service's AsyncAPI document under docs/asyncapi/ equals what
the code generates, lists exactly the events the service publishes and handles, and its
schemas accept the events the services really send (and refuse what they never send)."""

import enum
import importlib
import json
import re
import typing
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from typer.testing import CliRunner

from services.cli import app as cli
from shared.asyncapi import ASYNCAPI_DIR, GENERATED_HEADER
from shared.cloudevents import build_headers
from shared.events import (
    EVENT_TYPES,
    TOPIC_EVENTS,
    ActivityLogged,
    ActivityMeasure,
    AreaLevel,
    AreaMoved,
    AreaRegistered,
    AreaUpdated,
    AwardGranted,
    AwardKind,
    AwardRevoked,
    CameraInstalled,
    CameraRemoved,
    CertificationDecided,
    CriterionResult,
    FoundingDecision,
    IncidentLinked,
    IncidentReported,
    IncidentSource,
    IncidentStatus,
    IncidentStatusChanged,
    InitiativeLaunched,
    InitiativeStopped,
    IntegrationEvent,
    MemberJoined,
    MemberLeft,
    NominationCreated,
    NominationDecided,
    NominationDecision,
    RecipientKind,
    TeamDissolved,
    TeamRegistered,
    TeamRole,
    TeamUpdated,
)
from tests.support import running_app, unit_settings

EXPECTED = {
    "registry": (
        {
            "area_registered",
            "area_updated",
            "area_moved",
            "team_registered",
            "team_updated",
            "team_dissolved",
            "member_joined",
            "member_left",
            "initiative_launched",
            "initiative_stopped",
            "camera_installed",
            "camera_removed",
        },
        {"award_granted", "award_revoked"},
    ),
    "reporting": (
        {"incident_reported", "incident_status_changed", "incident_linked", "activity_logged"},
        {
            "area_registered",
            "area_updated",
            "area_moved",
            "team_registered",
            "team_updated",
            "team_dissolved",
        },
    ),
    "awards": (
        {
            "nomination_created",
            "nomination_decided",
            "award_granted",
            "award_revoked",
            "certification_decided",
        },
        {
            "area_registered",
            "area_updated",
            "area_moved",
            "team_registered",
            "team_updated",
            "team_dissolved",
            "member_joined",
            "member_left",
            "incident_reported",
            "incident_status_changed",
            "incident_linked",
            "activity_logged",
        },
    ),
}

AREA, PARENT, TEAM, PERSON = (uuid.UUID(int=n) for n in (1, 2, 3, 4))
INCIDENT, ACTIVITY, AWARD, NOMINATION = (uuid.UUID(int=n) for n in (5, 6, 7, 8))
INITIATIVE, CAMERA, CERTIFICATION = (uuid.UUID(int=n) for n in (9, 10, 11))
AT = datetime(2026, 11, 22, 10, 30, 50, 546670, tzinfo=UTC)
ON = date(2026, 11, 22)

# One real event of every type, every field filled in (optional ones too).
EXAMPLES: list[IntegrationEvent] = [
    AreaRegistered(
        area_id=AREA,
        code="HN-BD-QA",
        name="Phường Quảng An",
        level=AreaLevel.WARD,
        parent_id=PARENT,
        households=1200,
        aggregate_version=1,
    ),
    AreaUpdated(
        area_id=AREA,
        code="HN-BD-QA",
        name="Phường Quảng An mới",
        households=1250,
        aggregate_version=2,
    ),
    AreaMoved(
        area_id=AREA, code="HN-BD-QA", from_parent_id=PARENT, to_parent_id=None, aggregate_version=3
    ),
    TeamRegistered(
        team_id=TEAM,
        area_id=AREA,
        name="Tổ ANTT tổ dân phố số 3",
        kind="security_order",
        founded_on=ON,
        covered_area_ids=[PARENT],
        founding_decision=FoundingDecision(number="12/QĐ-UBND", issued_on=ON, issuer="UBND"),
        aggregate_version=1,
    ),
    TeamUpdated(
        team_id=TEAM,
        area_id=AREA,
        name="Tổ ANTT số 3",
        kind="security_order",
        founded_on=ON,
        covered_area_ids=[PARENT],
        founding_decision=FoundingDecision(number="13/QĐ-UBND", issued_on=ON, issuer="UBND"),
        aggregate_version=2,
    ),
    TeamDissolved(
        team_id=TEAM, area_id=AREA, dissolved_on=ON, reason="merged", aggregate_version=3
    ),
    MemberJoined(
        team_id=TEAM,
        area_id=AREA,
        person_id=PERSON,
        full_name="Nguyễn Chu Thực",
        role=TeamRole.LEADER,
        joined_on=ON,
        aggregate_version=4,
    ),
    MemberLeft(
        team_id=TEAM,
        area_id=AREA,
        person_id=PERSON,
        role=TeamRole.DEPUTY,
        left_on=ON,
        reason="moved away",
        aggregate_version=5,
    ),
    InitiativeLaunched(
        initiative_id=INITIATIVE,
        area_id=AREA,
        name="Camera an ninh",
        launched_on=ON,
        aggregate_version=1,
    ),
    InitiativeStopped(
        initiative_id=INITIATIVE,
        area_id=AREA,
        stopped_on=ON,
        reason="formality",
        aggregate_version=2,
    ),
    CameraInstalled(
        camera_id=CAMERA, area_id=AREA, installed_on=ON, funding="socialised", aggregate_version=1
    ),
    CameraRemoved(
        camera_id=CAMERA, area_id=AREA, removed_on=ON, reason="broken", aggregate_version=2
    ),
    IncidentReported(
        incident_id=INCIDENT,
        area_id=AREA,
        category="theft",
        category_group="crime",
        severity="minor",
        source=IncidentSource.RESIDENT_TIP,
        status=IncidentStatus.REPORTED,
        occurred_at=AT,
        reported_at=AT,
        credited_team_ids=[TEAM],
        aggregate_version=1,
    ),
    IncidentStatusChanged(
        incident_id=INCIDENT,
        area_id=AREA,
        category="theft",
        category_group="crime",
        source=IncidentSource.PATROL,
        from_status=IncidentStatus.VERIFIED,
        to_status=IncidentStatus.RESOLVED,
        changed_at=AT,
        occurred_at=AT,
        credited_team_ids=[TEAM],
        aggregate_version=3,
    ),
    IncidentLinked(
        incident_id=INCIDENT,
        duplicate_of=ACTIVITY,
        area_id=AREA,
        category="theft",
        linked_at=AT,
        aggregate_version=4,
    ),
    ActivityLogged(
        activity_id=ACTIVITY,
        area_id=AREA,
        activity_type="outreach",
        occurred_on=ON,
        measures=[ActivityMeasure(item="people_reached", unit="people", quantity=Decimal("1.5"))],
        outcome="agreed",
        team_ids=[TEAM],
        incident_id=INCIDENT,
        aggregate_version=1,
    ),
    AwardGranted(
        award_id=AWARD,
        nomination_id=NOMINATION,
        recipient_kind=RecipientKind.COLLECTIVE,
        recipient_id=TEAM,
        recipient_name="Tổ ANTT số 3",
        award_form="giay_khen",
        authority="ward_committee",
        reason="Thành tích xuất sắc",
        decision_number="19/QĐ-UBND",
        granted_on=AT,
        area_id=AREA,
        authority_level="ward",
        award_kind=AwardKind.CAMPAIGN,
        campaign="ngay_hoi_2026",
        aggregate_version=1,
    ),
    AwardRevoked(
        award_id=AWARD,
        recipient_kind=RecipientKind.INDIVIDUAL,
        recipient_id=PERSON,
        reason="fraud",
        revoked_on=ON,
        area_id=AREA,
        aggregate_version=2,
    ),
    NominationCreated(
        nomination_id=NOMINATION,
        recipient_kind=RecipientKind.HOUSEHOLD,
        recipient_id=PERSON,
        recipient_name="Hộ ông Thực",
        area_id=AREA,
        award_form="giay_khen",
        authority="ward_committee",
        award_kind=AwardKind.REGULAR,
        campaign="ngay_hoi_2026",
        suggested=True,
        aggregate_version=1,
    ),
    NominationDecided(
        nomination_id=NOMINATION,
        decision=NominationDecision.REJECTED,
        reason="too early",
        decided_at=AT,
        area_id=AREA,
        aggregate_version=2,
    ),
    CertificationDecided(
        certification_id=CERTIFICATION,
        area_id=AREA,
        year=2026,
        certified=True,
        criteria=[
            CriterionResult(
                criterion="incidents", met=True, value="4", rule="at most last year's 5"
            )
        ],
        decided_at=AT,
        evaluation=2,
        aggregate_version=1,
    ),
]


def minimal(event: IntegrationEvent) -> IntegrationEvent:
    """The same event with only its required fields: the optional ones take their defaults
    (None, an empty list), as an older producer would leave them."""
    fields = type(event).model_fields
    return type(event)(
        **{name: getattr(event, name) for name in fields if fields[name].is_required()}
    )


def enums_in(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return True
    return any(enums_in(arg) for arg in typing.get_args(annotation))


ENUM_FIELDS = [
    (event.event_type, name)
    for event in EXAMPLES
    for name, field in type(event).model_fields.items()
    if enums_in(field.annotation)
]


def validator(document: dict[str, Any], pointer: str) -> Draft7Validator:
    """A validator for the schema at ``pointer`` in ``document``, its ``$ref``s resolved
    inside the document (nothing is fetched)."""
    uri = "urn:antt:asyncapi"
    resource = Resource.from_contents(document, default_specification=DRAFT7)
    registry: Registry[Any] = Registry().with_resource(uri, resource)
    return Draft7Validator(
        {"$ref": f"{uri}#{pointer}"}, registry=registry, format_checker=FormatChecker()
    )


def wire_headers(event: IntegrationEvent, **overrides: str | None) -> dict[str, str]:
    """The Kafka headers the outbox relay writes for ``event``."""
    headers = build_headers(
        event_id=str(uuid.uuid4()),
        source=f"/antt/{event.topic.split('.')[0]}",
        event_type=event.event_type,
        subject=event.subject,
        time=AT,
        correlation_id="req-42",
    )
    changed: dict[str, str | None] = {**headers, **overrides}
    return {name: value for name, value in changed.items() if value is not None}


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each service's document as its code generates it (built offline: no Kafka, no DB)."""
    found = {}
    for service in EXPECTED:
        module = importlib.import_module(f"services.{service}.app")
        database = tmp_path_factory.mktemp(service) / "db"
        app = module.create_app(unit_settings(module.Settings, f"sqlite+aiosqlite:///{database}"))
        found[service] = app.state.runtime.asyncapi()
    return found


def documents_with(documents: dict[str, dict[str, Any]], event_type: str) -> list[dict]:
    return [doc for doc in documents.values() if event_type in doc["components"]["messages"]]


def test_committed_documents_equal_what_the_code_generates(documents, tmp_path):
    result = CliRunner().invoke(cli, ["asyncapi", "--write", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for service in EXPECTED:
        committed = ASYNCAPI_DIR / f"{service}.yaml"
        assert committed.is_file(), f"{committed} is missing: run `antt asyncapi --write`"
        generated = (tmp_path / f"{service}.yaml").read_text(encoding="utf-8")
        assert committed.read_text(encoding="utf-8") == generated, (
            f"{committed} differs from what the code generates: run `antt asyncapi --write` "
            "and commit the result"
        )
        assert generated.startswith(GENERATED_HEADER)
        # The file holds the very document the service serves, whatever its settings.
        assert yaml.safe_load(generated) == documents[service]


def test_the_command_prints_one_document():
    result = CliRunner().invoke(cli, ["asyncapi", "reporting"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (ASYNCAPI_DIR / "reporting.yaml").read_text(encoding="utf-8")
    assert CliRunner().invoke(cli, ["asyncapi", "nobody"]).exit_code == 2
    assert CliRunner().invoke(cli, ["asyncapi"]).exit_code == 2


@pytest.mark.parametrize("service", EXPECTED)
async def test_the_service_serves_its_document(service, documents, tmp_path):
    module = importlib.import_module(f"services.{service}.app")
    app = module.create_app(unit_settings(module.Settings, f"sqlite+aiosqlite:///{tmp_path}/db"))
    async with running_app(app) as (client, _):
        response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(documents[service]))


def operation_events(document: dict[str, Any], action: str) -> set[str]:
    found = set()
    for operation in document["operations"].values():
        if operation["action"] != action:
            continue
        channel_id = operation["channel"]["$ref"].removeprefix("#/channels/")
        topic = document["channels"][channel_id]["address"]
        for reference in operation["messages"]:
            event_type = reference["$ref"].rsplit("/", 1)[1]
            assert EVENT_TYPES[event_type].topic == topic, (event_type, topic)
            found.add(event_type)
    return found


@pytest.mark.parametrize("service", EXPECTED)
def test_documents_list_exactly_what_each_service_publishes_and_consumes(service, documents):
    document = documents[service]
    publishes, consumes = EXPECTED[service]
    assert operation_events(document, "send") == publishes
    assert operation_events(document, "receive") == consumes
    # A channel lists every type on its topic, handled or not: consumers skip the others.
    for topic, channel in document["channels"].items():
        assert channel["address"] == topic
        assert set(channel["messages"]) == {event.event_type for event in TOPIC_EVENTS[topic]}
    for event_type, message in document["components"]["messages"].items():
        event = EVENT_TYPES[event_type]
        assert message["name"] == event_type
        assert message["headers"]["properties"]["ce_type"]["const"] == f"vn.antt.{event_type}"
        assert message["payload"] == {"$ref": f"#/components/schemas/{event.__name__}"}
        assert message["bindings"]["kafka"]["key"]["format"] == "uuid"
        schema = document["components"]["schemas"][event.__name__]
        assert set(event.model_fields) == set(schema["properties"])
    assert ".dlq" in document["info"]["description"]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda event: event.event_type)
def test_payload_schemas_accept_real_events(event, documents):
    assert {type(example) for example in EXAMPLES} == set(EVENT_TYPES.values())
    found = documents_with(documents, event.event_type)
    assert found, f"no document carries {event.event_type}"
    for document in found:
        check = validator(document, f"/components/messages/{event.event_type}/payload")
        for variant in (event, minimal(event)):
            payload = json.loads(variant.model_dump_json())
            assert not list(check.iter_errors(payload)), payload
        payload = json.loads(event.model_dump_json())
        # Readers ignore fields they do not know: an added optional field breaks nothing.
        assert check.is_valid({**payload, "added_later": "x"})
        assert not check.is_valid({**payload, "aggregate_version": "one"})
        assert not check.is_valid({**payload, "aggregate_version": 0})
        assert not check.is_valid({**payload, event.subject_field: "not-a-uuid"})
        del payload[event.subject_field]
        assert not check.is_valid(payload)


@pytest.mark.parametrize(("event_type", "field"), ENUM_FIELDS, ids=lambda part: part)
def test_payload_schemas_refuse_a_wrong_enum_value(event_type, field, documents):
    event = next(example for example in EXAMPLES if example.event_type == event_type)
    payload = json.loads(event.model_dump_json())
    for document in documents_with(documents, event_type):
        check = validator(document, f"/components/messages/{event_type}/payload")
        assert check.is_valid(payload)
        assert not check.is_valid({**payload, field: "no_such_value"}), (event_type, field)


def test_every_enum_of_the_contracts_is_checked():
    covered = {name for _, name in ENUM_FIELDS}
    assert {"level", "role", "source", "status", "recipient_kind", "decision"} <= covered
    assert {"award_kind", "from_status", "to_status"} <= covered


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda event: event.event_type)
def test_header_schemas_hold_the_cloudevents_attributes(event, documents):
    for document in documents_with(documents, event.event_type):
        check = validator(document, f"/components/messages/{event.event_type}/headers")
        assert not list(check.iter_errors(wire_headers(event)))
        assert check.is_valid(wire_headers(event, correlation_id=None))
        assert not check.is_valid(wire_headers(event, ce_id=None))
        assert not check.is_valid(wire_headers(event, ce_subject=None))
        assert not check.is_valid(wire_headers(event, **{"content-type": None}))
        assert not check.is_valid(wire_headers(event, ce_type="vn.antt.something_else"))
        assert not check.is_valid(wire_headers(event, ce_specversion="0.3"))
        assert not check.is_valid(wire_headers(event, ce_source="/antt/elsewhere"))
        assert not check.is_valid(wire_headers(event, ce_time="2026-11-22T17:30:50+07:00"))
        assert not check.is_valid(wire_headers(event, **{"content-type": "text/plain"}))


COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


def resolve(document: dict[str, Any], reference: str) -> Any:
    assert reference.startswith("#/"), f"{reference} points outside the document"
    node: Any = document
    for part in reference[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{reference} does not resolve"
        node = node[part]
    return node


@pytest.mark.parametrize("service", EXPECTED)
def test_documents_are_asyncapi_3(service, documents):
    document = yaml.safe_load((ASYNCAPI_DIR / f"{service}.yaml").read_text(encoding="utf-8"))
    assert document == documents[service]
    assert str(document["asyncapi"]).startswith("3.")
    assert set(document) <= {
        "asyncapi",
        "id",
        "info",
        "servers",
        "defaultContentType",
        "channels",
        "operations",
        "components",
    }
    assert isinstance(document["info"]["title"], str)
    assert isinstance(document["info"]["version"], str)
    for reference in references(document):
        resolve(document, reference)
    components = document["components"]
    for section in components.values():
        assert all(COMPONENT_KEY.match(key) for key in section), section.keys()
    assert all(COMPONENT_KEY.match(key) for key in document["channels"])
    assert all(COMPONENT_KEY.match(key) for key in document["operations"])
    for channel in document["channels"].values():
        assert isinstance(channel["address"], str)
        for reference in channel["messages"].values():
            assert reference["$ref"].startswith("#/components/messages/")
        assert channel["bindings"]["kafka"]["topic"] == channel["address"]
    for operation in document["operations"].values():
        assert operation["action"] in ("send", "receive")
        channel_ref = operation["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/")
        # AsyncAPI 3.0: an operation's messages are those of its channel.
        for reference in operation["messages"]:
            assert reference["$ref"].startswith(f"{channel_ref}/messages/"), reference
    for name, message in components["messages"].items():
        assert message["contentType"] == "application/json"
        headers = message["headers"]
        assert headers["type"] == "object" and set(headers["required"]) <= set(
            headers["properties"]
        )
        Draft7Validator.check_schema(headers)
        Draft7Validator.check_schema(message["bindings"]["kafka"]["key"])
        assert any(
            channel["messages"].get(name) == {"$ref": f"#/components/messages/{name}"}
            for channel in document["channels"].values()
        ), f"{name} is on no channel"
    for schema in components["schemas"].values():
        Draft7Validator.check_schema(schema)
    # Every shared definition is used, so the document carries nothing stale.
    used = {ref.rsplit("/", 1)[1] for ref in references(document) if "/schemas/" in ref}
    assert used == set(components["schemas"])
