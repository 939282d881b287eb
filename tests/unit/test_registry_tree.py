"""Registry: the area tree (levels, codes, rename, move, descendants) and the area
summaries kept as counters that stay right through moves, dissolutions and roster
changes."""

import random
import uuid

import pytest

from services.registry.app import Settings, create_app
from services.registry.summaries.service import kept, recount
from shared.auth import Role
from tests.registry_support import RegistryClient, member, outbox_events, roster
from tests.support import bearer, running_app, unit_settings


@pytest.fixture
async def registry(database_url):
    app = create_app(unit_settings(Settings, database_url))
    async with running_app(app) as (client, runtime):
        runtime.service = app.state.service.summaries  # for the maintenance checks
        yield RegistryClient(client), runtime


async def assert_counters_match_recount(runtime):
    async with runtime.sessions() as session:
        assert await kept(session) == await recount(session)


async def test_levels_must_nest_and_codes_are_unique(registry):
    api, _ = registry
    province = await api.area("HN", "province")
    ward = await api.area("HN-QA", "ward", province)
    response = await api.client.post(
        "/areas", json={"code": "X", "name": "X", "level": "district", "parent_id": ward["id"]}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "level"]
    assert "rule level_order" in response.json()["detail"][0]["msg"]
    duplicate = await api.client.post(
        "/areas", json={"code": "HN-QA", "name": "Y", "level": "ward", "parent_id": province["id"]}
    )
    assert duplicate.status_code == 409 and "HN-QA" in duplicate.json()["detail"][0]["msg"]


async def test_rename_publishes_area_updated(registry):
    api, runtime = registry
    ward = await api.area("HN-QA", "ward")
    renamed = await api.ok(
        "PATCH", f"/areas/{ward['id']}", json={"name": "Phường Tây Hồ", "households": 4200}
    )
    assert (renamed["name"], renamed["households"], renamed["version"]) == (
        "Phường Tây Hồ",
        4200,
        2,
    )
    topic, payload = (await outbox_events(runtime))[-1]
    assert topic == "area_updated"
    assert (payload["name"], payload["households"], payload["aggregate_version"]) == (
        "Phường Tây Hồ",
        4200,
        2,
    )
    empty = await api.client.patch(f"/areas/{ward['id']}", json={})
    assert empty.status_code == 422 and "nothing to change" in empty.text


async def test_move_keeps_every_summary_right(registry):
    api, runtime = registry
    tree = await api.tree()
    person = await api.ok(
        "POST", "/people", 201, json={"full_name": "Lê Văn An", "area_id": tree["w1"]["id"]}
    )
    await api.team(tree["g1"], "civil_defence", [{"person_id": person["id"], "role": "leader"}])
    await api.team(tree["g2"], "mediation", [{"person_id": person["id"], "role": "leader"}])
    await api.ok(
        "POST",
        "/cameras",
        201,
        json={
            "area_id": tree["g1"]["id"],
            "location": "Ngõ 1",
            "funding": "socialised",
            "installed_on": "2024-01-02",
        },
    )
    before = await api.summary(tree["district"])
    assert (before["teams"], before["members"], before["cameras"]) == (2, 1, 1)

    # 2025: districts end; the ward moves straight under the province.
    moved = await api.ok(
        "POST", f"/areas/{tree['w1']['id']}/move", json={"parent_id": tree["province"]["id"]}
    )
    assert moved["parent_id"] == tree["province"]["id"]
    district = await api.summary(tree["district"])
    assert (district["teams"], district["members"], district["cameras"]) == (0, 0, 0)
    province = await api.summary(tree["province"])
    assert (province["teams"], province["members"], province["cameras"]) == (2, 1, 1)
    assert await api.kinds(tree["w1"]) == {"civil_defence": (1, 1), "mediation": (1, 1)}
    await assert_counters_match_recount(runtime)

    topic, payload = (await outbox_events(runtime))[-1]
    assert topic == "area_moved"
    assert payload["from_parent_id"] == tree["district"]["id"]
    assert payload["to_parent_id"] == tree["province"]["id"]


async def test_moves_that_break_the_tree_are_refused(registry):
    api, _ = registry
    tree = await api.tree()
    cycle = await api.client.post(
        f"/areas/{tree['w1']['id']}/move", json={"parent_id": tree["g1"]["id"]}
    )
    assert cycle.status_code == 422 and "rule no_cycle" in cycle.text
    same = await api.client.post(
        f"/areas/{tree['w1']['id']}/move", json={"parent_id": tree["district"]["id"]}
    )
    assert same.status_code == 409
    group_under_province = await api.client.post(
        f"/areas/{tree['w1']['id']}/move", json={"parent_id": tree["w2"]["id"]}
    )
    assert (
        group_under_province.status_code == 422 and "rule level_order" in group_under_province.text
    )
    officer = bearer(Role.OFFICER, "HN-W1")
    to_top = await api.client.post(
        f"/areas/{tree['g1']['id']}/move", json={"parent_id": None}, headers=officer
    )
    assert to_top.status_code == 403
    outside = await api.client.post(
        f"/areas/{tree['g1']['id']}/move", json={"parent_id": tree["w2"]["id"]}, headers=officer
    )
    assert outside.status_code == 422 and "unknown area" in outside.text


