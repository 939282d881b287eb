"""Registry: teams, people and rosters under the configured rules (size, age, one
leader), role changes, dissolution, history, and what member events carry."""

import pytest

from services.registry.app import Settings, create_app
from services.registry.teams.rules import TeamRule
from shared.auth import Role
from tests.registry_support import RegistryClient, member, outbox_events, roster
from tests.support import bearer, running_app, unit_settings


@pytest.fixture
async def registry(database_url):
    async with running_app(create_app(unit_settings(Settings, database_url))) as (client, runtime):
        yield RegistryClient(client), runtime


def error(response, status=422):
    assert response.status_code == status, response.text
    return response.json()["detail"][0]


async def test_hanoi_security_teams_have_three_to_five_members(registry):
    api, runtime = registry
    tree = await api.tree("HN")
    before = await outbox_events(runtime)
    small = error(
        await api.client.post(
            "/teams",
            json={
                "area_id": tree["g1"]["id"],
                "name": "Tổ ANTT",
                "kind": "security_order",
                "members": roster(2),
            },
        )
    )
    assert small["loc"] == ["body", "members"]
    assert small["msg"] == (
        "rule team_size: a security_order team in HN has 3 to 5 members; this leaves 2"
    )
    large = error(
        await api.client.post(
            "/teams",
            json={
                "area_id": tree["g1"]["id"],
                "name": "Tổ ANTT",
                "kind": "security_order",
                "members": roster(6),
            },
        )
    )
    assert "3 to 5 members; this leaves 6" in large["msg"]
    # nothing half-written: no team, no person, no event
    assert await outbox_events(runtime) == before
    assert await api.ok("GET", "/teams") == []
    assert await api.ok("GET", "/people") == []
    team = await api.team(tree["g1"], "security_order", roster(5))
    assert len(team["members"]) == 5


async def test_rules_depend_on_the_province_and_come_from_configuration(database_url):
    rules = [
        TeamRule(min_members=1, min_age=18, max_age=70, one_leader=True),
        TeamRule(province="TH", kind="civil_defence", max_members=2),
    ]
    settings = unit_settings(Settings, database_url, team_rules=rules)
    async with running_app(create_app(settings)) as (client, _):
        api = RegistryClient(client)
        thanh_hoa = await api.tree("TH")
        ha_noi = await api.tree("HN")
        refused = error(
            await api.client.post(
                "/teams",
                json={
                    "area_id": thanh_hoa["g1"]["id"],
                    "name": "Tổ BVDP",
                    "kind": "civil_defence",
                    "members": roster(3),
                },
            )
        )
        assert "a civil_defence team in TH has 1 to 2 members; this leaves 3" in refused["msg"]
        await api.team(ha_noi["g1"], "civil_defence", roster(3))
        await api.team(ha_noi["g1"], "security_order", roster(2))  # no HN rule configured now


async def test_members_are_18_to_70_on_the_day_they_join(registry):
    api, _ = registry
    tree = await api.tree()
    members = [member("leader"), member(born="2008-03-01"), member()]
    members[1]["joined_on"] = "2026-01-10"
    young = error(
        await api.client.post(
            "/teams",
            json={
                "area_id": tree["g1"]["id"],
                "name": "Tổ",
                "kind": "civil_defence",
                "members": members,
            },
        )
    )
    assert young["loc"] == ["body", "members", 1, "birth_date"]
    assert "rule member_age" in young["msg"] and "18 to 70" in young["msg"]
    assert "is 17 on 2026-01-10" in young["msg"]
    members[1]["joined_on"] = "2026-03-01"  # the 18th birthday
    await api.team(tree["g1"], "civil_defence", members)
    old = error(
        await api.client.post(
            "/teams",
            json={
                "area_id": tree["g1"]["id"],
                "name": "Tổ",
                "kind": "civil_defence",
                "members": [member("leader", born="1950-01-01")],
            },
        )
    )
    assert "rule member_age" in old["msg"] and "is 7" in old["msg"]


