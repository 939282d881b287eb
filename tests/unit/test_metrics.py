"""Metrics follow Prometheus conventions and count what happened: HTTP by route template,
the movement's figures by low-cardinality labels."""

import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from services.awards.app import Settings as AwardsSettings
from services.awards.app import create_app as create_awards
from services.registry.app import Settings as RegistrySettings
from services.registry.app import create_app as create_registry
from services.reporting.app import Settings as ReportingSettings
from services.reporting.app import create_app as create_reporting
from tests.support import announce_area, announce_team, running_app, unit_settings


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_http_requests_are_counted_by_route_template_and_status_class(database_url):
    app = create_registry(unit_settings(RegistrySettings, database_url))
    async with running_app(app) as (client, _):
        for _ in range(2):
            await client.get(f"/teams/{uuid.uuid4()}")  # 404, two different ids
        await client.get("/nowhere")
        text = (await client.get("/metrics")).text
    requests = samples(text, "antt_http_requests_total")
    assert (
        requests[(("method", "GET"), ("route", "/teams/{team_id}"), ("status_class", "4xx"))] == 2
    )
    assert requests[(("method", "GET"), ("route", "unmatched"), ("status_class", "4xx"))] == 1
    assert not any("-" in dict(labels)["route"] for labels in requests)  # no raw ids
    durations = samples(text, "antt_http_request_duration_seconds_count")
    assert durations[(("method", "GET"), ("route", "/teams/{team_id}"))] == 2


async def test_registry_reports_active_teams_by_kind(database_url):
    app = create_registry(unit_settings(RegistrySettings, database_url))
    async with running_app(app) as (client, _):
        area = (
            await client.post("/areas", json={"code": "Q", "name": "Q", "level": "ward"})
        ).json()
        for kind in ("security_order", "security_order", "mediation"):
            response = await client.post(
                "/teams",
                json={
                    "area_id": area["id"],
                    "name": "Tổ",
                    "kind": kind,
                    "members": [{"full_name": "A", "role": "leader"}],
                },
            )
            assert response.status_code == 201
        text = (await client.get("/metrics")).text
    active = {
        dict(labels)["kind"]: value for labels, value in samples(text, "antt_active_teams").items()
    }
    assert active["security_order"] == 2.0 and active["mediation"] == 1.0
    assert active["rapid_response"] == 0.0  # every kind is reported, zero included


async def test_incidents_are_counted_by_category_group(database_url):
    app = create_reporting(unit_settings(ReportingSettings, database_url))
    area_id, team_id = uuid.uuid4(), uuid.uuid4()
    async with running_app(app) as (client, runtime):
        await announce_area(runtime.broker, area_id, "W")
        await announce_team(runtime.broker, team_id, area_id)
        body = {
            "area_id": str(area_id),
            "source": "patrol",
            "summary": "s",
            "team_ids": [],
            "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        }
        theft = (await client.post("/incidents", json={**body, "category": "theft"})).json()
        await client.post("/incidents", json={**body, "category": "gambling"})
        await client.post(
            "/tips",
            json={k: v for k, v in body.items() if k in ("area_id", "summary", "occurred_at")}
            | {"category": "robbery"},
        )
        for status in ("verified", "resolved"):
            await client.post(
                f"/incidents/{theft['id']}/status", json={"status": status, "reason": "r"}
            )
        text = (await client.get("/metrics")).text
    assert samples(text, "antt_incidents_reported_total") == {
        (("category_group", "crime"),): 2.0,
        (("category_group", "drugs_social_evils"),): 1.0,
    }
    assert samples(text, "antt_incidents_resolved_total") == {(("category_group", "crime"),): 1.0}


async def test_awards_are_counted_by_authority_level(database_url):
    app = create_awards(unit_settings(AwardsSettings, database_url))
    area_id, team_id = uuid.uuid4(), uuid.uuid4()
    async with running_app(app) as (client, runtime):
        await announce_area(runtime.broker, area_id, "W")
        await announce_team(runtime.broker, team_id, area_id)
        for authority in ("city_police", "ward_committee", "ward_committee"):
            nomination = (
                await client.post(
                    "/nominations",
                    json={
                        "recipient_kind": "collective",
                        "recipient_id": str(team_id),
                        "recipient_name": "T",
                        "award_form": "giay_khen",
                        "authority": authority,
                        "reason": "r",
                    },
                )
            ).json()
            await client.post(
                f"/nominations/{nomination['id']}/approve", json={"decision_number": "1/QĐ"}
            )
        text = (await client.get("/metrics")).text
    assert samples(text, "antt_awards_granted_total") == {
        (("authority_level", "province"),): 1.0,
        (("authority_level", "ward"),): 2.0,
    }
