"""Every enumerated list filter, in all three services, refuses a value it does not know
with the same 422: ``{"loc": ["query", name], "type": "enum", "msg": "Input should be
'a', 'b' or 'c'"}``, listing the legal values and not repeating the one sent; whether
the values are fixed in code (statuses, sources, levels) or configured (categories,
activity types, team kinds, campaigns), the configured ones checked against the
catalogue as configured. Nothing quietly answers 200 ``[]`` for a typo."""

import uuid
from typing import Any

import httpx

from services.awards.app import Settings as AwardsSettings
from services.awards.app import create_app as create_awards
from services.awards.awards.rules import Campaign
from services.registry.app import Settings as RegistrySettings
from services.registry.app import create_app as create_registry
from services.registry.teams.rules import DEFAULT_TEAM_KINDS, TeamKind
from services.reporting.app import DEFAULT_CATEGORY_GROUPS
from services.reporting.app import Settings as ReportingSettings
from services.reporting.app import create_app as create_reporting
from tests.support import running_app, unit_settings

UNKNOWN = "no_such_value"


async def refused(client: httpx.AsyncClient, path: str, name: str, **params: Any) -> str:
    """The 422 for an unknown ``name``; its message, which lists the legal values."""
    response = await client.get(path, params={name: UNKNOWN, **params})
    assert response.status_code == 422, (path, name, response.text)
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["query", name], (path, detail)
    assert detail["type"] == "enum", (path, detail)
    assert detail["msg"].startswith("Input should be '"), (path, detail)
    assert UNKNOWN not in detail["msg"]
    return str(detail["msg"])


async def accepted(client: httpx.AsyncClient, path: str, **params: Any) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 200, (path, params, response.text)


async def test_reporting_filters_refuse_unknown_values(database_url):
    settings = unit_settings(
        ReportingSettings,
        database_url,
        incident_category_groups={**DEFAULT_CATEGORY_GROUPS, "cattle_theft": "rural_crime"},
    )
    async with running_app(create_reporting(settings)) as (client, _):
        for path in ("/incidents", "/incidents.csv"):
            categories = await refused(client, path, "category")
            assert "'theft'" in categories and categories.endswith(" or 'cattle_theft'")
            groups = await refused(client, path, "category_group")
            assert "'crime'" in groups and "'rural_crime'" in groups
            assert "'resolved'" in await refused(client, path, "status")
            assert "'resident_tip'" in await refused(client, path, "source")
            assert "'especially_serious'" in await refused(client, path, "severity")
            # Configured values are legal, the ones ops added included.
            await accepted(client, path, category="cattle_theft", category_group="rural_crime")
            await accepted(client, path, category="theft", status="resolved")
        for path in ("/activities", "/activities.csv"):
            kinds = await refused(client, path, "activity_type")
            assert "'eid_assistance'" in kinds and "'outreach'" in kinds
            await accepted(client, path, activity_type="eid_assistance")


async def test_registry_filters_refuse_unknown_values(database_url):
    kinds = {**DEFAULT_TEAM_KINDS, "river_watch": TeamKind(name_vi="Tổ tuần sông", name_en="River")}
    settings = unit_settings(RegistrySettings, database_url, team_kinds=kinds)
    async with running_app(create_registry(settings)) as (client, _):
        team_kinds = await refused(client, "/teams", "kind")
        assert "'security_order'" in team_kinds and team_kinds.endswith(" or 'river_watch'")
        await accepted(client, "/teams", kind="river_watch")
        assert "'dissolved'" in await refused(client, "/teams", "status")
        assert "'ward'" in await refused(client, "/areas", "level")
        await refused(client, f"/areas/{uuid.uuid4()}/descendants", "level")
        assert "'stopped'" in await refused(client, "/initiatives", "status")
        assert "'removed'" in await refused(client, "/cameras", "status")


async def test_awards_filters_refuse_unknown_values(database_url):
    settings = unit_settings(
        AwardsSettings,
        database_url,
        award_campaigns={"spring_drive_2024": Campaign(name="Cao điểm Tết 2024")},
    )
    area = str(uuid.uuid4())
    async with running_app(create_awards(settings)) as (client, _):
        campaigns = await refused(client, "/awards", "campaign")
        assert campaigns == "Input should be 'festival-19-8-<year>' or 'spring_drive_2024'"
        await accepted(client, "/awards", campaign="spring_drive_2024")
        await accepted(client, "/awards", campaign="festival-19-8-2023")
        for path in ("/reports/awards", "/reports/awards.csv"):
            assert await refused(client, path, "campaign", area_id=area) == campaigns
        assert "'revoked'" in await refused(client, "/awards", "status")
        assert "'approved'" in await refused(client, "/nominations", "status")
        assert "'dismissed'" in await refused(client, "/suggestions", "status")
        assert "'team'" in await refused(client, "/leaderboard", "subject", area_id=area)