async def test_exactly_one_leader(registry):
    api, _ = registry
    tree = await api.tree()
    none = error(
        await api.client.post(
            "/teams",
            json={
                "area_id": tree["g1"]["id"],
                "name": "Tổ",
                "kind": "mediation",
                "members": [member(), member()],
            },
        )
    )
    assert (
        none["msg"]
        == "rule one_leader: a mediation team in HN has exactly one leader; this leaves 0"
    )
    team = await api.team(tree["g1"], "mediation", roster(3))
    second = error(await api.client.post(f"/teams/{team['id']}/members", json=member("leader")))
    assert "exactly one leader; this leaves 2" in second["msg"]
    leader = team["members"][0]["person_id"]
    lone = error(
        await api.client.post(
            f"/teams/{team['id']}/members/{leader}/leave", json={"reason": "Chuyển công tác"}
        )
    )
    assert "this leaves 0" in lone["msg"]


async def test_a_new_leader_replaces_the_old_in_one_roster_change(registry):
    api, runtime = registry
    tree = await api.tree()
    team = await api.team(tree["g1"], "civil_defence", roster(3))
    old_leader, deputy_to_be = team["members"][0]["person_id"], team["members"][1]["person_id"]
    changed = await api.ok(
        "POST",
        f"/teams/{team['id']}/roster",
        json={
            "effective_on": "2026-01-15",
            "leaves": [old_leader],
            "joins": [member("leader", name="Phạm Văn Mới")],
            "role_changes": [{"person_id": deputy_to_be, "role": "deputy"}],
            "reason": "Kiện toàn tổ",
        },
    )
    assert [(m["full_name"], m["role"]) for m in changed["members"]][:2] == [
        ("Phạm Văn Mới", "leader"),
        (team["members"][1]["full_name"], "deputy"),
    ]
    assert changed["version"] == 2
    history = await api.ok("GET", f"/teams/{team['id']}/members")
    past = [(m["person_id"], m["role"], m["left_reason"]) for m in history if m["left_on"]]
    assert (old_leader, "leader", "Kiện toàn tổ") in past
    assert (deputy_to_be, "member", "role changed to deputy") in past
    summary = await api.summary(tree["g1"])
    assert summary["members"] == 3  # the deputy is counted once though two memberships

    events = [(t, p) for t, p in await outbox_events(runtime) if p.get("aggregate_version") == 2]
    assert sorted(t for t, _ in events) == [
        "member_joined",
        "member_joined",
        "member_left",
        "member_left",
    ]


async def test_member_events_carry_no_contact_or_birth_date(registry):
    api, runtime = registry
    tree = await api.tree()
    await api.team(
        tree["g1"],
        "civil_defence",
        [
            {
                "full_name": "Ngô Thị Hoa",
                "birth_date": "1970-02-03",
                "phone": "0912345678",
                "role": "leader",
            }
        ],
    )
    joined = [p for t, p in await outbox_events(runtime) if t == "member_joined"]
    assert joined and joined[0]["full_name"] == "Ngô Thị Hoa"
    assert set(joined[0]) == {
        "schema_version",
        "aggregate_version",
        "team_id",
        "area_id",
        "person_id",
        "full_name",
        "role",
        "joined_on",
    }
    raw = str(await outbox_events(runtime))
    assert "0912345678" not in raw and "1970-02-03" not in raw


async def test_one_person_serves_on_several_teams_with_full_history(registry):
    api, _ = registry
    tree = await api.tree()
    person = await api.ok(
        "POST",
        "/people",
        201,
        json={"full_name": "Đỗ Văn Cường", "birth_date": "1985-01-01", "area_id": tree["w1"]["id"]},
    )
    first = await api.team(
        tree["g1"], "civil_defence", [{"person_id": person["id"], "role": "leader"}]
    )
    second = await api.team(tree["g2"], "mediation", roster(2))
    await api.ok(
        "POST",
        f"/teams/{second['id']}/members",
        201,
        json={"person_id": person["id"], "joined_on": "2025-01-01"},
    )
    twice = error(
        await api.client.post(f"/teams/{second['id']}/members", json={"person_id": person["id"]})
    )
    assert "rule one_membership" in twice["msg"]
    await api.ok(
        "POST",
        f"/teams/{second['id']}/members/{person['id']}/leave",
        json={"left_on": "2026-02-01", "reason": "Bận việc gia đình"},
    )
    profile = await api.ok("GET", f"/people/{person['id']}")
    assert {(m["team_id"], m["left_on"]) for m in profile["memberships"]} == {
        (first["id"], None),
        (second["id"], "2026-02-01"),
    }
    both = error(
        await api.client.post(
            f"/teams/{second['id']}/members",
            json={"person_id": person["id"], "full_name": "Someone else"},
        )
    )
    assert "either person_id" in both["msg"]


