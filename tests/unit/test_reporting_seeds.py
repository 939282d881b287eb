"""The press's figures (shared/seeds), entered through the HTTP API as a ward would enter
them, come back exactly from the statistics endpoint: Hải Hòa's 5 incidents in 8 months of
2023, down 72% on the 18 of the same period of 2022, its mediations, footage extractions,
weapons and explosives handed in, household pledges and e-ID help (level 1 activated for
287, level 2 collected for 7,081 and activated for 5,845); Vĩnh Điện's 120 outreach
sessions with 4,600 people. Also the statistics' arithmetic: periods, leap days, rounding."""

import csv
import io
import uuid
from datetime import date
from decimal import Decimal

import pytest

from services.reporting.app import Settings, create_app
from services.reporting.statistics.rules import percent_change, share_percent, year_earlier
from shared.auth import Role
from shared.events import AreaLevel, AreaRegistered
from tests.support import bearer, publish_event, running_app, unit_settings

PROVINCE, HAI_HOA, VINH_DIEN = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
TIEU_KHU = [uuid.uuid4() for _ in range(3)]  # Hải Hòa's residential groups (tiểu khu)
KHOI_PHO = uuid.uuid4()  # a residential group (khối phố) of Vĩnh Điện


async def announce(broker, area_id, code, name, level, parent_id=None):
    await publish_event(
        broker,
        AreaRegistered(
            area_id=area_id,
            code=code,
            name=name,
            level=level,
            parent_id=parent_id,
            aggregate_version=1,
        ),
    )


@pytest.fixture
async def reporting(database_url):
    async with running_app(create_app(unit_settings(Settings, database_url))) as (client, runtime):
        broker = runtime.broker
        await announce(broker, PROVINCE, "TH", "Tỉnh", AreaLevel.PROVINCE)
        await announce(broker, HAI_HOA, "TH-NS-HH", "Phường Hải Hòa", AreaLevel.WARD, PROVINCE)
        await announce(broker, VINH_DIEN, "QN-VD", "Phường Vĩnh Điện", AreaLevel.WARD, PROVINCE)
        for index, group in enumerate(TIEU_KHU):
            await announce(
                broker,
                group,
                f"TH-NS-HH-TK{index}",
                f"Tiểu khu {index}",
                "residential_group",
                HAI_HOA,
            )
        await announce(broker, KHOI_PHO, "QN-VD-KP1", "Khối phố 1", "residential_group", VINH_DIEN)
        yield client


async def post(client, path, body, expected=201):
    response = await client.post(path, json=body)
    assert response.status_code == expected, response.text
    return response.json()


async def incident(client, area, occurred: str, category="theft"):
    return await post(
        client,
        "/incidents",
        {
            "area_id": str(area),
            "category": category,
            "source": "police",
            "summary": "Vụ việc về ANTT",
            "occurred_at": f"{occurred}T09:00:00+07:00",
            "reported_at": f"{occurred}T15:00:00+07:00",
        },
    )


async def activity(client, area, kind, day, measures, **extra):
    return await post(
        client,
        "/activities",
        {
            "area_id": str(area),
            "activity_type": kind,
            "occurred_on": day,
            "measures": measures,
            **extra,
        },
    )


async def statistics(client, area, start, end):
    response = await client.get(
        "/statistics", params={"area_id": str(area), "from": start, "to": end}
    )
    assert response.status_code == 200, response.text
    return response.json()


def by_key(figures):
    return {figure["key"]: figure for figure in figures}


