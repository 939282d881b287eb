"""Teams, rosters, people and the team-list import, against the real registry app: each
form posts, its effect is read back through registry's API, and a refusal is shown next to
the field it names."""

import io
import re
from datetime import date
from typing import Any

import pytest
from openpyxl import Workbook

from services.console.teams.spreadsheet import SpreadsheetError, xlsx_to_csv
from tests.unit.console.conftest import ConsoleWorld


async def _csrf(world: ConsoleWorld, path: str) -> str:
    return await world.csrf(path)


async def _register(world: ConsoleWorld, **fields: str) -> Any:
    form = {
        "csrf_token": await _csrf(world, "/teams/new"),
        "area_id": world.group_id,
        "name": "Tổ ANTT tổ dân phố số 3",
        "kind": "security_order",
        "founded_on": "2024-07-01",
        "m0_full_name": "Nguyễn Chu Thực",
        "m0_role": "leader",
        "m0_birth_date": "1970-05-02",
        "m1_full_name": "Trần Văn Bình",
        "m1_role": "deputy",
        "m2_full_name": "Lê Thị Cúc",
        "m2_role": "member",
        **fields,
    }
    return await world.browser.post("/teams/new", data=form)


async def _registered(world: ConsoleWorld) -> str:
    response = await _register(world)
    assert response.status_code == 303, response.text
    found = re.match(r"/teams/([0-9a-f-]+)\?done=registered", response.headers["location"])
    assert found is not None
    return found.group(1)


async def test_a_team_is_registered_through_the_form_and_listed(world: ConsoleWorld) -> None:
    await world.log_in()
    form = await world.browser.get("/teams/new")
    assert form.status_code == 200
    for control in ("area_id", "name", "kind", "founded_on", "m0_full_name", "m5_role"):
        assert f'<label for="{control}">' in form.text
    assert "Tổ hòa giải" in form.text  # the kinds, from registry's catalogue
    team_id = await _registered(world)
    team = (await world.registry.get(f"/teams/{team_id}")).json()
    assert [m["role"] for m in team["members"]] == ["leader", "deputy", "member"]
    assert team["founded_on"] == "2024-07-01"
    page = await world.browser.get(f"/teams/{team_id}?done=registered")
    assert "Đã đăng ký tổ." in page.text and "Tổ trưởng" in page.text
    assert "01/07/2024" in page.text  # dd/mm/yyyy
    listing = await world.browser.get("/teams?kind=security_order")
    assert f'href="/teams/{team_id}"' in listing.text
    assert "Hiển thị 1–1 trên tổng số 1" in listing.text
    empty = await world.browser.get("/teams?kind=mediation")
    assert f'href="/teams/{team_id}"' not in empty.text


async def test_a_rule_is_shown_next_to_the_member_row_it_names(world: ConsoleWorld) -> None:
    await world.log_in()
    young = await _register(world, m1_birth_date="2015-01-01")
    assert young.status_code == 422
    assert re.search(r'id="m1_birth_date-error">Thành viên phải từ 18 đến 70 tuổi', young.text)
    assert 'value="Lê Thị Cúc"' in young.text  # what was typed is kept
    two_leaders = await _register(world, m1_role="leader")
    assert two_leaders.status_code == 422
    assert 'id="members-error">Mỗi tổ có đúng một tổ trưởng' in two_leaders.text
    missing = await _register(world, name="")
    assert 'id="name-error">Trường này là bắt buộc.' in missing.text
    assert (await world.registry.get("/teams")).json() == []