async def test_dissolved_teams_stay_in_history_and_take_no_changes(registry):
    api, runtime = registry
    tree = await api.tree()
    team = await api.team(
        tree["g1"],
        "civil_defence",
        roster(2),
        founded_on="2024-07-01",
        founding_decision={
            "number": "12/QĐ-UBND",
            "issued_on": "2024-06-25",
            "issuer": "Chủ tịch UBND phường",
        },
    )
    assert team["founding_decision"]["number"] == "12/QĐ-UBND"
    early = error(
        await api.client.post(
            f"/teams/{team['id']}/dissolve", json={"dissolved_on": "2024-01-01", "reason": "x"}
        )
    )
    assert early["loc"] == ["body", "dissolved_on"]
    dissolved = await api.ok(
        "POST",
        f"/teams/{team['id']}/dissolve",
        json={"dissolved_on": "2025-07-01", "reason": "Sắp xếp lại tổ dân phố"},
    )
    assert (dissolved["status"], dissolved["members"]) == ("dissolved", [])
    again = await api.client.post(
        f"/teams/{team['id']}/dissolve", json={"dissolved_on": "2025-07-02", "reason": "x"}
    )
    assert again.status_code == 409 and "dissolved on 2025-07-01" in again.text
    assert (await api.client.post(f"/teams/{team['id']}/members", json=member())).status_code == 409
    assert (await api.client.patch(f"/teams/{team['id']}", json={"name": "x"})).status_code == 409
    assert [t["id"] for t in await api.ok("GET", "/teams", params={"status": "dissolved"})] == [
        team["id"]
    ]
    assert await api.ok("GET", "/teams", params={"status": "active"}) == []
    assert (await api.summary(tree["province"]))["teams"] == 0
    events = [t for t, _ in await outbox_events(runtime)]
    assert events[-3:] == ["member_left", "member_left", "team_dissolved"]


async def test_team_update_checks_the_new_kind_and_coverage(registry):
    api, runtime = registry
    tree = await api.tree()
    team = await api.team(
        tree["w1"], "civil_defence", roster(2), covered_area_ids=[tree["g1"]["id"]]
    )
    assert team["covered_area_ids"] == [tree["g1"]["id"]]
    to_security = error(
        await api.client.patch(f"/teams/{team['id']}", json={"kind": "security_order"})
    )
    assert "3 to 5 members; this leaves 2" in to_security["msg"]
    outside = error(
        await api.client.patch(
            f"/teams/{team['id']}", json={"covered_area_ids": [tree["w2"]["id"]]}
        )
    )
    assert outside["loc"] == ["body", "covered_area_ids", 0]
    not_group = error(
        await api.client.patch(
            f"/teams/{team['id']}", json={"covered_area_ids": [tree["w1"]["id"]]}
        )
    )
    assert "rule coverage" in not_group["msg"]
    updated = await api.ok(
        "PATCH",
        f"/teams/{team['id']}",
        json={"kind": "mediation", "covered_area_ids": [tree["g1"]["id"], tree["g2"]["id"]]},
    )
    assert updated["kind"] == "mediation" and len(updated["covered_area_ids"]) == 2
    assert await api.kinds(tree["w1"]) == {"mediation": (1, 2)}
    topic, payload = (await outbox_events(runtime))[-1]
    assert topic == "team_updated" and payload["kind"] == "mediation"
    assert sorted(payload["covered_area_ids"]) == sorted([tree["g1"]["id"], tree["g2"]["id"]])
    unknown = error(
        await api.client.post(
            "/teams",
            json={"area_id": tree["g1"]["id"], "name": "x", "kind": "karaoke", "members": []},
        )
    )
    assert unknown["loc"] == ["body", "kind"] and "unknown team kind 'karaoke'" in unknown["msg"]


