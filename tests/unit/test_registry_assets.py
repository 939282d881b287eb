"""Registry: initiatives (launch, results, stop with a reason, relaunch) and community
cameras (installed, removed, funding), with their counters and events."""

import pytest

from services.registry.app import Settings, create_app
from tests.registry_support import RegistryClient, outbox_events
from tests.support import running_app, unit_settings


@pytest.fixture
async def registry(database_url):
    async with running_app(create_app(unit_settings(Settings, database_url))) as (client, runtime):
        yield RegistryClient(client), runtime


async def test_initiative_lifecycle_with_results_stop_and_relaunch(registry):
    api, runtime = registry
    tree = await api.tree()
    launched = await api.ok(
        "POST",
        "/initiatives",
        201,
        json={
            "area_id": tree["g1"]["id"],
            "name": "Đèn ngoài ngõ, mõ trong nhà",
            "description": "Mỗi hộ lắp đèn trước cổng",
            "launched_on": "2023-03-01",
        },
    )
    initiative = launched["id"]
    assert (await api.summary(tree["w1"]))["initiatives"] == 1
    await api.ok(
        "POST",
        f"/initiatives/{initiative}/results",
        201,
        json={"recorded_on": "2023-12-31", "summary": "Không xảy ra trộm cắp ban đêm"},
    )
    early = await api.client.post(
        f"/initiatives/{initiative}/results",
        json={"recorded_on": "2023-01-01", "summary": "x"},
    )
    assert early.status_code == 422 and early.json()["detail"][0]["loc"] == ["body", "recorded_on"]
    stopped = await api.ok(
        "POST",
        f"/initiatives/{initiative}/stop",
        json={"stopped_on": "2024-06-30", "reason": "Hoạt động hình thức, không hiệu quả"},
    )
    assert (stopped["status"], stopped["stop_reason"]) == (
        "stopped",
        "Hoạt động hình thức, không hiệu quả",
    )
    assert (await api.summary(tree["province"]))["initiatives"] == 0
    again = await api.client.post(
        f"/initiatives/{initiative}/stop", json={"stopped_on": "2024-07-01", "reason": "x"}
    )
    assert again.status_code == 409
    too_early = await api.client.post(
        f"/initiatives/{initiative}/relaunch", json={"launched_on": "2024-01-01"}
    )
    assert too_early.status_code == 422
    relaunched = await api.ok(
        "POST", f"/initiatives/{initiative}/relaunch", json={"launched_on": "2025-01-01"}
    )
    assert relaunched["status"] == "running" and relaunched["version"] == 3
    assert [(p["launched_on"], p["stopped_on"]) for p in relaunched["periods"]] == [
        ("2023-03-01", "2024-06-30"),
        ("2025-01-01", None),
    ]
    assert [r["summary"] for r in relaunched["results"]] == ["Không xảy ra trộm cắp ban đêm"]
    assert (await api.summary(tree["w1"]))["initiatives"] == 1
    running = await api.ok("GET", "/initiatives", params={"status": "running"})
    assert [i["id"] for i in running] == [initiative]
    events = [(t, p["aggregate_version"]) for t, p in await outbox_events(runtime)]
    assert [e for e in events if e[0].startswith("initiative")] == [
        ("initiative_launched", 1),
        ("initiative_stopped", 2),
        ("initiative_launched", 3),
    ]


async def test_cameras_are_counted_per_area_with_their_funding(registry):
    api, runtime = registry
    tree = await api.tree()
    cameras = []
    for index, (group, funding) in enumerate(
        [("g1", "socialised"), ("g1", "state_budget"), ("g2", "socialised")]
    ):
        cameras.append(
            await api.ok(
                "POST",
                "/cameras",
                201,
                json={
                    "area_id": tree[group]["id"],
                    "location": f"Ngã ba {index}",
                    "funding": funding,
                    "funded_by": "Nhân dân tổ dân phố" if funding == "socialised" else None,
                    "installed_on": "2024-02-01",
                },
            )
        )
    assert [(await api.summary(tree[a]))["cameras"] for a in ("g1", "g2", "w1", "w2")] == [
        2,
        1,
        3,
        0,
    ]
    removed = await api.ok(
        "POST",
        f"/cameras/{cameras[0]['id']}/remove",
        json={"removed_on": "2025-01-05", "reason": "Hỏng do mưa bão"},
    )
    assert removed["status"] == "removed"
    twice = await api.client.post(
        f"/cameras/{cameras[0]['id']}/remove", json={"removed_on": "2025-01-06", "reason": "x"}
    )
    assert twice.status_code == 409
    assert (await api.summary(tree["w1"]))["cameras"] == 2
    installed = await api.ok(
        "GET", "/cameras", params={"area_id": tree["g1"]["id"], "status": "installed"}
    )
    assert [c["id"] for c in installed] == [cameras[1]["id"]]
    unknown = await api.client.post(
        "/cameras",
        json={
            "area_id": tree["g1"]["id"],
            "location": "x",
            "funding": "lottery",
            "installed_on": "2024-02-01",
        },
    )
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "funding"]
    future = await api.client.post(
        "/cameras",
        json={
            "area_id": tree["g1"]["id"],
            "location": "x",
            "funding": "socialised",
            "installed_on": "2999-01-01",
        },
    )
    assert future.status_code == 422 and "future" in future.text
    topics = [t for t, _ in await outbox_events(runtime) if t.startswith("camera")]
    assert topics == ["camera_installed"] * 3 + ["camera_removed"]