async def test_the_roster_changes_through_the_teams_page(world: ConsoleWorld) -> None:
    await world.log_in()
    team_id = await _registered(world)
    team = (await world.registry.get(f"/teams/{team_id}")).json()
    leader, deputy, member = (m["person_id"] for m in team["members"])
    token = await _csrf(world, f"/teams/{team_id}")

    added = await world.browser.post(
        f"/teams/{team_id}/members",
        data={"csrf_token": token, "add_full_name": "Phạm Văn Dũng", "add_role": "member"},
    )
    assert added.status_code == 303 and added.headers["location"].endswith("?done=added")
    names = [
        m["full_name"] for m in (await world.registry.get(f"/teams/{team_id}")).json()["members"]
    ]
    assert "Phạm Văn Dũng" in names

    no_reason = await world.browser.post(
        f"/teams/{team_id}/leave", data={"csrf_token": token, "leave_person_id": member}
    )
    assert no_reason.status_code == 422
    assert 'id="leave_reason-error">Trường này là bắt buộc.' in no_reason.text
    left = await world.browser.post(
        f"/teams/{team_id}/leave",
        data={"csrf_token": token, "leave_person_id": member, "leave_reason": "Chuyển nơi ở"},
    )
    assert left.status_code == 303
    history = (await world.registry.get(f"/teams/{team_id}/members")).json()
    assert any(m["person_id"] == member and m["left_reason"] == "Chuyển nơi ở" for m in history)

    # The deputy becomes leader and the leader deputy, in one change.
    swapped = await world.browser.post(
        f"/teams/{team_id}/roles",
        data={"csrf_token": token, f"role_{leader}": "deputy", f"role_{deputy}": "leader"},
    )
    assert swapped.status_code == 303, swapped.text
    roles = {
        m["person_id"]: m["role"]
        for m in (await world.registry.get(f"/teams/{team_id}")).json()["members"]
    }
    assert roles[deputy] == "leader" and roles[leader] == "deputy"
    no_leader = await world.browser.post(
        f"/teams/{team_id}/roles",
        data={"csrf_token": token, f"role_{deputy}": "member"},
    )
    assert no_leader.status_code == 422
    assert "Mỗi tổ có đúng một tổ trưởng" in no_leader.text

    dissolved = await world.browser.post(
        f"/teams/{team_id}/dissolve",
        data={"csrf_token": token, "dissolved_on": "2026-01-15", "dissolve_reason": "Sáp nhập"},
    )
    assert dissolved.status_code == 303
    team = (await world.registry.get(f"/teams/{team_id}")).json()
    assert team["status"] == "dissolved" and team["members"] == []
    page = await world.browser.get(f"/teams/{team_id}")
    assert "Đã giải thể" in page.text and "15/01/2026" in page.text
    assert f'action="/teams/{team_id}/members"' not in page.text  # no more changes offered


async def test_a_form_without_its_csrf_token_is_refused(world: ConsoleWorld) -> None:
    await world.log_in()
    team_id = await _registered(world)
    refused = await world.browser.post(
        f"/teams/{team_id}/dissolve", data={"dissolved_on": "2026-01-15", "dissolve_reason": "x"}
    )
    assert refused.status_code == 403
    assert (await world.registry.get(f"/teams/{team_id}")).json()["status"] == "active"


async def test_people_and_a_persons_memberships(world: ConsoleWorld) -> None:
    await world.log_in()
    team_id = await _registered(world)
    listing = await world.browser.get("/people?q=Chu")
    assert listing.status_code == 200 and "Nguyễn Chu Thực" in listing.text
    assert "Lê Thị Cúc" not in listing.text
    person_id = re.search(r'href="/people/([0-9a-f-]+)"', listing.text)
    assert person_id is not None
    profile = await world.browser.get(f"/people/{person_id.group(1)}")
    assert f'href="/teams/{team_id}"' in profile.text and "02/05/1970" in profile.text
    assert "còn đang tham gia" in profile.text


