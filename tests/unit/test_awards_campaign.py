"""The campaign report, on the Quảng An festival of 2023 as the press reported it: "Công an
TP. Hà Nội đã khen thưởng 1 cá nhân, 1 tập thể; UBND quận Tây Hồ khen thưởng 5 cá nhân và
2 tập thể; UBND phường Quảng An cũng khen thưởng 5 cá nhân" (seed 003)."""

import csv
import io
import uuid

from services.awards.reports.models import AwardsReport, ReportRow
from services.awards.reports.rules import report_csv
from shared.auth import Role
from tests.support import bearer
from tests.unit.test_awards import (
    DISTRICT,
    GROUP,
    OFFICER,
    OTHER_WARD,
    PERSON_ID,
    TEAM_ID,
    WARD,
)
from tests.unit.test_awards import (
    awards as awards,
)

FESTIVAL = "festival-19-8-2023"


def festival_award(number: int, authority: str, kind: str, **recipient) -> dict:
    body = {
        "recipient_kind": kind,
        "award_form": "giay_khen",
        "authority": authority,
        "award_kind": "campaign",
        "campaign": FESTIVAL,
        "reason": "Thành tích xuất sắc trong phong trào toàn dân bảo vệ an ninh Tổ quốc năm "
        "2022 và 6 tháng đầu năm 2023",
        "decision_number": f"{number}/QĐ",
        "decided_on": "2023-08-18",
    }
    if "recipient_id" not in recipient:
        recipient.setdefault("area_id", str(WARD))
    return {**body, **recipient}


def named(authority: str, kind: str, count: int, start: int) -> list[dict]:
    # The press names no one: these recipients are not registry persons.
    return [
        festival_award(start + i, authority, kind, recipient_name=f"Cá nhân {start + i}")
        for i in range(count)
    ]


QUANG_AN_FESTIVAL = [
    # Công an TP. Hà Nội: 1 cá nhân, 1 tập thể (the team of tổ dân phố số 3)
    *named("city_police", "individual", 1, 100),
    festival_award(101, "city_police", "collective", recipient_id=str(TEAM_ID)),
    # UBND quận Tây Hồ (a district committee, before the district level ended): 5 + 2
    festival_award(200, "district_committee", "individual", recipient_id=str(PERSON_ID)),
    *named("district_committee", "individual", 4, 201),
    festival_award(205, "district_committee", "collective", recipient_id=str(GROUP)),
    festival_award(
        206,
        "district_committee",
        "collective",
        recipient_name="Chi hội Cựu chiến binh tổ dân phố số 3",
        area_id=str(GROUP),
    ),
    # UBND phường Quảng An: 5 cá nhân
    *named("ward_committee", "individual", 5, 300),
]


async def record(client, body, headers=OFFICER):
    response = await client.post("/awards", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_quang_an_festival_report_gives_the_press_figures(awards):
    client, _ = awards
    assert len(QUANG_AN_FESTIVAL) == 14
    for body in QUANG_AN_FESTIVAL:  # a ward officer records the awards of the ward
        await record(client, body)
    # What must not count: another ward, another campaign, a revoked award, an award
    # outside any campaign.
    await record(
        client,
        festival_award(
            400, "ward_committee", "individual", recipient_name="X", area_id=str(OTHER_WARD)
        ),
        headers=bearer(),
    )
    await record(
        client,
        {
            **named("ward_committee", "individual", 1, 500)[0],
            "campaign": "festival-19-8-2022",
            "decided_on": "2022-08-19",
        },
    )
    revoked = await record(client, named("city_police", "individual", 1, 600)[0])
    response = await client.post(f"/awards/{revoked['id']}/revoke", json={"reason": "Khai man"})
    assert response.status_code == 200
    regular = {**named("ward_committee", "individual", 1, 700)[0], "award_kind": "ad_hoc"}
    await record(client, {**regular, "campaign": None})

    params = {"area_id": str(WARD), "campaign": FESTIVAL}
    response = await client.get("/reports/awards", params=params, headers=OFFICER)
    assert response.status_code == 200, response.text
    report = response.json()
    assert [
        (r["authority"], r["authority_level"], r["individuals"], r["collectives"], r["total"])
        for r in report["rows"]
    ] == [
        ("city_police", "province", 1, 1, 2),
        ("district_committee", "district", 5, 2, 7),
        ("ward_committee", "ward", 5, 0, 5),
    ]
    assert (report["individuals"], report["collectives"], report["households"]) == (11, 3, 0)
    assert report["total"] == 14
    assert report["rows"][0]["authority_name"] == "Giám đốc Công an thành phố"

    # The CSV export says the same.
    response = await client.get("/reports/awards.csv", params=params, headers=OFFICER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "authority",
        "authority_name",
        "authority_level",
        "individuals",
        "collectives",
        "households",
        "total",
    ]
    assert [(r[0], r[2], r[3], r[4], r[6]) for r in rows[1:]] == [
        ("city_police", "province", "1", "1", "2"),
        ("district_committee", "district", "5", "2", "7"),
        ("ward_committee", "ward", "5", "0", "5"),
        ("total", "", "11", "3", "14"),
    ]

    # The district sees both of its wards; a period instead of a campaign takes every kind.
    district = await client.get("/reports/awards", params={**params, "area_id": str(DISTRICT)})
    assert district.json()["total"] == 15  # Quảng An's 14 and Nhật Tân's
    year = {"area_id": str(WARD), "granted_from": "2023-01-01", "granted_to": "2023-12-31"}
    assert (await client.get("/reports/awards", params=year)).json()["total"] == 15
    campaign_awards = (
        await client.get("/awards", params={"campaign": FESTIVAL, "limit": 200})
    ).json()
    assert len(campaign_awards) == 16  # Quảng An's 14, Nhật Tân's and the revoked one


async def test_report_covers_the_area_below_and_hides_other_areas(awards):
    client, _ = awards
    await record(
        client,
        festival_award(1, "ward_committee", "individual", recipient_name="A", area_id=str(GROUP)),
    )
    await record(
        client,
        festival_award(
            2, "ward_committee", "individual", recipient_name="B", area_id=str(OTHER_WARD)
        ),
        headers=bearer(),
    )
    ward = await client.get("/reports/awards", params={"area_id": str(WARD), "campaign": FESTIVAL})
    assert ward.json()["total"] == 1  # the award in tổ dân phố 3, below the ward
    officer_nt = bearer(Role.OFFICER, "HN-TH-NT")
    for path in ("/reports/awards", "/reports/awards.csv"):
        response = await client.get(path, params={"area_id": str(WARD)}, headers=officer_nt)
        assert response.status_code == 404
        response = await client.get(path, params={"area_id": str(uuid.uuid4())})
        assert response.status_code == 404
    response = await client.get(
        "/reports/awards",
        params={"area_id": str(WARD), "granted_from": "2023-12-31", "granted_to": "2023-01-01"},
    )
    assert response.status_code == 422


def test_csv_export_defuses_formulas():
    report = AwardsReport(
        area_id=uuid.uuid4(),
        campaign=None,
        granted_from=None,
        granted_to=None,
        rows=[
            ReportRow(
                authority="=cmd|' /C calc'!A0",
                authority_name="+SUM(A1:A9)",
                authority_level="@province",
                individuals=1,
                collectives=0,
                households=2,
                total=3,
            )
        ],
        individuals=1,
        collectives=0,
        households=2,
        total=3,
    )
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert rows[1][:3] == ["'=cmd|' /C calc'!A0", "'+SUM(A1:A9)", "'@province"]
    assert rows[1][3:] == ["1", "0", "2", "3"]