async def test_descendants_and_filtered_lists(registry):
    api, _ = registry
    tree = await api.tree()
    below = await api.ok("GET", f"/areas/{tree['w1']['id']}/descendants")
    assert [area["code"] for area in below] == ["HN-W1", "HN-W1-G1", "HN-W1-G2"]
    groups = await api.ok("GET", "/areas", params={"level": "residential_group"})
    assert [area["code"] for area in groups] == ["HN-W1-G1", "HN-W1-G2"]
    page = await api.ok("GET", "/areas", params={"limit": 2, "offset": 2})
    assert [area["code"] for area in page] == ["HN-W1", "HN-W1-G1"]
    officer = bearer(Role.OFFICER, "HN-W2")
    seen = await api.ok("GET", "/areas", headers=officer)
    assert [area["code"] for area in seen] == ["HN-W2"]
    hidden = await api.client.get(f"/areas/{tree['w1']['id']}/summary", headers=officer)
    assert hidden.status_code == 404


async def test_a_person_on_two_teams_counts_once(registry):
    api, runtime = registry
    tree = await api.tree()
    person = await api.ok(
        "POST", "/people", 201, json={"full_name": "Trần Thị Bình", "area_id": tree["w1"]["id"]}
    )
    first = await api.team(
        tree["g1"], "civil_defence", [{"person_id": person["id"], "role": "leader"}, member()]
    )
    await api.team(tree["g2"], "civil_defence", [{"person_id": person["id"], "role": "leader"}])
    await api.team(tree["g2"], "mediation", [{"person_id": person["id"], "role": "leader"}])
    summary = await api.summary(tree["w1"])
    assert (summary["teams"], summary["members"]) == (3, 2)
    assert await api.kinds(tree["w1"]) == {"civil_defence": (2, 2), "mediation": (1, 1)}
    assert await api.kinds(tree["g2"]) == {"civil_defence": (1, 1), "mediation": (1, 1)}

    await api.ok(
        "POST",
        f"/teams/{first['id']}/dissolve",
        json={"dissolved_on": "2025-01-01", "reason": "Sáp nhập tổ dân phố"},
    )
    assert await api.kinds(tree["w1"]) == {"civil_defence": (1, 1), "mediation": (1, 1)}
    assert (await api.summary(tree["province"]))["members"] == 1
    await assert_counters_match_recount(runtime)


async def test_counters_match_a_full_recount_after_random_changes(registry):
    """Many changes of every kind in a random order: the kept counters always equal a
    recount by scanning, and `check_summaries` finds nothing to fix."""
    api, runtime = registry
    rng = random.Random(20251119)
    tree = await api.tree()
    groups = [tree["g1"], tree["g2"], tree["w2"]]
    people = [
        await api.ok(
            "POST", "/people", 201, json={"full_name": f"P{i}", "area_id": tree["w1"]["id"]}
        )
        for i in range(6)
    ]
    teams: list[dict] = []
    for step in range(40):
        action = rng.choice(["team", "team", "join", "leave", "dissolve", "kind", "camera", "move"])
        if action == "team" or not teams:
            area = rng.choice(groups)
            members = [member("leader")] + [
                {"person_id": p["id"]} for p in rng.sample(people, rng.randint(0, 3))
            ]
            if area["id"] == tree["w2"]["id"]:
                members = roster(2)
            teams.append(await api.team(area, rng.choice(["civil_defence", "mediation"]), members))
            continue
        team = rng.choice(teams)
        if team["status"] == "dissolved":
            continue
        if action == "join":
            current = {m["person_id"] for m in team["members"]}
            candidates = [p for p in people if p["id"] not in current]
            if candidates and team["area_id"] != tree["w2"]["id"]:
                team |= await api.ok(
                    "POST",
                    f"/teams/{team['id']}/members",
                    201,
                    json={"person_id": rng.choice(candidates)["id"]},
                )
        elif action == "leave":
            others = [m for m in team["members"] if m["role"] != "leader"]
            if others:
                team |= await api.ok(
                    "POST",
                    f"/teams/{team['id']}/members/{rng.choice(others)['person_id']}/leave",
                    json={"reason": "Chuyển nơi ở"},
                )
        elif action == "dissolve":
            team |= await api.ok(
                "POST",
                f"/teams/{team['id']}/dissolve",
                json={"dissolved_on": "2025-06-30", "reason": "Giải thể"},
            )
        elif action == "kind":
            new_kind = "mediation" if team["kind"] == "civil_defence" else "civil_defence"
            team |= await api.ok("PATCH", f"/teams/{team['id']}", json={"kind": new_kind})
        elif action == "camera":
            await api.ok(
                "POST",
                "/cameras",
                201,
                json={
                    "area_id": rng.choice(groups)["id"],
                    "location": f"Điểm {step}",
                    "funding": "state_budget",
                    "installed_on": "2024-03-01",
                },
            )
        elif action == "move":
            ward = tree["w1"]
            target = (
                tree["province"]
                if ward["parent_id"] == tree["district"]["id"]
                else tree["district"]
            )
            tree["w1"] = await api.ok(
                "POST", f"/areas/{ward['id']}/move", json={"parent_id": target["id"]}
            )
        await assert_counters_match_recount(runtime)
    assert await runtime.service.check_summaries() == []


async def test_recount_finds_and_fixes_drifted_counters(database_url):
    app = create_app(unit_settings(Settings, database_url))
    async with running_app(app) as (client, runtime):
        api = RegistryClient(client)
        tree = await api.tree()
        await api.team(tree["g1"])
        service = app.state.service.summaries
        assert await service.check_summaries() == []
        async with runtime.sessions() as session:
            ward = uuid.UUID(tree["w1"]["id"])
            await service.tallies.add(session, [ward], "teams:civil_defence", 5)
            await session.commit()
        differences = await service.check_summaries()
        assert [(str(a), k, have, want) for a, k, have, want in differences] == [
            (tree["w1"]["id"], "teams:civil_defence", 6, 1)
        ]
        assert await service.check_summaries(fix=True) == differences
        assert await service.check_summaries() == []
        assert (await api.summary(tree["w1"]))["teams"] == 1
