"""Registry bulk import: the HTTP endpoint and `antt import teams`, all-or-nothing unless
invalid rows are skipped, with a per-row error report."""

import asyncio
import os

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from services.cli import app as cli
from services.registry.app import Settings, create_app
from services.registry.areas.models import AreaCreate
from services.registry.teams.models import Team
from shared.auth import Principal, Role
from shared.db import create_engine
from shared.migrations import upgrade_to_head
from tests.registry_support import RegistryClient, csv_bytes, outbox_events, team_rows
from tests.support import TEST_SIGNING_KEY, running_app, unit_settings

CSV = {"Content-Type": "text/csv"}


@pytest.fixture
async def registry(database_url):
    async with running_app(create_app(unit_settings(Settings, database_url))) as (client, runtime):
        yield RegistryClient(client), runtime


async def test_a_valid_file_imports_teams_members_and_coverage(registry):
    api, runtime = registry
    tree = await api.tree()
    rows = team_rows("T1", "HN-W1", "security_order", 4) + team_rows(
        "T2", "HN-W1-G2", "mediation", 2
    )
    rows[0]["covered_area_codes"] = "HN-W1-G1; HN-W1-G2"
    report = await api.ok("POST", "/imports/teams", content=csv_bytes(rows), headers=CSV)
    assert report == {"rows": 6, "teams": 2, "members": 6, "skipped_rows": 0, "errors": []}
    teams = {t["name"]: t for t in await api.ok("GET", "/teams")}
    imported = await api.ok("GET", f"/teams/{teams['Tổ T1']['id']}")
    assert len(imported["covered_area_ids"]) == 2
    assert imported["founding_decision"] == {
        "number": "T1/QĐ-UBND",
        "issued_on": "2024-07-01",
        "issuer": "Chủ tịch UBND phường",
    }
    assert await api.kinds(tree["w1"]) == {"security_order": (1, 4), "mediation": (1, 2)}
    topics = [t for t, _ in await outbox_events(runtime)]
    assert topics.count("team_registered") == 2 and topics.count("member_joined") == 6


async def test_any_invalid_row_imports_nothing_and_every_error_is_reported(registry):
    api, runtime = registry
    await api.tree()
    rows = (
        team_rows("OK", "HN-W1-G1", "civil_defence", 2)
        + team_rows("BAD-AREA", "HN-NOWHERE", "civil_defence", 1)
        + team_rows("YOUNG", "HN-W1-G1", "civil_defence", 2)
        + team_rows("SIZE", "HN-W1-G1", "security_order", 2)
    )
    rows[4]["birth_date"] = "2010-01-01"  # the second member of YOUNG, line 6
    rows.append({"team_ref": "NONAME", "area_code": "HN-W1-G1", "kind": "mediation"})
    rows.append({**rows[0], "birth_date": "31/12/1980", "member_name": "Sai ngày"})
    before = await outbox_events(runtime)
    response = await api.client.post("/imports/teams", content=csv_bytes(rows), headers=CSV)
    assert response.status_code == 422, response.text
    errors = {(e["loc"][2], e["loc"][3]): e["msg"] for e in response.json()["detail"]}
    assert errors[(4, "area_code")] == "unknown area 'HN-NOWHERE'"
    assert "rule member_age" in errors[(6, "birth_date")]
    assert "rule team_size" in errors[(7, "team")]
    assert errors[(9, "team_name")] == "is required"
    assert "date" in errors[(10, "birth_date")].lower()
    assert await api.ok("GET", "/teams") == []
    assert await outbox_events(runtime) == before

    skipped = await api.ok(
        "POST",
        "/imports/teams",
        params={"skip_invalid": "true"},
        content=csv_bytes(rows),
        headers=CSV,
    )
    assert (skipped["teams"], skipped["members"]) == (0, 0)  # the OK team has a bad extra row
    rows.pop()
    skipped = await api.ok(
        "POST",
        "/imports/teams",
        params={"skip_invalid": "true"},
        content=csv_bytes(rows),
        headers=CSV,
    )
    assert (skipped["rows"], skipped["teams"], skipped["members"]) == (8, 1, 2)
    assert skipped["skipped_rows"] == 6
    assert {e["row"] for e in skipped["errors"]} == {4, 6, 7, 9}
    assert [t["name"] for t in await api.ok("GET", "/teams")] == ["Tổ OK"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"team_ref,area_code\nT,HN\n", "lacks column(s) team_name, kind"),
        (b"team_ref,area_code,team_name,kind,shoe_size\n", "unknown column(s) shoe_size"),
        (b"team_ref,area_code,team_name,kind\nT,HN,T\xe0,x\n", "not UTF-8"),
        (b"", "send the CSV file"),
    ],
)
async def test_unreadable_files_are_refused_with_the_reason(registry, content, message):
    api, _ = registry
    response = await api.client.post("/imports/teams", content=content, headers=CSV)
    assert response.status_code == 422 and message in response.text


def test_cli_import_shows_progress_and_refuses_a_file_with_errors(tmp_path, monkeypatch):
    database = f"sqlite+aiosqlite:///{tmp_path}/registry.db"
    for name, value in {
        "ANTT_ENV": "test",
        "ANTT_DATABASE_URL": database,
        "ANTT_JWT_SECRET": TEST_SIGNING_KEY,
        "ANTT_KAFKA_CREATE_TOPICS": "false",
    }.items():
        monkeypatch.setenv(name, value)

    async def prepare() -> None:
        engine = create_engine(database)
        await upgrade_to_head(engine, "registry")
        await engine.dispose()
        service = create_app().state.service.areas
        admin = Principal("setup", Role.ADMIN)
        province = await service.register_area(_area("TH", "province"), admin)
        await service.register_area(_area("TH-HH", "ward", province.id), admin)

    asyncio.run(prepare())
    good = team_rows("A", "TH-HH", "civil_defence", 2) + team_rows("B", "TH-HH", "civil_defence", 1)
    bad = good + team_rows("C", "TH-XX", "civil_defence", 1)
    (tmp_path / "good.csv").write_bytes(csv_bytes(good))
    (tmp_path / "bad.csv").write_bytes(csv_bytes(bad))
    runner = CliRunner()

    refused = runner.invoke(cli, ["import", "teams", str(tmp_path / "bad.csv")])
    assert refused.exit_code == 1, refused.output
    assert "unknown area 'TH-XX'" in refused.output and "nothing was imported" in refused.output
    assert asyncio.run(_team_count(database)) == 0

    skipped = runner.invoke(cli, ["import", "teams", str(tmp_path / "bad.csv"), "--skip-invalid"])
    assert skipped.exit_code == 0, skipped.output
    assert "2 team(s) and 3 member(s) imported from 4 row(s); 1 row(s) skipped" in skipped.output
    assert asyncio.run(_team_count(database)) == 2
    missing = runner.invoke(cli, ["import", "teams", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    assert os.environ["ANTT_DATABASE_URL"] == database


def _area(code: str, level: str, parent_id=None) -> AreaCreate:
    return AreaCreate(code=code, name=code, level=level, parent_id=parent_id)


async def _team_count(database: str) -> int:
    engine = create_engine(database)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(select(func.count()).select_from(Team))).scalar_one()
    finally:
        await engine.dispose()
