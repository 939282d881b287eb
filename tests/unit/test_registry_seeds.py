"""The registry figures of the five seed articles, loaded as wards would load them (the
CSV import for teams and members, the API for cameras and initiatives), and the area
summaries returning exactly the published numbers."""

import pytest

from services.registry.app import Settings, create_app
from tests.registry_support import RegistryClient, csv_bytes, team_rows
from tests.support import running_app, unit_settings

CSV = {"Content-Type": "text/csv"}


def spread(teams: int, members: int) -> list[int]:
    """Team sizes that add up to ``members``, as even as they can be."""
    base, extra = divmod(members, teams)
    return [base + 1] * extra + [base] * (teams - extra)


def rows_for(prefix: str, groups: list[str], kind: str, sizes: list[int]) -> list[dict]:
    rows = []
    for index, size in enumerate(sizes):
        rows += team_rows(f"{prefix}{index + 1}", groups[index % len(groups)], kind, size)
    return rows


@pytest.fixture
async def registry(database_url):
    async with running_app(create_app(unit_settings(Settings, database_url))) as (client, runtime):
        yield RegistryClient(client), runtime


async def ward_with_groups(api, province: dict, code: str, groups: int) -> tuple[dict, list[str]]:
    ward = await api.area(code, "ward", province)
    codes = []
    for number in range(1, groups + 1):
        group = await api.area(f"{code}-TDP{number}", "residential_group", ward)
        codes.append(group["code"])
    return ward, codes


async def import_rows(api, rows: list[dict]) -> None:
    report = await api.ok("POST", "/imports/teams", content=csv_bytes(rows), headers=CSV)
    assert report["errors"] == [], report["errors"][:5]


async def test_seed_figures_come_back_exactly_from_the_area_summaries(registry):
    api, _ = registry
    # 000 Hải An (Hải Phòng): 55 tổ an ninh trật tự với 180 thành viên.
    hai_phong = await api.area("HP", "province")
    hai_an, groups = await ward_with_groups(api, hai_phong, "HP-HAIAN", 11)
    await import_rows(api, rows_for("HA", groups, "security_order", spread(55, 180)))
    for name in ("Camera an ninh", "Cổng trường an toàn", "Hải An 5 an"):
        await api.ok(
            "POST",
            "/initiatives",
            201,
            json={"area_id": hai_an["id"], "name": name, "launched_on": "2020-01-01"},
        )

    # 001 Hải Hòa (Thanh Hóa): 14 tổ bảo vệ dân phố với 27 thành viên, 128 tổ an ninh xã hội
    # với 3.437 thành viên, 14 tổ hướng dẫn (định danh điện tử) với 235 thành viên, 125 mắt
    # camera cộng đồng.
    thanh_hoa = await api.area("TH", "province")
    hai_hoa, groups = await ward_with_groups(api, thanh_hoa, "TH-HAIHOA", 14)
    await import_rows(
        api,
        rows_for("BV", groups, "civil_defence", spread(14, 27))
        + rows_for("XH", groups, "social_security", spread(128, 3437))
        + rows_for("DD", groups, "eid_guidance", spread(14, 235)),
    )
    for number in range(125):
        await api.ok(
            "POST",
            "/cameras",
            201,
            json={
                "area_id": (await api.ok("GET", "/areas", params={"q": groups[number % 14]}))[0][
                    "id"
                ]
                if number < 14
                else hai_hoa["id"],
                "location": f"Tuyến đường {number + 1}",
                "funding": "socialised",
                "installed_on": "2023-06-01",
            },
        )

    # 002 TP Hà Tĩnh: 1200 tổ liên gia an toàn across its 16 wards and communes.
    ha_tinh = await api.area("HT", "province")
    wards = [await api.area(f"HT-{n:02d}", "ward", ha_tinh) for n in range(1, 17)]
    await import_rows(
        api,
        [
            row
            for index in range(1200)
            for row in team_rows(f"LG{index}", wards[index % 16]["code"], "neighbourhood_watch", 0)
        ],
    )

    # 004 Vĩnh Điện (Quảng Nam): 21 Tổ bảo vệ dân phố, 5 Tổ hòa giải.
    quang_nam = await api.area("QNa", "province")
    vinh_dien, groups = await ward_with_groups(api, quang_nam, "QNa-VD", 7)
    await import_rows(
        api,
        rows_for("VB", groups, "civil_defence", [2] * 21)
        + rows_for("VH", groups, "mediation", [3] * 5),
    )

    assert await api.kinds(hai_an) == {"security_order": (55, 180)}
    assert (await api.summary(hai_an))["initiatives"] == 3
    assert await api.kinds(hai_hoa) == {
        "civil_defence": (14, 27),
        "social_security": (128, 3437),
        "eid_guidance": (14, 235),
    }
    assert (await api.summary(hai_hoa))["cameras"] == 125
    assert (await api.summary(ha_tinh))["teams"] == 1200
    assert await api.kinds(ha_tinh) == {"neighbourhood_watch": (1200, 0)}
    vd = await api.kinds(vinh_dien)
    assert (vd["civil_defence"][0], vd["mediation"][0]) == (21, 5)
    # Province totals include everything below them.
    assert (await api.summary(thanh_hoa))["members"] == 27 + 3437 + 235