async def test_lists_filter_by_subtree_kind_and_text_and_page_stably(registry):
    api, _ = registry
    tree = await api.tree()
    for index in range(5):
        await api.team(tree["g1"], "civil_defence", roster(1), name=f"Tổ A{index}")
    await api.team(tree["w2"], "mediation", roster(1), name="Tổ B")
    in_w1 = await api.ok("GET", "/teams", params={"area_id": tree["w1"]["id"]})
    assert [t["name"] for t in in_w1] == [f"Tổ A{i}" for i in range(5)]
    assert [t["members"] for t in in_w1] == [1] * 5
    pages = [
        t["name"]
        for offset in (0, 2, 4)
        for t in await api.ok("GET", "/teams", params={"limit": 2, "offset": offset})
    ]
    assert pages == [f"Tổ A{i}" for i in range(5)] + ["Tổ B"]
    assert [t["name"] for t in await api.ok("GET", "/teams", params={"kind": "mediation"})] == [
        "Tổ B"
    ]
    assert len(await api.ok("GET", "/teams", params={"q": "A"})) == 5
    officer = bearer(Role.OFFICER, "HN-W2")
    assert [t["name"] for t in await api.ok("GET", "/teams", headers=officer)] == ["Tổ B"]
    hidden = await api.client.get("/teams", params={"area_id": tree["w1"]["id"]}, headers=officer)
    assert hidden.status_code == 404
    kinds = await api.ok("GET", "/team-kinds")
    assert {
        "code": "neighbourhood_watch",
        "name_vi": "Tổ liên gia an toàn / nhóm liên gia tự quản",
        "name_en": "Neighbourhood watch group",
    } in kinds


async def test_lists_say_how_many_rows_match_in_all(registry):
    api, _ = registry
    tree = await api.tree()
    for index in range(5):
        await api.team(tree["g1"], "civil_defence", roster(1), name=f"Tổ A{index}")
    await api.team(tree["w2"], "mediation", roster(2), name="Tổ B")

    async def listed(path, headers=None, **params):
        response = await api.client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json(), int(response.headers["X-Total-Count"])

    # a filter, and a limit smaller than the total: the page is short, the total is not
    page, total = await listed("/teams", q="A", limit=2, offset=1)
    assert (len(page), total) == (2, 5)
    page, total = await listed("/teams", area_id=tree["w1"]["id"], limit=1)
    assert (len(page), total) == (1, 5)
    assert (await listed("/teams", kind="mediation"))[1] == 1
    page, total = await listed("/teams", offset=10)
    assert (page, total) == ([], 6)
    # the lists that share ``scoped_page`` and a team's roster
    page, total = await listed("/people", limit=3)
    assert (len(page), total) == (3, 7)
    page, total = await listed("/areas", level="residential_group", limit=1)
    assert (len(page), total) == (1, 2)
    team_b = (await listed("/teams", kind="mediation"))[0][0]
    page, total = await listed(f"/teams/{team_b['id']}/members", limit=1)
    assert (len(page), total) == (1, 2)
    # an officer's total counts only their areas
    officer = bearer(Role.OFFICER, "HN-W2")
    page, total = await listed("/teams", headers=officer, limit=1)
    assert ([t["name"] for t in page], total) == (["Tổ B"], 1)
    assert (await listed("/people", headers=officer))[1] == 2
    assert (await listed("/areas", headers=officer))[1] == 1


async def test_list_routes_document_the_total_header(registry):
    api, _ = registry
    paths = (await api.ok("GET", "/openapi.json"))["paths"]
    for path in ("/areas", "/people", "/teams", "/teams/{team_id}/members", "/cameras"):
        headers = paths[path]["get"]["responses"]["200"]["headers"]
        assert headers["X-Total-Count"]["schema"]["type"] == "integer", path
