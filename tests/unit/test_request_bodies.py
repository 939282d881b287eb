"""Bodies a route cannot read: 415 naming the type it reads (JSON, or CSV for the import),
and 400 for JSON that is not UTF-8, both in the documented ``[{loc, msg, type}]`` shape."""

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from services.registry.app import Settings as RegistrySettings
from services.registry.app import create_app as create_registry
from services.reporting.app import Settings as ReportingSettings
from services.reporting.app import create_app as create_reporting
from services.reporting.models import Incident
from shared.db import execute
from tests.registry_support import RegistryClient, csv_bytes, team_rows
from tests.support import announce_area, running_app, unit_settings

AREA = uuid.uuid4()
JSON_ONLY = {
    "loc": ["header", "content-type"],
    "msg": "the body must be sent as application/json (Content-Type: application/json)",
    "type": "unsupported_media_type",
}


def incident() -> dict[str, Any]:
    return {
        "area_id": str(AREA),
        "category": "theft",
        "source": "patrol",
        "summary": "Trộm xe máy",
        "occurred_at": "2026-01-10T08:00:00+07:00",
    }


@pytest.fixture
async def reporting(tmp_path):
    # The answers come before any SQL: SQLite alone is enough.
    settings = unit_settings(ReportingSettings, f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    async with running_app(create_reporting(settings)) as (client, runtime):
        await announce_area(runtime.broker, AREA, "HN-TH-QA", "Phường Quảng An")
        yield client, runtime


async def stored(runtime: Any) -> int:
    async with runtime.sessions() as session:
        return (await execute(session, select(func.count()).select_from(Incident))).scalar_one()


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},  # what a bare curl -d sends
        {"Content-Type": "text/csv"},
        {"Content-Type": "application/jsonx"},
        {},  # a body without any type
    ],
    ids=["text", "form", "csv", "near-miss", "none"],
)
async def test_a_json_route_answers_415_to_a_body_of_another_type(reporting, headers):
    client, runtime = reporting
    body = b'{"area_id": "' + str(AREA).encode() + b'", "category": "theft"}'
    response = await client.post("/incidents", content=body, headers=headers)
    assert response.status_code == 415, response.text
    assert response.json() == {"detail": [JSON_ONLY]}
    assert response.headers["X-Correlation-ID"]
    assert await stored(runtime) == 0


async def test_a_form_post_names_the_json_type_too(reporting):
    client, _ = reporting
    response = await client.post("/tips", data={"area_id": str(AREA), "summary": "x"})
    assert response.status_code == 415
    assert response.json() == {"detail": [JSON_ONLY]}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        "application/vnd.antt.incident+json",
        "application/merge-patch+json",
    ],
)
async def test_json_under_any_of_its_names_is_read(reporting, content_type):
    client, _ = reporting
    response = await client.post(
        "/incidents",
        content=json.dumps(incident()).encode(),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 201, response.text


async def test_no_body_at_all_is_still_the_missing_body(reporting):
    client, _ = reporting
    response = await client.post("/incidents")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


async def test_a_body_that_is_not_utf8_is_400_in_the_documented_shape(reporting):
    client, runtime = reporting
    text = json.dumps({**incident(), "summary": "Quán café"}, ensure_ascii=False)
    body = text.encode("latin-1")  # "á" and "é" one byte each: not UTF-8
    for content_type in ("application/json", "application/json; charset=utf-8"):
        response = await client.post(
            "/incidents", content=body, headers={"Content-Type": content_type}
        )
        assert response.status_code == 400, response.text
        assert response.json() == {
            "detail": [
                {
                    "loc": ["body"],
                    "msg": "the body is not valid UTF-8 JSON: send JSON encoded in UTF-8",
                    "type": "invalid_encoding",
                }
            ]
        }
    assert await stored(runtime) == 0
    # Other HTTP errors keep their own answers.
    assert (await client.get("/nowhere")).json() == {"detail": "Not Found"}


# --- the registry's import reads CSV --------------------------------------------------------


@pytest.fixture
async def registry(tmp_path):
    settings = unit_settings(RegistrySettings, f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
    async with running_app(create_registry(settings)) as (client, runtime):
        yield RegistryClient(client), runtime


CSV_ONLY = {
    "loc": ["header", "content-type"],
    "msg": "the body must be sent as text/csv (Content-Type: text/csv)",
    "type": "unsupported_media_type",
}


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {"Content-Type": "application/x-www-form-urlencoded"},  # curl --data-binary @f.csv
        {},
    ],
    ids=["json", "form", "none"],
)
async def test_the_team_import_answers_415_to_anything_but_csv(registry, headers):
    api, _ = registry
    await api.tree()
    content = csv_bytes(team_rows("T1", "HN-W1-G1", "mediation", 2))
    response = await api.client.post("/imports/teams", content=content, headers=headers)
    assert response.status_code == 415, response.text
    assert response.json() == {"detail": [CSV_ONLY]}
    assert await api.ok("GET", "/teams") == []


async def test_json_sent_to_the_import_is_refused_before_it_is_read_as_csv(registry):
    api, _ = registry
    response = await api.client.post("/imports/teams", json={"teams": []})
    assert response.status_code == 415
    assert response.json() == {"detail": [CSV_ONLY]}


async def test_csv_with_a_charset_is_imported(registry):
    api, _ = registry
    await api.tree()
    content = csv_bytes(team_rows("T1", "HN-W1-G1", "mediation", 2))
    report = await api.ok(
        "POST",
        "/imports/teams",
        content=content,
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    assert report["teams"] == 1
