"""The award pages against the real registry, reporting and awards apps in-process:
nominating the ward's team and approving it into an award, rejecting, revoking, the
suggestions awards makes from resolved incidents, the campaign report with its CSV, and
the safe-area certification per criterion; refusals next to their field."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from shared.events import IncidentReported, IncidentSource, IncidentStatus, IncidentStatusChanged
from tests.support import eventually, publish_event, vietnam_today
from tests.unit.console.conftest import AwardsWorld


def _hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(csrf_token|submission)" value="([^"]*)"', page))


def _id(location: str, kind: str) -> str:
    match = re.search(rf"/{kind}/([0-9a-f-]{{36}})", location)
    assert match is not None, location
    return match.group(1)


async def _nominate(awards_world: AwardsWorld, **fields: str) -> httpx.Response:
    world = awards_world.world
    form = await world.browser.get("/nominations/new")
    assert form.status_code == 200, form.text
    return await world.browser.post(
        "/nominations/new",
        data={
            **_hidden(form.text),
            "recipient": f"team:{awards_world.team_id}",
            "award_form": "giay_khen",
            "authority": "ward_committee",
            "award_kind": "regular",
            "reason": "Thành tích xuất sắc năm 2026",
            "achievement_text": "Bắt quả tang vụ trộm xe máy",
            **fields,
        },
    )


async def test_nominate_the_team_approve_and_revoke(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    form = await world.browser.get("/nominations/new")
    assert awards_world.team_name in form.text and "Giấy khen" in form.text
    assert "Chủ tịch UBND phường" in form.text
    for control in ("recipient", "award_form", "authority", "reason", "achievement_text"):
        assert f'<label for="{control}">' in form.text

    sent = await _nominate(awards_world)
    assert sent.status_code == 303, sent.text
    nomination_id = _id(sent.headers["location"], "nominations")
    stored = (await awards_world.awards.get(f"/nominations/{nomination_id}")).json()
    assert stored["recipient_id"] == awards_world.team_id and stored["status"] == "nominated"

    page = await world.browser.get(sent.headers["location"])
    assert "Đã lưu đề nghị khen thưởng." in page.text and "Chờ quyết định" in page.text
    token = _hidden(page.text)["csrf_token"]
    missing = await world.browser.post(
        f"/nominations/{nomination_id}/approve",
        data={"csrf_token": token, "decision_number": "", "decided_on": "2026-08-19"},
    )
    assert missing.status_code == 422 and 'id="decision_number-error"' in missing.text
    approved = await world.browser.post(
        f"/nominations/{nomination_id}/approve",
        data={"csrf_token": token, "decision_number": "19/QĐ-UBND", "decided_on": "2026-08-19"},
    )
    assert approved.status_code == 303, approved.text
    award_id = _id(approved.headers["location"], "awards")
    award = await world.browser.get(approved.headers["location"])
    assert "Đã phê duyệt đề nghị" in award.text and "19/QĐ-UBND, 19/08/2026" in award.text
    assert 'id="award-status">Còn hiệu lực<' in award.text
    listed = await world.browser.get("/awards")
    assert awards_world.team_name in listed.text and "Hiển thị 1–1 trên tổng số 1" in listed.text

    # The same achievement again for the same team: awards refuses, the form says why.
    again = await _nominate(awards_world)
    assert again.status_code == 409
    assert "đã được khen thưởng cho chính đối tượng này" in again.text

    refused = await world.browser.post(
        f"/awards/{award_id}/revoke", data={"csrf_token": token, "reason": ""}
    )
    assert refused.status_code == 422 and 'id="reason-error"' in refused.text
    revoked = await world.browser.post(
        f"/awards/{award_id}/revoke",
        data={"csrf_token": token, "reason": "Gian dối thành tích", "revoked_on": ""},
    )
    assert revoked.status_code == 303
    assert (await awards_world.awards.get(f"/awards/{award_id}")).json()["status"] == "revoked"
    shown = await world.browser.get(f"/awards/{award_id}")
    assert "Đã thu hồi" in shown.text and 'action="/awards/' not in shown.text


async def test_reject_and_validation(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    nobody = await _nominate(awards_world, recipient="", reason="")
    assert nobody.status_code == 422
    assert 'id="recipient-error"' in nobody.text
    assert 'id="reason-error"' in nobody.text
    # A form the ward's chairman may not give: awards names the authority.
    wrong = await _nominate(awards_world, award_form="bang_khen")
    assert wrong.status_code == 422, wrong.text
    assert re.search(r'id="(authority|award_form)-error"', wrong.text)

    sent = await _nominate(awards_world, achievement_text="Tuần tra đêm")
    nomination_id = _id(sent.headers["location"], "nominations")
    token = await world.csrf(f"/nominations/{nomination_id}")
    empty = await world.browser.post(
        f"/nominations/{nomination_id}/reject", data={"csrf_token": token}
    )
    assert empty.status_code == 422 and 'id="reject_reason-error"' in empty.text
    rejected = await world.browser.post(
        f"/nominations/{nomination_id}/reject",
        data={"csrf_token": token, "reject_reason": "Chưa đủ thành tích"},
    )
    assert rejected.status_code == 303
    page = await world.browser.get(rejected.headers["location"])
    assert "Không được phê duyệt" in page.text and "Chưa đủ thành tích" in page.text
    listed = await world.browser.get("/nominations?status=rejected")
    assert nomination_id in listed.text
    missing = await world.browser.get(f"/nominations/{uuid.uuid4()}")
    assert missing.status_code == 404 and "Không tìm thấy trang" in missing.text


async def _resolved_twice(awards_world: AwardsWorld) -> None:
    """Two incidents resolved with the team's help, as reporting would publish them: 20
    points, the first threshold."""
    broker = awards_world.awards_runtime.broker
    for _ in range(2):
        incident_id = uuid.uuid4()
        common = {
            "incident_id": incident_id,
            "area_id": uuid.UUID(awards_world.world.group_id),
            "category": "theft",
            "credited_team_ids": [uuid.UUID(awards_world.team_id)],
        }
        await publish_event(
            broker,
            IncidentReported(
                **common,
                source=IncidentSource.PATROL,
                status=IncidentStatus.REPORTED,
                occurred_at=datetime.now(UTC) - timedelta(hours=3),
                reported_at=datetime.now(UTC) - timedelta(hours=2),
                aggregate_version=1,
            ),
        )
        await publish_event(
            broker,
            IncidentStatusChanged(
                **common,
                from_status=IncidentStatus.VERIFIED,
                to_status=IncidentStatus.RESOLVED,
                changed_at=datetime.now(UTC),
                aggregate_version=3,
            ),
        )


async def test_suggestions_accept_and_dismiss(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    await _resolved_twice(awards_world)
    await eventually(lambda: _suggested(awards_world))
    page = await world.browser.get("/suggestions")
    assert page.status_code == 200 and awards_world.team_name in page.text
    suggestion_id = re.search(r'action="/suggestions/([0-9a-f-]{36})/dismiss"', page.text)
    assert suggestion_id is not None
    token = _hidden(page.text)["csrf_token"]
    empty = await world.browser.post(
        f"/suggestions/{suggestion_id.group(1)}/dismiss", data={"csrf_token": token}
    )
    assert empty.status_code == 422
    assert f'id="reason-{suggestion_id.group(1)}-error"' in empty.text
    accepted = await world.browser.post(
        f"/suggestions/{suggestion_id.group(1)}/accept", data={"csrf_token": token}
    )
    assert accepted.status_code == 303, accepted.text
    nomination = await world.browser.get(accepted.headers["location"])
    assert "Đã chấp nhận gợi ý" in nomination.text and "từ gợi ý" in nomination.text
    done = await world.browser.get("/suggestions?status=accepted")
    assert "Xem đề nghị" in done.text


async def _suggested(awards_world: AwardsWorld) -> bool:
    return bool((await awards_world.awards.get("/suggestions")).json())


async def test_campaign_report_and_its_csv(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    year = vietnam_today().year
    sent = await _nominate(awards_world, award_kind="campaign", campaign=f"festival-19-8-{year}")
    nomination_id = _id(sent.headers["location"], "nominations")
    token = await world.csrf(f"/nominations/{nomination_id}")
    approved = await world.browser.post(
        f"/nominations/{nomination_id}/approve",
        data={
            "csrf_token": token,
            "decision_number": "21/QĐ-UBND",
            "decided_on": vietnam_today().isoformat(),
        },
    )
    assert approved.status_code == 303, approved.text
    form = await world.browser.get("/campaigns/report")
    assert form.status_code == 200 and "Phường Hải Hòa" in form.text
    query = f"area_id={world.ward_id}&campaign=festival-19-8-{year}&shown=1"
    report = await world.browser.get(f"/campaigns/report?{query}")
    assert report.status_code == 200, report.text
    assert "Chủ tịch UBND phường" in report.text and 'id="report-total">1<' in report.text
    csv = await world.browser.get(f"/campaigns/report.csv?{query}")
    assert csv.status_code == 200 and "ward_committee" in csv.text
    unchosen = await world.browser.get("/campaigns/report?shown=1")
    assert unchosen.status_code == 422 and 'id="area_id-error"' in unchosen.text


async def test_certification_per_criterion(awards_world: AwardsWorld) -> None:
    world = awards_world.world
    await world.log_in()
    year = vietnam_today().year
    page = await world.browser.get("/certifications")
    assert page.status_code == 200 and "Chưa có khu vực nào đăng ký" in page.text
    token = _hidden(page.text)["csrf_token"]
    empty = await world.browser.post(
        "/certifications/new", data={"csrf_token": token, "area_id": "", "year": str(year)}
    )
    assert empty.status_code == 422 and 'id="area_id-error"' in empty.text
    registered = await world.browser.post(
        "/certifications/new",
        data={"csrf_token": token, "area_id": world.ward_id, "year": str(year)},
    )
    assert registered.status_code == 303, registered.text
    twice = await world.browser.post(
        "/certifications/new",
        data={"csrf_token": token, "area_id": world.ward_id, "year": str(year)},
    )
    assert twice.status_code == 409 and "đã đăng ký cho năm đó" in twice.text
    listed = await world.browser.get(registered.headers["location"])
    assert "chưa đánh giá" in listed.text
    cert_id = re.search(r'action="/certifications/([0-9a-f-]{36})/evaluate"', listed.text)
    assert cert_id is not None
    evaluated = await world.browser.post(
        f"/certifications/{cert_id.group(1)}/evaluate",
        data={"csrf_token": token, "year": str(year)},
    )
    assert evaluated.status_code == 303, evaluated.text
    shown = await world.browser.get(evaluated.headers["location"])
    assert "Có ít nhất một tổ bảo vệ ANTT đang hoạt động" in shown.text
    assert "Không có vụ việc nghiêm trọng" in shown.text and "Đạt" in shown.text
    again = await world.browser.post(
        f"/certifications/{cert_id.group(1)}/evaluate",
        data={"csrf_token": token, "year": str(year)},
    )
    assert again.status_code in (409, 422)
    assert f'id="reason-{cert_id.group(1)}-error"' in again.text