async def test_a_team_of_another_ward_is_not_found(world: ConsoleWorld) -> None:
    other = await world.registry.post(
        "/areas", json={"code": "HN-QA", "name": "Phường Quảng An", "level": "ward"}
    )
    team = await world.registry.post(
        "/teams",
        json={
            "area_id": other.json()["id"],
            "name": "Tổ hòa giải Quảng An",
            "kind": "mediation",
            "members": [{"full_name": "Đỗ Văn Em", "role": "leader"}],
        },
    )
    assert team.status_code == 201, team.text
    await world.log_in()
    page = await world.browser.get(f"/teams/{team.json()['id']}")
    assert page.status_code == 404 and "Không tìm thấy trang" in page.text
    assert "Quảng An" not in (await world.browser.get("/teams")).text


CSV_HEADER = "team_ref,area_code,team_name,kind,member_name,role,birth_date\n"


async def _upload(
    world: ConsoleWorld, name: str, data: bytes, content_type: str, skip: bool = False
) -> Any:
    token = await _csrf(world, "/imports/teams")
    fields = {"csrf_token": token, **({"skip_invalid": "1"} if skip else {})}
    return await world.browser.post(
        "/imports/teams", data=fields, files={"file": (name, data, content_type)}
    )


async def test_a_csv_team_list_is_imported_or_its_rows_reported(world: ConsoleWorld) -> None:
    await world.log_in()
    form = await world.browser.get("/imports/teams")
    assert form.status_code == 200 and '<label for="file">' in form.text
    bad = (
        CSV_HEADER + "t1,QN-HH-03,Tổ hòa giải số 3,mediation,Võ Thị Giang,leader,\n"
        "t2,NO-SUCH,Tổ tự quản,self_management,Hồ Văn Hải,leader,\n"
        "t3,QN-HH-03,,mediation,Lý Văn Khoa,leader,\n"
    ).encode()
    refused = await _upload(world, "to.csv", bad, "text/csv")
    assert refused.status_code == 422, refused.text
    table = refused.text[refused.text.index('id="import-errors"') :]
    assert re.search(r'<td class="number">3</td><td><code>area_code</code></td>', table)
    assert re.search(r'<td class="number">4</td><td><code>team_name</code></td>', table)
    assert "Không có khu vực nào mang mã này" in table
    assert (await world.registry.get("/teams")).json() == []  # all or nothing

    skipped = await _upload(world, "to.csv", bad, "text/csv", skip=True)
    assert skipped.status_code == 200
    assert "Đã nhập 1 tổ và 1 lượt thành viên từ 3 dòng." in skipped.text
    assert [t["name"] for t in (await world.registry.get("/teams")).json()] == ["Tổ hòa giải số 3"]


def _xlsx(rows: list[list[str | date]]) -> bytes:
    """A workbook as a spreadsheet program saves it: strings, and dates typed as dates."""
    workbook = Workbook()
    sheet = workbook.active
    for number, values in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            sheet.cell(row=number, column=column, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def test_an_xlsx_team_list_is_imported_as_its_first_sheet(world: ConsoleWorld) -> None:
    workbook = _xlsx(
        [
            ["team_ref", "area_code", "team_name", "kind", "member_name", "role", "birth_date"],
            ["t1", "QN-HH-03", "Tổ tự quản số 3", "self_management", "Võ Thị Giang", "leader",
             date(1975, 1, 1)],
            [],
            ["t1", "QN-HH-03", "", "", "Hồ Văn Hải", "member", date(1980, 1, 1)],
        ]
    )  # fmt: skip
    lines = xlsx_to_csv(workbook).decode().splitlines()
    assert lines[1].endswith("Võ Thị Giang,leader,1975-01-01")  # a date cell as ISO
    assert lines[2] == ",,,,,,"  # an empty row stays, so row numbers match the sheet's
    with pytest.raises(SpreadsheetError):
        xlsx_to_csv(b"PK\x03\x04 not really")
    await world.log_in()
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    imported = await _upload(world, "to.xlsx", workbook, kind)
    assert imported.status_code == 200, imported.text
    assert "Đã nhập 1 tổ và 2 lượt thành viên từ 2 dòng." in imported.text  # blank skipped