async def test_the_seeds_figures_come_back_exactly(reporting):
    client = reporting
    # Hải Hòa, 8 months of 2022: 18 incidents; of 2023: 5 (two days each month, spread
    # over its residential groups and categories).
    categories = ["theft", "assault", "gambling", "drugs", "public_disorder", "snatching"]
    for n in range(18):
        day = f"2022-{n % 8 + 1:02d}-{n % 27 + 1:02d}"
        await incident(client, TIEU_KHU[n % 3], day, categories[n % len(categories)])
    created = [
        await incident(client, TIEU_KHU[n % 3], f"2023-0{n + 2}-10", categories[n])
        for n in range(5)
    ]
    # Outside both periods: a day after, and the evening of 31 August (UTC) that is
    # already 1 September in Vietnam.
    await incident(client, HAI_HOA, "2023-09-01")
    late = await post(
        client,
        "/incidents",
        {
            "area_id": str(HAI_HOA),
            "category": "theft",
            "source": "patrol",
            "summary": "Đêm 31/8 giờ UTC, 1/9 giờ Việt Nam",
            "occurred_at": "2023-08-31T18:30:00Z",
        },
    )
    assert late["category_group"] == "crime"
    # Four of 2023's five were solved: three resolved, one mediated.
    outcomes = ["resolved", "resolved", "resolved", "mediated"]
    for item, outcome in zip(created[:4], outcomes, strict=True):
        for step in ("verified", outcome):
            await post(
                client, f"/incidents/{item['id']}/status", {"status": step, "reason": "Xử lý"}, 200
            )

    # "tổ chức hòa giải 11 vụ mâu thuẫn"
    for n in range(11):
        await activity(
            client,
            TIEU_KHU[n % 3],
            "mediation",
            f"2023-0{n % 8 + 1}-05",
            [{"item": "cases", "quantity": 1}],
            outcome="successful",
        )
    # "trích xuất 27 lượt video", one of them for an incident
    await activity(
        client,
        HAI_HOA,
        "footage_extraction",
        "2023-03-01",
        [{"item": "extractions", "quantity": 20}],
    )
    await activity(
        client,
        HAI_HOA,
        "footage_extraction",
        "2023-06-01",
        [{"item": "extractions", "unit": "count", "quantity": 7}],
        incident_id=created[0]["id"],
    )
    # "giao nộp 1 khẩu súng cồn tự chế, 1,5 kg pháo, 2,3 kg thuốc nổ": the explosives in
    # two hand-ins of 1.1 and 1.2 kg, which a float would sum to 2.3000000000000003.
    await activity(
        client,
        HAI_HOA,
        "weapons_handover",
        "2023-01-15",
        [
            {"item": "homemade_gun", "unit": "piece", "quantity": 1},
            {"item": "firecrackers", "unit": "kg", "quantity": "1.5"},
            {"item": "explosives", "unit": "kg", "quantity": "1.1"},
        ],
    )
    await activity(
        client,
        TIEU_KHU[0],
        "weapons_handover",
        "2023-01-20",
        [{"item": "explosives", "unit": "kg", "quantity": 1.2}],
    )
    # "ký cam kết ... đến 3.993 hộ gia đình"
    await activity(
        client,
        TIEU_KHU[1],
        "household_pledge",
        "2023-04-01",
        [{"item": "households", "quantity": 2000}],
    )
    await activity(
        client,
        TIEU_KHU[2],
        "household_pledge",
        "2023-05-01",
        [{"item": "households", "quantity": 1993}],
    )
    # "hướng dẫn đăng ký và kích hoạt định danh điện tử mức 1 cho 287 trường hợp, thu nhận
    # định danh điện tử mức 2 cho 7.081 trường hợp, hướng dẫn kích hoạt định danh điện tử
    # mức 2 cho 5.845 trường hợp", from two of the 14 guidance groups (tổ hướng dẫn).
    for group, (activated_1, collected_2, activated_2) in (
        (TIEU_KHU[0], (150, 4000, 3000)),
        (TIEU_KHU[1], (137, 3081, 2845)),
    ):
        await activity(
            client,
            group,
            "eid_assistance",
            "2023-03-15",
            [
                {"item": "level_1_activated", "quantity": activated_1},
                {"item": "level_2_collected", "unit": "people", "quantity": collected_2},
                {"item": "level_2_activated", "quantity": activated_2},
            ],
        )
    # Vĩnh Điện: "trên 120 buổi tuyên truyền ... 4.600 lượt người tham gia"
    for sessions, people in ((50, 2000), (40, 1500), (30, 1100)):
        await activity(
            client,
            KHOI_PHO,
            "outreach",
            "2020-05-10",
            [
                {"item": "sessions", "quantity": sessions},
                {"item": "people_reached", "quantity": people},
            ],
        )

    stats = await statistics(client, HAI_HOA, "2023-01-01", "2023-08-31")
    assert stats["period"] == {"from": "2023-01-01", "to": "2023-08-31"}
    assert stats["compared_with"] == {"from": "2022-01-01", "to": "2022-08-31"}
    total = stats["incidents"]["total"]
    assert (total["count"], total["previous"], total["change"], total["change_percent"]) == (
        5,
        18,
        -13,
        -72,
    )
    share = stats["incidents"]["share_solved"]
    assert (share["solved"], share["total"], share["percent"]) == (4, 5, "80.0")
    assert share["previous_percent"] == "0.0"
    statuses = by_key(stats["incidents"]["by_status"])
    assert statuses["resolved"]["count"] == 3 and statuses["mediated"]["count"] == 1
    assert statuses["reported"]["previous"] == 18
    groups = by_key(stats["incidents"]["by_group"])
    assert groups["crime"]["count"] == 2  # theft, assault
    assert groups["drugs_social_evils"]["count"] == 2  # gambling, drugs
    assert groups["public_order"]["count"] == 1
    assert sum(group["previous"] for group in groups.values()) == 18
    categories_seen = by_key(stats["incidents"]["by_category"])
    assert categories_seen["theft"]["group"] == "crime" and categories_seen["theft"]["count"] == 1

    activities = {figure["activity_type"]: figure for figure in stats["activities"]}
    mediation = activities["mediation"]
    assert mediation["activities"] == 11
    assert by_key(mediation["outcomes"])["successful"]["count"] == 11
    assert mediation["measures"] == [
        {
            "item": "cases",
            "unit": "count",
            "quantity": "11",
            "previous": "0",
            "change": "11",
            "change_percent": None,
        }
    ]
    footage = activities["footage_extraction"]["measures"]
    assert [(m["item"], m["quantity"]) for m in footage] == [("extractions", "27")]
    weapons = {
        (m["item"], m["unit"]): m["quantity"] for m in activities["weapons_handover"]["measures"]
    }
    assert weapons == {
        ("homemade_gun", "piece"): "1",
        ("firecrackers", "kg"): "1.5",
        ("explosives", "kg"): "2.3",
    }
    assert activities["household_pledge"]["measures"][0]["quantity"] == "3993"
    eid = activities["eid_assistance"]
    assert eid["activities"] == 2
    assert [(m["item"], m["unit"], m["quantity"]) for m in eid["measures"]] == [
        ("level_1_activated", "people", "287"),
        ("level_2_collected", "people", "7081"),
        ("level_2_activated", "people", "5845"),
    ]
    assert activities["outreach"]["activities"] == 0  # Vĩnh Điện's, not Hải Hòa's

    outreach = await statistics(client, VINH_DIEN, "2020-01-01", "2020-08-31")
    measures = {m["item"]: m["quantity"] for m in outreach["activities"][0]["measures"]}
    assert outreach["activities"][0]["activity_type"] == "outreach"
    assert measures == {"sessions": "120", "people_reached": "4600"}

    # The province counts both wards: its subtree, read from the area tree.
    province = await statistics(client, PROVINCE, "2020-01-01", "2023-08-31")
    assert province["incidents"]["total"]["count"] == 23
    assert {m["item"]: m["quantity"] for m in province["activities"][0]["measures"]} == measures

    # The CSV export says the same, one row per figure.
    response = await client.get(
        "/statistics.csv",
        params={"area_id": str(HAI_HOA), "from": "2023-01-01", "to": "2023-08-31"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    total_row = next(r for r in rows if (r["section"], r["key"]) == ("incidents", "total"))
    assert (total_row["count"], total_row["previous"], total_row["change_percent"]) == (
        "5",
        "18",
        "-72",
    )
    explosives = next(
        r
        for r in rows
        if (r["section"], r["key"]) == ("activity_measures:weapons_handover", "explosives")
    )
    assert (explosives["group_or_unit"], explosives["count"]) == ("kg", "2.3")
    eid_rows = {
        r["key"]: (r["group_or_unit"], r["count"])
        for r in rows
        if r["section"] == "activity_measures:eid_assistance"
    }
    assert eid_rows == {
        "level_1_activated": ("people", "287"),
        "level_2_collected": ("people", "7081"),
        "level_2_activated": ("people", "5845"),
    }


async def test_period_edges_mix_days_and_months(reporting):
    """A period that starts and ends mid-month counts exactly its days."""
    client = reporting
    for day in ("2023-01-14", "2023-01-15", "2023-02-28", "2023-03-10", "2023-03-11"):
        await incident(client, TIEU_KHU[0], day)
    for day in ("2022-01-15", "2022-03-11"):
        await incident(client, TIEU_KHU[1], day)
    total = (await statistics(client, HAI_HOA, "2023-01-15", "2023-03-10"))["incidents"]["total"]
    assert (total["count"], total["previous"], total["change_percent"]) == (3, 1, 200)
    one_day = await statistics(client, TIEU_KHU[0], "2023-02-28", "2023-02-28")
    assert one_day["incidents"]["total"]["count"] == 1
    whole_months = await statistics(client, HAI_HOA, "2023-01-01", "2023-03-31")
    assert whole_months["incidents"]["total"]["count"] == 5
    leap = await statistics(client, HAI_HOA, "2024-02-01", "2024-02-29")
    assert leap["compared_with"] == {"from": "2023-02-01", "to": "2023-02-28"}
    assert leap["incidents"]["total"]["previous"] == 1


async def test_statistics_refuse_bad_periods_and_hide_other_areas(reporting):
    client = reporting
    backwards = await client.get(
        "/statistics", params={"area_id": str(HAI_HOA), "from": "2023-08-31", "to": "2023-01-01"}
    )
    assert backwards.status_code == 422
    assert backwards.json()["detail"][0]["loc"] == ["query", "to"]
    missing = await client.get("/statistics", params={"area_id": str(HAI_HOA)})
    assert missing.status_code == 422
    officer = bearer(Role.OFFICER, "QN-VD")
    params = {"from": "2023-01-01", "to": "2023-08-31"}
    own = await client.get(
        "/statistics", params={**params, "area_id": str(KHOI_PHO)}, headers=officer
    )
    assert own.status_code == 200
    for area in (HAI_HOA, PROVINCE, uuid.uuid4()):
        hidden = await client.get(
            "/statistics", params={**params, "area_id": str(area)}, headers=officer
        )
        assert hidden.status_code == 404, area
        assert "not found" in hidden.json()["detail"][0]["msg"]
        csv_hidden = await client.get(
            "/statistics.csv", params={**params, "area_id": str(area)}, headers=officer
        )
        assert csv_hidden.status_code == 404


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [(5, 18, -72), (18, 5, 260), (9, 8, 13), (7, 8, -13), (1, 3, -67), (3, 3, 0), (4, 0, None)],
)
def test_percent_change_rounds_half_away_from_zero(current, previous, expected):
    assert percent_change(current, previous) == expected


def test_share_and_year_earlier():
    assert share_percent(4, 5) == Decimal("80.0")
    assert share_percent(2, 3) == Decimal("66.7")
    assert share_percent(0, 0) is None
    assert year_earlier(date(2024, 2, 29)) == date(2023, 2, 28)
    assert year_earlier(date(2023, 8, 31)) == date(2022, 8, 31)
