"""Each service's AsyncAPI document lists the events it publishes, with their payload
schema, and the topics it consumes."""

import importlib

import pytest

from shared.events import EVENT_TYPES
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


@pytest.mark.parametrize("service", EXPECTED)
async def test_asyncapi_document_covers_published_and_consumed_events(service, tmp_path):
    module = importlib.import_module(f"services.{service}.app")
    app = module.create_app(unit_settings(module.Settings, f"sqlite+aiosqlite:///{tmp_path}/db"))
    # Built before the in-memory test broker adds its own fake subscribers.
    document = app.state.runtime.asyncapi()
    async with running_app(app) as (client, _):
        response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.json()["channels"].keys() >= document["channels"].keys()
    assert document["asyncapi"].startswith("3.")
    publishes, consumes = EXPECTED[service]
    operations = document["operations"]
    sent = {
        document["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]["address"]
        for op in operations.values()
        if op["action"] == "send"
    }
    received = {
        document["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]["address"]
        for op in operations.values()
        if op["action"] == "receive"
    }
    assert sent == publishes
    assert received == consumes
    schemas = document["components"]["schemas"]
    for event_type in publishes:
        model = EVENT_TYPES[event_type]
        properties = schemas[model.__name__]["properties"]
        assert {"schema_version", "aggregate_version"} <= set(properties)
        assert set(model.model_fields) <= set(properties)
