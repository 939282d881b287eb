"""422 messages read alike: our own validators' messages come without the "Value error, "
pydantic puts before them, and the generated ones are English a user can read ("sessions
must be a whole number", not "count are counted in whole numbers"; "activity type
outreach", not "a outreach"; "an eid_guidance team", "at most 70 years old", not "a
eid_guidance team", "None to 70 years old")."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from services.awards.app import Settings as AwardsSettings
from services.awards.app import create_app as create_awards
from services.registry.app import Settings as RegistrySettings
from services.registry.app import create_app as create_registry
from services.registry.imports.service import _validation_errors
from services.registry.people.models import PersonCreate
from services.registry.teams.rules import EffectiveRule, RosterEntry, check_roster
from services.reporting.app import Settings as ReportingSettings
from services.reporting.app import create_app as create_reporting
from shared.errors import RuleViolationError
from shared.events import TeamRole
from tests.support import announce_area, running_app, unit_settings

WARD = uuid.uuid4()
PREFIXES = ("Value error", "Assertion failed")


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def message(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], loc: list[str | int]
) -> str:
    response = await client.post(path, json=body)
    assert response.status_code == 422, (path, response.text)
    details = response.json()["detail"]
    for detail in details:
        assert not detail["msg"].startswith(PREFIXES), detail
    [detail] = [d for d in details if d["loc"] == loc]
    return str(detail["msg"])


@pytest.fixture
async def reporting(database_url):
    async with running_app(create_reporting(unit_settings(ReportingSettings, database_url))) as (
        client,
        runtime,
    ):
        await announce_area(runtime.broker, WARD, "TH-HH")
        yield client


def incident(**changes: Any) -> dict[str, Any]:
    return {
        "area_id": str(WARD),
        "category": "theft",
        "source": "patrol",
        "summary": "Trộm xe máy",
        "occurred_at": ago(hours=5),
        **changes,
    }


def activity(**changes: Any) -> dict[str, Any]:
    return {
        "area_id": str(WARD),
        "activity_type": "outreach",
        "occurred_on": (date.today() - timedelta(days=1)).isoformat(),
        "measures": [{"item": "sessions", "quantity": 1}],
        **changes,
    }


async def test_reporting_messages_read_as_sentences(reporting):
    client = reporting
    cases = [
        (
            "/incidents",
            incident(latitude=21.0),
            ["body"],
            "latitude and longitude go together: give both or neither",
        ),
        (
            "/incidents",
            incident(occurred_at=ago(hours=1), reported_at=ago(hours=2)),
            ["body"],
            "reported_at cannot be before occurred_at",
        ),
        (
            "/incidents",
            incident(occurred_at=ago(hours=-3)),
            ["body", "occurred_at"],
            "cannot be in the future",
        ),
        (
            "/tips",
            {
                "area_id": str(WARD),
                "category": "drugs",
                "summary": "Nghi có điểm mua bán ma túy",
                "occurred_at": ago(hours=-3),
            },
            ["body", "occurred_at"],
            "cannot be in the future",
        ),
        (
            "/activities",
            activity(measures=[{"item": "sessions", "quantity": "2.5"}]),
            ["body", "measures", 0, "quantity"],
            "sessions must be a whole number (unit count)",
        ),
        (
            "/activities",
            activity(
                activity_type="eid_assistance",
                measures=[{"item": "level_2_collected", "quantity": "0.5"}],
            ),
            ["body", "measures", 0, "quantity"],
            "level_2_collected must be a whole number (unit people)",
        ),
        (
            "/activities",
            activity(measures=[{"item": "sessions", "unit": "kg", "quantity": 1}]),
            ["body", "measures", 0, "unit"],
            "the unit of sessions (outreach) is count",
        ),
        (
            "/activities",
            activity(outcome="successful"),
            ["body", "outcome"],
            "activity type outreach has no outcome",
        ),
        (
            "/activities",
            activity(topic="PCCC"),
            ["body", "topic"],
            "activity type outreach has no topic",
        ),
        (
            "/activities",
            activity(activity_type="mediation", measures=[{"item": "cases", "quantity": 1}]),
            ["body", "outcome"],
            "activity type mediation needs an outcome: one of successful, unsuccessful",
        ),
    ]
    for path, body, loc, expected in cases:
        assert await message(client, path, body, loc) == expected, (path, body)


async def test_registry_messages_have_no_prefix(database_url):
    async with running_app(create_registry(unit_settings(RegistrySettings, database_url))) as (
        client,
        _,
    ):
        person = {
            "full_name": "Nguyễn Văn A",
            "area_id": str(uuid.uuid4()),
            "birth_date": (date.today() + timedelta(days=3)).isoformat(),
        }
        assert (
            await message(client, "/people", person, ["body", "birth_date"])
            == "cannot be in the future"
        )


async def test_awards_messages_have_no_prefix(database_url):
    async with running_app(create_awards(unit_settings(AwardsSettings, database_url))) as (
        client,
        _,
    ):
        nomination = {
            "recipient_kind": "individual",
            "recipient_name": "Nguyễn Văn A",
            "area_id": str(uuid.uuid4()),
            "award_form": "giay_khen",
            "authority": "ward_committee",
            "reason": "Thành tích xuất sắc",
            "achievements": [{"kind": "incident"}],
        }
        assert (
            await message(client, "/nominations", nomination, ["body", "achievements", 0])
            == "an incident achievement names its ref_id"
        )


@pytest.mark.parametrize(
    ("rule", "born", "expected"),
    [
        (
            EffectiveRule(province="HN", kind="eid_guidance", min_age=18, max_age=70),
            date(1950, 1, 1),
            "rule member_age: members of an eid_guidance team in HN are 18 to 70 years old; "
            "Lê Văn A is 76 on 2026-03-01",
        ),
        (
            EffectiveRule(province="*", kind="mediation", max_age=70),
            date(1950, 1, 1),
            "rule member_age: members of a mediation team are at most 70 years old; "
            "Lê Văn A is 76 on 2026-03-01",
        ),
        (
            EffectiveRule(province="*", kind="mediation", min_age=18),
            date(2010, 1, 1),
            "rule member_age: members of a mediation team are at least 18 years old; "
            "Lê Văn A is 16 on 2026-03-01",
        ),
    ],
)
def test_team_rule_messages_read_as_sentences(rule: EffectiveRule, born: date, expected: str):
    entry = RosterEntry(
        name="Lê Văn A",
        role=TeamRole.LEADER,
        birth_date=born,
        joined_on=date(2026, 3, 1),
        loc=["body", "members", 0],
    )
    with pytest.raises(RuleViolationError) as raised:
        check_roster(rule, [entry], ["body", "members"])
    assert raised.value.message == expected


def test_import_report_messages_have_no_prefix():
    """The bulk import's per-row report reads as the API's 422 answers do."""
    with pytest.raises(ValidationError) as raised:
        PersonCreate.model_validate(
            {
                "full_name": "Lê Văn A",
                "area_id": str(uuid.uuid4()),
                "birth_date": (date.today() + timedelta(days=3)).isoformat(),
            }
        )
    [problem] = _validation_errors(raised.value, 7, {"birth_date": "birth_date"})
    assert (problem.row, problem.field, problem.message) == (
        7,
        "birth_date",
        "cannot be in the future",
    )
